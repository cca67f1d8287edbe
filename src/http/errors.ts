/** The one place HTTP maps errors to statuses and JSON bodies. A client's mistake is never a 500. */
import type { ErrorRequestHandler, Response } from 'express';
import { AppError, type ErrorCode } from '../domain/errors.js';
import type { Logger } from '../logger.js';

const STATUS: Record<ErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  not_ready: 503,
  config: 500,
  external: 502,
};

export function sendError(res: Response, status: number, code: string, message: string, extra?: Record<string, unknown>): void {
  res.status(status).json({ error: { code, message, ...extra } });
}

/** body-parser's error types → our status and a message a client can act on. */
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.too.large': [413, 'payload_too_large', 'the request body is larger than the limit'],
  'encoding.unsupported': [415, 'unsupported_encoding', 'the request body encoding is not supported'],
  'charset.unsupported': [415, 'unsupported_charset', 'the request charset must be utf-8'],
  'request.aborted': [400, 'aborted', 'the request was aborted before the body was read'],
  'request.size.invalid': [400, 'bad_length', 'the request body does not match its Content-Length'],
  'entity.verify.failed': [400, 'bad_body', 'the request body could not be read'],
  'entity.parse.failed': [400, 'bad_json', 'the request body is not valid JSON'],
};

/**
 * The SQLSTATE of a PostgreSQL "data exception" (class 22: a value the database cannot store,
 * such as NUL in text or a number out of range), or null for any other error. Both drivers
 * (postgres.js and PGlite) put the SQLSTATE in `code`. Such an error is the request's fault and
 * will fail the same way on every retry, so it is a 400, never a retryable 5xx.
 */
export function dataExceptionCode(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) ? code : null;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const type = (err as { type?: string }).type;
    if (type && BODY_ERRORS[type]) {
      const [status, code, message] = BODY_ERRORS[type];
      const limit = (err as { limit?: number }).limit;
      sendError(res, status, code, limit && status === 413 ? `${message} (${limit} bytes)` : message);
      return;
    }
    if (err instanceof AppError) {
      const status = STATUS[err.code];
      if (status >= 500) log.error({ err }, 'request failed');
      sendError(res, status, err.code, err.message, err.details ? { details: err.details } : undefined);
      return;
    }
    const sqlState = dataExceptionCode(err);
    if (sqlState) {
      log.info({ sqlState, err: (err as Error).message }, 'the database refused a value');
      sendError(res, 400, 'invalid_value', `the database refused a value in the request (SQLSTATE ${sqlState}: ${(err as Error).message})`);
      return;
    }
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendError(res, status, 'bad_request', (err as Error).message);
      return;
    }
    log.error({ err }, 'unhandled error');
    sendError(res, 500, 'internal', 'internal error');
  };
}
