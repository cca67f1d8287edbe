DROP INDEX "user_scores_segment_risk_tier_index";--> statement-breakpoint
CREATE INDEX "user_scores_segment_tier_value_at_risk_idx" ON "user_scores" USING btree ("segment","risk_tier",("expected_value_minor" * "churn_probability") desc nulls last,"churn_probability","expected_value_minor");--> statement-breakpoint
CREATE INDEX "users_lower_email_idx" ON "users" USING btree (lower("email"));