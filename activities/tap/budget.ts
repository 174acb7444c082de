/**
 * A counter of TAP SIEM API calls in the rolling 24 hours, per throttle pool, so that a poller
 * can slow down before TAP responds with 429. TAP allows 1,800 calls per pool in any 24 hours;
 * `clicks/permitted` is a pool of its own and every other SIEM endpoint shares the `siem` pool.
 *
 * The state is small and plain JSON (calls counted in 5-minute buckets, at most 289 per pool),
 * and the class does no I/O and reads no clock, so a workflow can carry it across continue-as-new.
 */

/** A TAP throttle pool. */
export type TapPool = 'siem' | 'clicksPermitted';

/** TAP's limit of calls per pool in the rolling 24 hours. */
export const TAP_CALLS_PER_DAY = 1_800;

const DAY_MS = 24 * 60 * 60_000;
const BUCKET_MS = 5 * 60_000;

/** Serialisable state of a {@link TapCallBudget}: per pool, `[bucketStartMs, calls]` pairs, oldest first. */
export interface TapCallBudgetState {
  pools: Record<TapPool, Array<[number, number]>>;
}

/** Returns the pool that a SIEM path such as `/v2/siem/clicks/permitted` draws from. */
export function poolForPath(path: string): TapPool {
  return /\/clicks\/permitted\/?$/.test(path) ? 'clicksPermitted' : 'siem';
}

/**
 * Rolling 24-hour call counter per pool. Counting by bucket can only overestimate: a bucket's
 * calls count until 24 hours after the bucket's end, up to 5 minutes longer than TAP counts them.
 */
export class TapCallBudget {
  readonly limit: number;
  private readonly pools: Record<TapPool, Array<[number, number]>>;

  constructor(state?: TapCallBudgetState, limit: number = TAP_CALLS_PER_DAY) {
    this.limit = limit;
    this.pools = {
      siem: (state?.pools.siem ?? []).map(([start, calls]) => [start, calls]),
      clicksPermitted: (state?.pools.clicksPermitted ?? []).map(([start, calls]) => [start, calls]),
    };
  }

  /** Counts one call to `pool` at time `at`. */
  record(pool: TapPool, at: Date | number): void {
    const atMs = typeof at === 'number' ? at : at.getTime();
    const buckets = this.pools[pool];
    const bucketStart = Math.floor(atMs / BUCKET_MS) * BUCKET_MS;
    const last = buckets.at(-1);

    if (last && last[0] === bucketStart) last[1] += 1;
    else if (!last || last[0] < bucketStart) buckets.push([bucketStart, 1]);
    else this.insertOutOfOrder(buckets, bucketStart);
    this.prune(pool, atMs);
  }

  /** Calls to `pool` counted in the 24 hours before `now`. */
  used(pool: TapPool, now: Date | number): number {
    const nowMs = typeof now === 'number' ? now : now.getTime();
    return this.pools[pool]
      .filter(([start]) => start + BUCKET_MS + DAY_MS > nowMs)
      .reduce((sum, [, calls]) => sum + calls, 0);
  }

  /** Calls left for `pool` before TAP would respond with 429. */
  remaining(pool: TapPool, now: Date | number): number {
    return Math.max(0, this.limit - this.used(pool, now));
  }

  /**
   * Milliseconds until `pool` has a call left, 0 when it has one now. Use it as the wait after
   * a 429 or when `remaining` reaches 0.
   */
  waitMs(pool: TapPool, now: Date | number): number {
    const nowMs = typeof now === 'number' ? now : now.getTime();
    let excess = this.used(pool, nowMs) - this.limit + 1;
    if (excess <= 0) return 0;

    for (const [start, calls] of this.pools[pool]) {
      const expiresMs = start + BUCKET_MS + DAY_MS;
      if (expiresMs <= nowMs) continue;
      excess -= calls;
      if (excess <= 0) return expiresMs - nowMs;
    }
    return DAY_MS;
  }

  /** Returns the state to store or pass through workflow history. */
  toJSON(): TapCallBudgetState {
    return {
      pools: {
        siem: this.pools.siem.map(([start, calls]) => [start, calls]),
        clicksPermitted: this.pools.clicksPermitted.map(([start, calls]) => [start, calls]),
      },
    };
  }

  private insertOutOfOrder(buckets: Array<[number, number]>, bucketStart: number): void {
    const existing = buckets.find(([start]) => start === bucketStart);
    if (existing) existing[1] += 1;
    else {
      buckets.push([bucketStart, 1]);
      buckets.sort((a, b) => a[0] - b[0]);
    }
  }

  private prune(pool: TapPool, nowMs: number): void {
    this.pools[pool] = this.pools[pool].filter(([start]) => start + BUCKET_MS + DAY_MS > nowMs);
  }
}
