/** Issue #16: who reads the console decides how logs look; a person at a terminal sees one readable line per warning. */
import { describe, expect, it } from 'vitest';
import { logSettings, type ConsoleOptions } from '../../../src/cli/console.js';
import { createLogger, formatPrettyLine } from '../../../src/logger.js';

const tty = { stdoutIsTTY: true, stderrIsTTY: true };
const pipe = { stdoutIsTTY: false, stderrIsTTY: true };
const command: ConsoleOptions = { quiet: false, verbose: false, service: false };
const cfg = (LOG_FORMAT: 'auto' | 'json' | 'pretty' = 'auto', LOG_LEVEL?: 'info' | 'debug' | 'warn' | 'silent') => ({ LOG_FORMAT, LOG_LEVEL });

describe('logSettings', () => {
  it('a command on a terminal: readable lines, warnings and errors only', () => {
    expect(logSettings(cfg(), command, tty)).toEqual({ level: 'warn', format: 'pretty' });
  });
  it('stdout not a terminal (a pipe, CI) or LOG_FORMAT=json: JSON at LOG_LEVEL', () => {
    expect(logSettings(cfg(), command, pipe)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings(cfg('json'), command, tty)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings(cfg('auto', 'warn'), command, pipe)).toEqual({ level: 'warn', format: 'json' });
  });
  it('serve and worker log JSON at LOG_LEVEL even on a terminal, unless LOG_FORMAT=pretty', () => {
    const service = { ...command, service: true };
    expect(logSettings(cfg(), service, tty)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings(cfg('pretty'), service, pipe)).toEqual({ level: 'info', format: 'pretty' });
  });
  it('--quiet: errors only; --verbose: info, or LOG_LEVEL when it says more; an explicit LOG_LEVEL wins over the terminal default', () => {
    expect(logSettings(cfg(), { ...command, quiet: true }, tty).level).toBe('error');
    expect(logSettings(cfg('auto', 'silent'), { ...command, quiet: true }, tty).level).toBe('silent');
    expect(logSettings(cfg(), { ...command, verbose: true }, tty).level).toBe('info');
    expect(logSettings(cfg('auto', 'debug'), { ...command, verbose: true }, tty).level).toBe('debug');
    expect(logSettings(cfg('auto', 'debug'), command, tty).level).toBe('debug');
  });
});

describe('formatPrettyLine', () => {
  it('one line: time, level, module, message, fields; errors by type and message; secrets still redacted', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    log.child({ module: 'mailer' }).warn({ attempt: 2, host: 'smtp example', err: new TypeError('boom\nsecond line'), password: 'hunter2', url: 'smtps://u:pw@mail.example.com' }, 'send failed');
    expect(lines).toHaveLength(1);
    const line = formatPrettyLine(lines[0]!);
    expect(line).toMatch(/^\d{2}:\d{2}:\d{2} WARN \[mailer\] send failed attempt=2 host="smtp example" err="TypeError: boom\\nsecond line" password=\[redacted\] url=smtps:\/\/u:\[redacted\]@mail.example.com\n$/);
    expect(line.trimEnd()).not.toContain('\n');
    expect(line).not.toContain('{"level"');
  });
  it('colours the level on a terminal, and passes non-JSON through', () => {
    expect(formatPrettyLine('{"level":50,"time":0,"msg":"x"}', true)).toBe('00:00:00 \x1b[31mERROR\x1b[0m x\n');
    expect(formatPrettyLine('plain text')).toBe('plain text\n');
  });
});
