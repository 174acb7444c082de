/**
 * Window planning for TAP SIEM polling: a pure function from the durable cursor and the current
 * time to the `interval` windows to fetch. No I/O and no clock, so the device workflow can call it.
 *
 * TAP selects events by creation time and indexes them up to about 30 minutes late, so every
 * poll reads again a look-back before the cursor, and ends a safety lag before now. The
 * resulting duplicates are removed by the events' idempotency keys.
 */

/** Limits and lags for {@link planWindows}; all durations in milliseconds. */
export interface WindowPlanOptions {
  /** Re-read this much before the cursor to catch late-indexed events. Default 30 minutes. */
  lookBackMs?: number;
  /** End windows this long before now, because the newest events are not yet queryable. Default 2 minutes. */
  safetyLagMs?: number;
  /** Span that the first poll reads when there is no cursor. Default 1 hour. */
  initialLookBackMs?: number;
  /** TAP's maximum window. Default 1 hour. */
  maxWindowMs?: number;
  /** TAP's minimum window, and the least new time worth a call. Default 30 seconds. */
  minWindowMs?: number;
  /** TAP's limit on how far back a window may start. Default 7 days. */
  maxAgeMs?: number;
  /** Margin kept inside maxAgeMs, so that a window is still valid when the request arrives. Default 15 minutes. */
  maxAgeMarginMs?: number;
  /** Maximum number of windows to return; the rest waits for the next plan. Default 24. */
  maxWindows?: number;
}

/** Facts about the previous fetch that narrow the look-back. */
export interface PreviousFetch {
  /**
   * When the window that ends at the cursor was fetched. Events created before
   * `fetchedAt - lookBackMs` were already indexed then, so only the part of the look-back after
   * that needs reading again: after a catch-up window from hours ago, none of it.
   */
  fetchedAt?: string | Date | null;
}

/** One `interval` window, ISO-8601 UTC on whole seconds; `start` inclusive, `end` exclusive. */
export interface TapWindow {
  start: string;
  end: string;
}

/** A span that can no longer be fetched because it is older than TAP's 7-day limit. */
export interface DataGap {
  start: string;
  end: string;
  durationMs: number;
}

/** The result of {@link planWindows}. */
export interface WindowPlan {
  /** Windows to fetch in order; empty while less than `minWindowMs` of new time exists. */
  windows: TapWindow[];
  /** The cursor to store once every window is fetched: the end of the last window, or the old cursor. */
  nextCursor: string | null;
  /** The span lost to the 7-day limit, or null. */
  gap: DataGap | null;
  /** True when `maxWindows` cut the plan short and another plan should follow at once. */
  truncated: boolean;
}

export const DEFAULT_WINDOW_OPTIONS: Required<WindowPlanOptions> = {
  lookBackMs: 30 * 60_000,
  safetyLagMs: 2 * 60_000,
  initialLookBackMs: 60 * 60_000,
  maxWindowMs: 60 * 60_000,
  minWindowMs: 30_000,
  maxAgeMs: 7 * 24 * 60 * 60_000,
  maxAgeMarginMs: 15 * 60_000,
  maxWindows: 24,
};

/**
 * Plans the windows for one poll.
 *
 * @param cursor End of the last fetched window (ISO-8601), or null before the first poll.
 * @param now Current time; in a workflow, pass `new Date()` from the workflow's deterministic clock.
 */
export function planWindows(
  cursor: string | Date | null,
  now: string | Date,
  options: WindowPlanOptions = {},
  previous: PreviousFetch = {},
): WindowPlan {
  const limits = { ...DEFAULT_WINDOW_OPTIONS, ...withoutUndefined(options) };
  const nowMs = toMs(now, 'now');
  const endMs = floorToSecond(nowMs - limits.safetyLagMs);
  const earliestMs = Math.ceil((nowMs - limits.maxAgeMs + limits.maxAgeMarginMs) / 1000) * 1000;

  const cursorMs = cursor === null ? null : floorToSecond(toMs(cursor, 'cursor'));
  const newTimeStartMs = cursorMs ?? endMs - limits.initialLookBackMs;
  const cursorIso = cursorMs === null ? null : iso(cursorMs);

  if (endMs - newTimeStartMs < limits.minWindowMs) {
    return { windows: [], nextCursor: cursorIso, gap: null, truncated: false };
  }

  // A cursor older than TAP's limit leaves a span that no request can reach any more.
  const gap =
    newTimeStartMs < earliestMs
      ? { start: iso(newTimeStartMs), end: iso(earliestMs), durationMs: earliestMs - newTimeStartMs }
      : null;

  let lookBackMs = cursorMs === null ? 0 : limits.lookBackMs;
  if (cursorMs !== null && previous.fetchedAt) {
    const indexedUntilMs = toMs(previous.fetchedAt, 'fetchedAt') - limits.lookBackMs;
    lookBackMs = Math.min(lookBackMs, Math.max(0, cursorMs - indexedUntilMs));
  }
  const startMs = Math.max(newTimeStartMs - lookBackMs, earliestMs);
  const { windows, truncated } = splitSpan(startMs, endMs, limits);
  const last = windows.at(-1);
  return { windows, nextCursor: last ? last.end : cursorIso, gap, truncated };
}

/**
 * Splits [startMs, endMs) into windows of maxWindowMs. A remainder under minWindowMs is left for
 * the next plan, which the look-back then covers.
 */
function splitSpan(
  startMs: number,
  endMs: number,
  limits: Required<WindowPlanOptions>,
): { windows: TapWindow[]; truncated: boolean } {
  const windows: TapWindow[] = [];
  let windowStart = startMs;

  while (endMs - windowStart >= limits.minWindowMs) {
    if (windows.length === limits.maxWindows) return { windows, truncated: true };
    const windowEnd = Math.min(windowStart + limits.maxWindowMs, endMs);
    windows.push({ start: iso(windowStart), end: iso(windowEnd) });
    windowStart = windowEnd;
  }
  return { windows, truncated: false };
}

/** Formats a window as TAP's `interval` parameter: `2025-06-02T10:00:00Z/2025-06-02T11:00:00Z`. */
export function formatInterval(window: { start: string | Date; end: string | Date }): string {
  return `${iso(toMs(window.start, 'start'))}/${iso(toMs(window.end, 'end'))}`.replaceAll('.000Z', 'Z');
}

function withoutUndefined(options: WindowPlanOptions): WindowPlanOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

function toMs(value: string | Date, name: string): number {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`${name} ${JSON.stringify(String(value))} is not a valid ISO-8601 time`);
  return ms;
}

function floorToSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
