/**
 * Benchmark: from a TAP event becoming visible in the simulator to its alert in the queue,
 * through one device workflow on a dev server.
 *
 * TAP indexes events late, so the window planner ends every window 2 minutes (its safety lag)
 * before now. An event is added at wall time T with a creation time of T - 2 minutes, which is
 * how an event that TAP indexed 2 minutes after its creation looks: the first poll after T
 * reads it. The floor of a sample is the wait from T to the next TAP request, and the poll
 * interval sets it. The rest is the poll itself, the ingest and the store's commit.
 */
import { registerDevice } from '../../client/devices.ts';
import { startTapSimulator } from '../../simulators/tap/server.ts';
import { DEFAULT_WINDOW_OPTIONS } from '../../activities/tap/windows.ts';
import { percentile } from './support.ts';
import { phishMessage, startBenchStack } from './stack.ts';

/** Figures of the time-to-alert benchmark; times in milliseconds. */
export interface AlertFigures {
  pollIntervalMs: number;
  samples: number;
  p50Ms: number;
  p95Ms: number;
  /** p95 of the wait from visibility to the next TAP request. */
  floorP95Ms: number;
  /** p95 of the time from that request to the alert. */
  processingP95Ms: number;
  /** Target: poll interval + 2 s. */
  targetMs: number;
  ratio: number;
}

const ORG_ID = 'org-bench-alert';

/** Adds one phish every `spacingMs` for `durationMs` and measures when each alert appears. */
export async function benchTimeToAlert(options: {
  pollIntervalMs: number;
  durationMs: number;
  spacingMs: number;
}): Promise<AlertFigures> {
  const requests: number[] = [];
  const tap = await startTapSimulator({
    host: '127.0.0.1',
    port: 0,
    log: (record) => {
      if (typeof record.path === 'string' && record.path.startsWith('/v2/siem')) requests.push(Date.now());
    },
  });
  const stack = await startBenchStack();
  try {
    await registerDevice(
      {
        store: stack.store,
        client: stack.env.client,
        taskQueue: stack.taskQueue,
        secretKey: stack.secretKey,
        actor: { name: 'bench' },
      },
      {
        orgId: ORG_ID,
        deviceId: 'tap-alert',
        name: 'time to alert',
        location: 'bench',
        principal: tap.principal,
        secret: tap.secret,
        tapBaseUrl: tap.url,
        settings: { pollIntervalMs: options.pollIntervalMs },
      },
    );
    await waitFor(async () => (await stack.store.getDevice(ORG_ID, 'tap-alert'))?.status === 'polling', 60_000);

    const visibleAt = new Map<string, number>();
    const alertAt = new Map<string, number>();
    const endMs = Date.now() + options.durationMs;
    let nextMs = Date.now() + Math.random() * options.spacingMs;
    while (Date.now() < endMs || alertAt.size < visibleAt.size) {
      if (Date.now() >= nextMs && Date.now() < endMs) {
        const [event] = phishMessage(
          ['analyst.bench@corp.example'],
          new Date(Date.now() - DEFAULT_WINDOW_OPTIONS.safetyLagMs),
        );
        tap.addEvents([event!]);
        visibleAt.set(String(event!.event.GUID), Date.now());
        nextMs += options.spacingMs;
      }
      for (const alert of await stack.store.listAlerts({ orgId: ORG_ID })) {
        if (alert.guid && visibleAt.has(alert.guid) && !alertAt.has(alert.guid)) alertAt.set(alert.guid, Date.now());
      }
      if (Date.now() > endMs + options.pollIntervalMs + 30_000) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return figures(options.pollIntervalMs, visibleAt, alertAt, requests);
  } finally {
    await stack.close();
    await tap.close();
  }
}

function figures(
  pollIntervalMs: number,
  visibleAt: Map<string, number>,
  alertAt: Map<string, number>,
  requests: readonly number[],
): AlertFigures {
  const totals: number[] = [];
  const waits: number[] = [];
  const processing: number[] = [];
  for (const [guid, visible] of visibleAt) {
    const alerted = alertAt.get(guid);
    if (alerted === undefined) throw new Error(`the alert of GUID ${guid} did not appear; check the worker's log`);
    const request = requests.find((at) => at >= visible) ?? alerted;
    totals.push(alerted - visible);
    waits.push(request - visible);
    processing.push(alerted - request);
  }
  const p95Ms = percentile(totals, 95);
  const floorP95Ms = percentile(waits, 95);
  return {
    pollIntervalMs,
    samples: totals.length,
    p50Ms: percentile(totals, 50),
    p95Ms,
    floorP95Ms,
    processingP95Ms: percentile(processing, 95),
    targetMs: pollIntervalMs + 2_000,
    ratio: p95Ms / floorP95Ms,
  };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the device to poll`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
