/**
 * Seeded randomness for tests: the same seed gives the same fixture on every run and machine.
 */

/** mulberry32: a small, fast 32-bit PRNG returning floats in [0, 1). */
export { mulberry32 } from '../../src/ml/prng.js';

/** A standard normal draw (Box–Muller). */
export function gaussian(rand: () => number): number {
  const u = 1 - rand(); // (0, 1]: log(0) would be -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** An integer in [0, n). */
export function randInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n);
}

/** A shuffled copy (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rand, i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
