/**
 * The tail every inbound adapter shares (Stripe, Segment): validate the events a mapping
 * produced with our one event schema, ingest them, answer. A value the schema or the database
 * refuses is the payload's fault (400, never a retryable 503); only a storage failure is a 503.
 */
import type { Response } from 'express';
import { parseEvent, type FieldIssue, type InboundEvent } from '../domain/events.js';
import type { Logger } from '../logger.js';
import type { Ingestor } from '../services/ingest.js';
import { dataExceptionCode, sendError } from './errors.js';

export interface MappedIngestOptions {
  ingestor: Ingestor;
  source: string;
  log: Logger;
  onRejected?: ((reason: string) => void) | undefined;
  onIngested?: ((inserted: number, duplicates: number) => void) | undefined;
}

/** Validates mapped events, naming `label` (e.g. `evt_123`, `batch[2]`) with the field on a failure. */
export function validateMapped(mapped: readonly { label: string; event: Record<string, unknown> }[]): { ok: true; events: InboundEvent[] } | { ok: false; issues: FieldIssue[] } {
  const events: InboundEvent[] = [];
  const issues: FieldIssue[] = [];
  for (const m of mapped) {
    const r = parseEvent(m.event, m.label);
    if (r.ok) events.push(r.event);
    else issues.push(...r.issues);
  }
  return issues.length ? { ok: false, issues: issues.slice(0, 50) } : { ok: true, events };
}

/** Ingests validated events and answers 200 with the counts (plus `extra`), 400 or 503. */
export async function ingestAndAnswer(res: Response, o: MappedIngestOptions, events: readonly InboundEvent[], extra: Record<string, unknown> = {}): Promise<void> {
  if (events.length === 0) {
    res.status(200).json({ received: 0, inserted: 0, duplicates: 0, ...extra });
    return;
  }
  try {
    const result = await o.ingestor.ingest(events, o.source);
    o.onIngested?.(result.inserted, result.duplicates);
    res.status(200).json({ ...result, ...extra });
  } catch (err) {
    answerIngestError(res, o, err, events.length);
  }
}

/** An ingest failure: a value the database refuses is a 400 (the same on every retry), anything else a 503 to retry. */
export function answerIngestError(res: Response, o: MappedIngestOptions, err: unknown, events: number): void {
  const sqlState = dataExceptionCode(err);
  if (sqlState) {
    o.log.warn({ sqlState, err: (err as Error).message, events }, 'the database refused a value in a delivery');
    o.onRejected?.('schema');
    sendError(res, 400, 'invalid_event', `the database refused a value in these events (SQLSTATE ${sqlState}: ${(err as Error).message}); retrying will not help`);
    return;
  }
  o.log.error({ err, events }, 'ingest failed');
  o.onRejected?.('storage');
  sendError(res, 503, 'storage_unavailable', 'the events could not be stored; retry the delivery');
}

/** A 400 naming the first issue, with all of them listed. */
export function refuseInvalid(res: Response, o: MappedIngestOptions, issues: readonly FieldIssue[]): void {
  o.onRejected?.('schema');
  const first = issues[0]!;
  sendError(res, 400, 'invalid_event', `${first.field}: ${first.message}`, { issues });
}
