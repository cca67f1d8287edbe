CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"allowed" boolean DEFAULT true NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "coupons" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"user_id" text NOT NULL,
	"outreach_id" bigint,
	"kind" text NOT NULL,
	"value" integer NOT NULL,
	"currency" text,
	"expires_at" timestamp with time zone NOT NULL,
	"redeemed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "coupons_code_unique" UNIQUE("code")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"source" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"user_id" text NOT NULL,
	"item_id" text,
	"occurred_at" timestamp with time zone NOT NULL,
	"amount_minor" bigint,
	"currency" text,
	"quantity" integer,
	"lesson_id" text,
	"percent" real,
	"coupon_code" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_source_event_id_pk" PRIMARY KEY("source","event_id")
);
--> statement-breakpoint
CREATE TABLE "items" (
	"id" text PRIMARY KEY NOT NULL,
	"title" text,
	"item_type" text,
	"category" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"description" text,
	"price_minor" bigint,
	"currency" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "model_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"cutoff" timestamp with time zone,
	"horizon_days" integer,
	"fallback" text,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metrics" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"row_count" integer,
	"positives" integer,
	"base_rate" double precision,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outreach" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"cycle_id" text NOT NULL,
	"user_id" text NOT NULL,
	"tier" text NOT NULL,
	"channel" text NOT NULL,
	"holdout" boolean DEFAULT false NOT NULL,
	"state" text DEFAULT 'planned' NOT NULL,
	"scheduled_at" timestamp with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"message_id" text,
	"coupon_id" bigint,
	"last_error" text,
	"model_run_id" bigint,
	"churn_probability" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sending_at" timestamp with time zone,
	"sent_at" timestamp with time zone,
	CONSTRAINT "outreach_state_check" CHECK ("outreach"."state" in ('planned','sending','sent','failed','skipped'))
);
--> statement-breakpoint
CREATE TABLE "recommendations" (
	"user_id" text NOT NULL,
	"rank" smallint NOT NULL,
	"item_id" text NOT NULL,
	"score" double precision NOT NULL,
	"reason" jsonb NOT NULL,
	"model_run_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recommendations_user_id_rank_pk" PRIMARY KEY("user_id","rank")
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text
);
--> statement-breakpoint
CREATE TABLE "user_scores" (
	"user_id" text PRIMARY KEY NOT NULL,
	"model_run_id" bigint NOT NULL,
	"scored_at" timestamp with time zone NOT NULL,
	"churn_probability" double precision NOT NULL,
	"risk_tier" text NOT NULL,
	"p_alive" double precision,
	"expected_purchases" double precision,
	"expected_value_minor" double precision,
	"rfm_r" smallint,
	"rfm_f" smallint,
	"rfm_m" smallint,
	"segment" text,
	"persona" integer,
	"explanation" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"features" jsonb
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"email" text,
	"name" text,
	"locale" text,
	"timezone" text,
	"signup_at" timestamp with time zone,
	"unsubscribed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"endpoint_id" bigint NOT NULL,
	"message_id" text NOT NULL,
	"event_type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status" integer,
	"last_error" text,
	"last_duration_ms" integer,
	"next_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"event_types" text[] DEFAULT '{}'::text[] NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "audit_log_at_index" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "coupons_user_id_index" ON "coupons" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "coupons_outreach_id_index" ON "coupons" USING btree ("outreach_id");--> statement-breakpoint
CREATE INDEX "events_user_id_occurred_at_index" ON "events" USING btree ("user_id","occurred_at");--> statement-breakpoint
CREATE INDEX "events_type_occurred_at_index" ON "events" USING btree ("type","occurred_at");--> statement-breakpoint
CREATE INDEX "events_item_id_index" ON "events" USING btree ("item_id");--> statement-breakpoint
CREATE INDEX "events_coupon_code_index" ON "events" USING btree ("coupon_code") WHERE "events"."coupon_code" is not null;--> statement-breakpoint
CREATE INDEX "model_runs_kind_started_at_index" ON "model_runs" USING btree ("kind","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "outreach_user_id_cycle_id_index" ON "outreach" USING btree ("user_id","cycle_id");--> statement-breakpoint
CREATE INDEX "outreach_state_scheduled_at_index" ON "outreach" USING btree ("state","scheduled_at");--> statement-breakpoint
CREATE INDEX "outreach_cycle_id_index" ON "outreach" USING btree ("cycle_id");--> statement-breakpoint
CREATE INDEX "user_scores_risk_tier_index" ON "user_scores" USING btree ("risk_tier");--> statement-breakpoint
CREATE INDEX "user_scores_segment_risk_tier_index" ON "user_scores" USING btree ("segment","risk_tier");--> statement-breakpoint
CREATE INDEX "user_scores_persona_index" ON "user_scores" USING btree ("persona");--> statement-breakpoint
CREATE INDEX "user_scores_value_at_risk_idx" ON "user_scores" USING btree (("expected_value_minor" * "churn_probability") desc nulls last);--> statement-breakpoint
CREATE INDEX "users_email_index" ON "users" USING btree ("email");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_endpoint_id_message_id_index" ON "webhook_deliveries" USING btree ("endpoint_id","message_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_state_next_attempt_at_index" ON "webhook_deliveries" USING btree ("state","next_attempt_at");