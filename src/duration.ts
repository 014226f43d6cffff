// Durations as users write them: milliseconds, or strings such as '250ms', '30s', '10m', '1h', '1d'.

/** A number of milliseconds, or a string like `'250ms'`, `'30s'`, `'10m'`, `'1h'`, `'1d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Converts a {@link Duration} to milliseconds.
 * @example
 * toMs('30s') // 30000
 * toMs(250)   // 250
 */
export function toMs(duration: Duration, what = 'duration'): number {
  if (typeof duration === 'number') {
    if (!Number.isFinite(duration) || duration < 0) {
      throw new RangeError(`${what} must be a non-negative number of milliseconds, got ${duration}`);
    }
    return duration;
  }
  const match = PATTERN.exec(duration);
  if (!match) {
    throw new RangeError(`${what} must look like '250ms', '30s', '10m', '1h' or '1d', got '${duration}'`);
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']!);
}

/** Like {@link toMs} but passes `undefined` through. */
export function toMsOptional(duration: Duration | undefined, what?: string): number | undefined {
  return duration === undefined ? undefined : toMs(duration, what);
}
