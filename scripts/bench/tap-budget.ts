/**
 * Benchmark: TAP calls per device per day, in steady state and in the day that starts with a
 * 7-day catch-up, against TAP's 1,800 calls per pool in any 24 hours.
 *
 * The figures are computed by replaying the device loop (poll; poll again at once while not
 * caught up; otherwise wait the poll interval) over the window planner with a virtual clock.
 * A confirmation run replays the same loop with the real `pollTap` activity against the TAP
 * simulator over HTTP, both on the same virtual clock, and counts the calls the simulator saw.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDeviceActivities, type PollSummary } from '../../activities/device.ts';
import { sealSecret } from '../../activities/secrets.ts';
import { openStore } from '../../activities/store/index.ts';
import { TAP_CALLS_PER_DAY } from '../../activities/tap/budget.ts';
import { planWindows } from '../../activities/tap/windows.ts';
import { startTapSimulator } from '../../simulators/tap/server.ts';
import { DEFAULT_DEVICE_SETTINGS } from '../../workflows/device-types.ts';

const HOUR_MS = 60 * 60_000;
const DAY_MS = 24 * HOUR_MS;

/** Virtual duration of one TAP call in the replay; it only shifts when the next poll starts. */
const CALL_MS = 2_000;

const ignore = (): void => undefined;
/** The activities log every poll; the figures are what matters here. */
const quietLogger = { log: ignore, trace: ignore, debug: ignore, info: ignore, warn: ignore, error: ignore };

/** Figures of the TAP budget benchmark. */
export interface TapBudgetFigures {
  limit: number;
  pollIntervalMs: number;
  /** Calls in 24 hours of steady state, from the planner replay. */
  steadyCallsPerDay: number;
  /** Calls in the 24 hours that start with a cursor 7 days old, from the planner replay. */
  catchUpCallsFirstDay: number;
  /** Calls spent before the device was caught up again. */
  catchUpCalls: number;
  /** Virtual time the catch-up took, in milliseconds. */
  catchUpMs: number;
  /** The same figures counted by the simulator in the confirmation run. */
  confirmed: { steadyCalls: number; steadyHours: number; catchUpCalls: number; rejected429: number };
  /** catchUpCallsFirstDay / limit. */
  ratio: number;
}

/** Replays the device loop over the planner for `spanMs` from a cursor `cursorAgeMs` old. */
export function replayPlanner(cursorAgeMs: number, spanMs: number, pollIntervalMs: number) {
  const startMs = Date.parse('2025-06-02T00:00:00Z');
  let nowMs = startMs;
  let cursor: string | null = new Date(startMs - cursorAgeMs).toISOString();
  let fetchedAt: string | null = null;
  let calls = 0;
  let catchUp: { calls: number; ms: number } | null = null;

  while (nowMs < startMs + spanMs) {
    const plan = planWindows(cursor, new Date(nowMs), { maxWindows: 1 }, { fetchedAt });
    if (plan.windows.length > 0) {
      calls += 1;
      fetchedAt = new Date(nowMs).toISOString();
      cursor = plan.nextCursor;
      nowMs += CALL_MS;
    }
    if (plan.truncated) continue;
    catchUp ??= { calls, ms: nowMs - startMs };
    nowMs += pollIntervalMs;
  }
  return { calls, catchUp: catchUp ?? { calls, ms: spanMs } };
}

/** Computes the figures and confirms them against the simulator for `steadyHours` of steady state. */
export async function benchTapBudget(options: { steadyHours: number }): Promise<TapBudgetFigures> {
  const interval = DEFAULT_DEVICE_SETTINGS.pollIntervalMs;
  const steady = replayPlanner(0, DAY_MS, interval);
  const catchUp = replayPlanner(7 * DAY_MS, DAY_MS, interval);
  const confirmed = await confirmWithSimulator(options.steadyHours, interval);
  return {
    limit: TAP_CALLS_PER_DAY,
    pollIntervalMs: interval,
    steadyCallsPerDay: steady.calls,
    catchUpCallsFirstDay: catchUp.calls,
    catchUpCalls: catchUp.catchUp.calls,
    catchUpMs: catchUp.catchUp.ms,
    confirmed,
    ratio: catchUp.calls / TAP_CALLS_PER_DAY,
  };
}

/**
 * Runs `pollTap` in a loop from a cursor 7 days old until caught up, then for `steadyHours`,
 * against a simulator whose clock is the same virtual clock.
 */
async function confirmWithSimulator(steadyHours: number, pollIntervalMs: number) {
  let nowMs = Date.now();
  const clock = () => new Date(nowMs);
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-bench-budget-'));
  const store = await openStore({ dataDir });
  const tap = await startTapSimulator({ host: '127.0.0.1', port: 0, now: clock });
  try {
    const secretKey = randomBytes(32);
    const ref = { orgId: 'org-bench', deviceId: 'tap-budget' };
    const secretRef = 'tap:org-bench:tap-budget';
    await store.ensureOrganization(ref.orgId, { name: 'bench' });
    await store.putSecret(secretRef, sealSecret(tap.secret, secretRef, secretKey), { name: 'bench' });
    await store.addDevice(
      {
        ...ref,
        name: 'budget',
        location: 'bench',
        principal: tap.principal,
        secretRef,
        tapBaseUrl: tap.url,
        createdAt: clock().toISOString(),
        status: 'polling',
        health: 'healthy',
        removedAt: null,
      },
      { name: 'bench' },
    );

    const activities = createDeviceActivities({ store, secretKey, now: clock });
    const env = new MockActivityEnvironment(undefined, { logger: quietLogger });
    let cursor: string | null = new Date(nowMs - 7 * DAY_MS).toISOString();
    let cursorFetchedAt: string | null = null;
    let rejected429 = 0;
    const poll = async (): Promise<PollSummary> => {
      const summary = (await env.run(activities.pollTap, {
        ...ref,
        credentials: { principal: tap.principal, secretRef },
        cursor,
        cursorFetchedAt,
        autoRemediateDelivered: false,
      })) as PollSummary;
      cursor = summary.cursor;
      cursorFetchedAt = summary.cursorFetchedAt;
      if (summary.throttledForMs > 0) rejected429 += 1;
      if (summary.tapCalls > 0) nowMs += CALL_MS;
      return summary;
    };

    while (!(await poll()).caughtUp) {
      // Each poll of the catch-up reads the next window at once, as the device workflow does.
    }
    const catchUpCalls = tap.callCount('siem');

    // Move the virtual clock past the catch-up's 24 hours, so the steady calls are counted alone.
    const steadyStartMs = nowMs;
    for (nowMs += pollIntervalMs; nowMs < steadyStartMs + steadyHours * HOUR_MS; nowMs += pollIntervalMs) await poll();
    nowMs += DAY_MS - steadyHours * HOUR_MS;
    const steadyCalls = tap.callCount('siem');
    return { steadyCalls, steadyHours, catchUpCalls, rejected429 };
  } finally {
    await tap.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
