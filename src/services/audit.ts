/**
 * The audit trail: who tried what, on what, and whether it was allowed. Written for every
 * admin action (allowed or refused), every refusal by the access rules, and every digest post
 * and click. Details never carry message text (it may hold personal data): only ids, kinds
 * and outcomes.
 */
import type { Queryable } from '../db/client.js';

export interface AuditEntry {
  /** Who acted, e.g. `slack:T123/U456` or `cli`. */
  actor: string;
  /** Dotted verb, e.g. `admin.rescore`, `access.denied`, `digest.claim`. */
  action: string;
  /** What it was done to: a user id, `run:42`, an intent… */
  target?: string | null;
  allowed: boolean;
  details?: Record<string, unknown>;
}

export interface AuditRow extends Required<Omit<AuditEntry, 'details'>> {
  id: number;
  at: Date;
  details: Record<string, unknown>;
}

/** Appends one entry and returns its id. */
export async function audit(q: Queryable, e: AuditEntry): Promise<number> {
  const [r] = await q.query<{ id: number }>(
    `insert into audit_log (actor, action, target, allowed, details) values ($1, $2, $3, $4, $5::jsonb) returning id`,
    // The object itself: both drivers serialise a jsonb parameter (STACK-NOTES).
    [e.actor, e.action, e.target ?? null, e.allowed, e.details ?? {}],
  );
  return Number(r!.id);
}

/** Entries with one of `actions` on one of `targets`, oldest first. */
export async function auditEntries(q: Queryable, f: { actions: readonly string[]; targets?: readonly string[] }): Promise<AuditRow[]> {
  const rows = await q.query<Record<string, unknown>>(
    `select id, at, actor, action, target, allowed, details from audit_log
     where action = any($1::text[])${f.targets ? ' and target = any($2::text[])' : ''} order by id`,
    f.targets ? [f.actions, f.targets] : [f.actions],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at instanceof Date ? r.at : new Date(r.at as string),
    actor: String(r.actor),
    action: String(r.action),
    target: (r.target as string | null) ?? null,
    allowed: Boolean(r.allowed),
    details: (typeof r.details === 'string' ? JSON.parse(r.details) : r.details) as Record<string, unknown>,
  }));
}
