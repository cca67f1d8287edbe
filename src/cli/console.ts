/**
 * The console a command talks to: who reads it (a person at a terminal, or a machine) decides
 * how logs look and how many there are.
 *
 * - `serve` and `worker` are services: JSON logs at LOG_LEVEL, always (unless LOG_FORMAT=pretty).
 * - Every other command on a terminal (stdout and stderr both TTYs) is read by a person: its
 *   progress and results are the story, so logs show only warnings and errors, one readable line
 *   each. `--verbose` brings back info lines; `--quiet` keeps errors only and drops progress.
 * - Not on a terminal (CI, a pipe, a file) or LOG_FORMAT=json: JSON logs, as a service writes them.
 *
 * The CLI sets the options once, before a command runs ({@link setConsoleOptions}); the runtime
 * reads them when it creates the logger.
 */
import type { Config } from '../config.js';
import type { LogFormat } from '../logger.js';

export interface ConsoleOptions {
  /** errors only, no progress lines */
  quiet: boolean;
  /** info lines too (or LOG_LEVEL when that says more) */
  verbose: boolean;
  /** a long-running service (`serve`, `worker`): JSON logs */
  service: boolean;
}

let current: ConsoleOptions = { quiet: false, verbose: false, service: false };

export function setConsoleOptions(o: Partial<ConsoleOptions>): void {
  current = { ...current, ...o };
}

export function consoleOptions(): Readonly<ConsoleOptions> {
  return current;
}

export interface Terminal {
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

const processTerminal = (): Terminal => ({ stdoutIsTTY: Boolean(process.stdout.isTTY), stderrIsTTY: Boolean(process.stderr.isTTY) });

const ORDER = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const moreVerbose = (a: string, b: string) => (ORDER.indexOf(a as (typeof ORDER)[number]) <= ORDER.indexOf(b as (typeof ORDER)[number]) ? a : b);

/**
 * The logger's level and format for this process. LOG_LEVEL, when set, wins over the default
 * (info; warn for a command on a terminal), but never over `--quiet`.
 */
export function logSettings(config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, o: ConsoleOptions = current, term: Terminal = processTerminal()): { level: string; format: LogFormat } {
  const forPerson = config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && !o.service && term.stdoutIsTTY && term.stderrIsTTY);
  const format: LogFormat = forPerson ? 'pretty' : 'json';
  const level = config.LOG_LEVEL ?? (forPerson && !o.service ? 'warn' : 'info');
  if (o.quiet) return { level: level === 'silent' || level === 'fatal' ? level : 'error', format };
  if (o.verbose) return { level: moreVerbose(level, 'info'), format };
  return { level, format };
}

/** A progress line for a person (stderr); nothing with `--quiet`. */
export function say(line: string): void {
  if (!current.quiet) process.stderr.write(`${line}\n`);
}
