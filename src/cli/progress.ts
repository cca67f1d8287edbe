/** Progress for long commands: a bar on a terminal, plain lines every few seconds otherwise (CI logs, pipes); nothing with --quiet. */
import cliProgress from 'cli-progress';
import { consoleOptions } from './console.js';

export interface Progress {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, intervalMs = 5000): Progress {
  if (consoleOptions().quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: '{label} [{bar}] {percentage}% | {value}/{total}', hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, label) {
        if (!started) {
          bar.start(total, done, { label });
          started = true;
        }
        bar.setTotal(total);
        bar.update(done, { label });
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = 0;
  let lastDone = -1;
  return {
    update(done, total, label) {
      const now = Date.now();
      if (done === lastDone || (now - last < intervalMs && done < total)) return;
      last = now;
      lastDone = done;
      stream.write(`${label}: ${done}/${total} (${total ? Math.floor((100 * done) / total) : 100}%)\n`);
    },
    stop() {},
  };
}
