/** The one error family. Adapters map `code` to an HTTP status, a Slack message or a job outcome in one place each. */
export type ErrorCode = 'validation' | 'not_found' | 'conflict' | 'unauthorized' | 'external' | 'config' | 'not_ready';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super('validation', message, details);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, details?: unknown) {
    super('not_found', message, details);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, details?: unknown) {
    super('conflict', message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}
export class ConfigError extends AppError {
  constructor(message: string, details?: unknown) {
    super('config', message, details);
  }
}
export class NotReadyError extends AppError {
  constructor(message: string) {
    super('not_ready', message);
  }
}
export class ExternalError extends AppError {
  constructor(
    message: string,
    readonly retryable: boolean,
    details?: unknown,
  ) {
    super('external', message, details);
  }
}
