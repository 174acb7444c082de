/**
 * Benchmark: many device workflows on one worker, each polling the TAP simulator at the poll
 * interval. The worker and the embedded store run in this process, the simulator in a child.
 *
 * Poll-start lag is read from each workflow's history: a poll's timer should fire at its start
 * plus its timeout, and the lag is the time from then to the start of the next poll activity.
 * It covers the server's timer, the workflow task and the activity task queues.
 */
import proto from '@temporalio/proto';
import { deviceWorkflowId, registerDevice } from '../../client/devices.ts';
import { percentile, ResourceSampler, startSimulatorProcess } from './support.ts';
import { startBenchStack } from './stack.ts';

/** Figures of one device count. */
export interface DeviceFigures {
  devices: number;
  pollIntervalMs: number;
  durationMs: number;
  polls: number;
  lagP50Ms: number;
  lagP99Ms: number;
  /** Worker process CPU as a share of one core, over the measured period. */
  cpuCores: number;
  peakRssMiB: number;
  historyEventsPerDevicePerHour: number;
  /** The target of poll-start lag p99: 5 s. */
  floorMs: number;
  ratio: number;
}

const ORG_ID = 'org-bench-devices';
const { EventType } = proto.temporal.api.enums.v1;

/** Registers `devices` devices, lets them poll for `durationMs`, and reads their histories. */
export async function benchDevices(options: {
  devices: number;
  pollIntervalMs: number;
  durationMs: number;
  /** The worker's workflow cache size; the worker's default when omitted. */
  maxCachedWorkflows?: number;
}): Promise<DeviceFigures> {
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  // Every device shares the simulator's one credential, so lift TAP's per-credential budget:
  // a real deployment gives each device its own 1,800 calls.
  const tap = await startSimulatorProcess({ events: 20, seed: 3, end, callsPerDay: 100_000_000 });
  const stack = await startBenchStack({ maxCachedWorkflows: options.maxCachedWorkflows });
  try {
    const context = {
      store: stack.store,
      client: stack.env.client,
      taskQueue: stack.taskQueue,
      secretKey: stack.secretKey,
      actor: { name: 'bench' },
    };
    for (let index = 0; index < options.devices; index++) {
      await registerDevice(context, {
        orgId: ORG_ID,
        deviceId: `tap-${index}`,
        name: `device ${index}`,
        location: 'bench',
        principal: 'tap-sim-principal',
        secret: 'tap-sim-secret',
        tapBaseUrl: tap.url,
        settings: { pollIntervalMs: options.pollIntervalMs },
      });
    }

    const sampler = new ResourceSampler();
    const measuredFromMs = Date.now();
    await new Promise((resolve) => setTimeout(resolve, options.durationMs));
    const resources = sampler.stop();

    const lags: number[] = [];
    let historyEvents = 0;
    for (let index = 0; index < options.devices; index++) {
      const history = await stack.env.client.workflow
        .getHandle(deviceWorkflowId(ORG_ID, `tap-${index}`))
        .fetchHistory();
      historyEvents += (history.events ?? []).filter((event) => toMs(event.eventTime) >= measuredFromMs).length;
      lags.push(...pollStartLags(history.events ?? [], measuredFromMs));
    }
    const lagP99Ms = lags.length > 0 ? percentile(lags, 99) : Number.NaN;
    const hours = (Date.now() - measuredFromMs) / 3_600_000;
    return {
      devices: options.devices,
      pollIntervalMs: options.pollIntervalMs,
      durationMs: options.durationMs,
      polls: lags.length,
      lagP50Ms: lags.length > 0 ? percentile(lags, 50) : Number.NaN,
      lagP99Ms,
      cpuCores: resources.cpuCores,
      peakRssMiB: resources.peakRssMiB,
      historyEventsPerDevicePerHour: historyEvents / options.devices / hours,
      floorMs: 5_000,
      ratio: lagP99Ms / 5_000,
    };
  } finally {
    await stack.close();
    await tap.close();
  }
}

interface HistoryEvent {
  eventType?: unknown;
  eventTime?: { seconds?: unknown; nanos?: unknown } | null;
  timerStartedEventAttributes?: { startToFireTimeout?: { seconds?: unknown; nanos?: unknown } | null } | null;
  activityTaskStartedEventAttributes?: unknown;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
}

/** Returns, for each timer that led to a poll after `sinceMs`, the lag of that poll's start. */
function pollStartLags(events: readonly HistoryEvent[], sinceMs: number): number[] {
  const lags: number[] = [];
  let dueMs: number | null = null;
  let pollScheduled = false;
  for (const event of events) {
    const type = String(event.eventType);
    const atMs = toMs(event.eventTime);
    if (type === String(EventType.EVENT_TYPE_TIMER_STARTED)) {
      dueMs = atMs + toMs(event.timerStartedEventAttributes?.startToFireTimeout);
    } else if (type === String(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)) {
      pollScheduled = event.activityTaskScheduledEventAttributes?.activityType?.name === 'pollTap';
    } else if (type === String(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) && pollScheduled && dueMs !== null) {
      if (dueMs >= sinceMs) lags.push(Math.max(0, atMs - dueMs));
      dueMs = null;
    }
  }
  return lags;
}

function toMs(value: { seconds?: unknown; nanos?: unknown } | null | undefined): number {
  if (!value) return 0;
  // Seconds arrive as a protobuf Long.
  const seconds = value.seconds as { toNumber?: () => number } | number | null | undefined;
  const wholeSeconds = typeof seconds === 'object' && seconds?.toNumber ? seconds.toNumber() : Number(seconds ?? 0);
  return wholeSeconds * 1000 + Number(value.nanos ?? 0) / 1e6;
}
