CREATE TABLE "digest_baseline_users" (
	"user_id" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE "score_aggregates" (
	"model_run_id" bigint PRIMARY KEY NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"users" integer NOT NULL,
	"active_30d" integer NOT NULL,
	"cells" jsonb NOT NULL,
	"histograms" jsonb NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "events_conversions_idx" ON "events" USING btree ("occurred_at","user_id","amount_minor") WHERE "events"."type" in ('purchase', 'renewal');--> statement-breakpoint
CREATE INDEX "outreach_created_at_index" ON "outreach" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "user_scores_high_tier_user_idx" ON "user_scores" USING btree ("user_id","model_run_id","expected_value_minor","churn_probability") WHERE "user_scores"."risk_tier" = 'high';--> statement-breakpoint
-- The digest baseline used to be a jsonb array of user ids in settings: move the ids into the table and keep only the run id and the count there.
INSERT INTO "digest_baseline_users" ("user_id") SELECT DISTINCT jsonb_array_elements_text("value"->'users') FROM "settings" WHERE "key" = 'digest.high_risk_snapshot' AND jsonb_typeof("value"->'users') = 'array' ON CONFLICT DO NOTHING;--> statement-breakpoint
UPDATE "settings" SET "value" = jsonb_build_object('runId', "value"->'runId', 'users', (SELECT count(*) FROM "digest_baseline_users")) WHERE "key" = 'digest.high_risk_snapshot' AND jsonb_typeof("value"->'users') = 'array';
