CREATE TABLE "outreach_outcomes" (
	"outreach_id" bigint PRIMARY KEY NOT NULL,
	"cycle_id" text NOT NULL,
	"campaign" text NOT NULL,
	"user_id" text NOT NULL,
	"tier" text NOT NULL,
	"channel" text NOT NULL,
	"holdout" boolean NOT NULL,
	"policy" text,
	"origin" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"window_days" integer NOT NULL,
	"converted" boolean NOT NULL,
	"conversions" integer NOT NULL,
	"revenue_minor" bigint NOT NULL,
	"coupon_redeemed" boolean NOT NULL,
	"discount_minor" bigint NOT NULL,
	"clicked" boolean NOT NULL,
	"unsubscribed" boolean NOT NULL,
	"settled_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sim_truth" (
	"outreach_id" bigint PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"channel" text NOT NULL,
	"holdout" boolean NOT NULL,
	"p_none" double precision NOT NULL,
	"p_coupon" double precision NOT NULL,
	"p_email" double precision NOT NULL,
	"revenue_none" double precision NOT NULL,
	"revenue_coupon" double precision NOT NULL,
	"revenue_email" double precision NOT NULL,
	"discount_coupon" double precision NOT NULL
);
--> statement-breakpoint
ALTER TABLE "cycles" ADD COLUMN "policy" text;--> statement-breakpoint
ALTER TABLE "cycles" ADD COLUMN "policy_fallback" text;--> statement-breakpoint
ALTER TABLE "cycles" ADD COLUMN "uplift_run_id" bigint;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "url" text;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "origin" text DEFAULT 'rekindle' NOT NULL;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "policy" text;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "reason" jsonb;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "features" jsonb;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "coupon_code" text;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "discount_minor" bigint;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "currency" text;--> statement-breakpoint
ALTER TABLE "outreach" ADD COLUMN "settled_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "outreach_outcomes_window_start_index" ON "outreach_outcomes" USING btree ("window_start");--> statement-breakpoint
CREATE INDEX "outreach_outcomes_cycle_id_index" ON "outreach_outcomes" USING btree ("cycle_id");--> statement-breakpoint
CREATE INDEX "outreach_outcomes_user_id_index" ON "outreach_outcomes" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "outreach_unsettled_idx" ON "outreach" USING btree ("scheduled_at") WHERE "outreach"."settled_at" is null;