/**
 * The live output of `tap-mdr start`: one line per device status change, alert created or
 * changed, and deletion started or finished. It polls the device workflows' status queries and
 * the Workbench store; it never changes anything.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { AlertRecord, WorkbenchStore } from '../activities/store/types.ts';
import type { DeviceStatus } from '../workflows/device-types.ts';
import { queryStatus } from './commands/device.ts';
import { printable } from './store-config.ts';

/** Options of {@link startMonitor}. */
export interface MonitorOptions {
  store: WorkbenchStore;
  client: Client;
  /** Receives each line, without a trailing newline. */
  print: (line: string) => void;
  /** Time between two looks, in milliseconds; default 1,500. */
  intervalMs?: number;
}

/** A running monitor. */
export interface Monitor {
  /**
   * Stops the monitor: cancels a status query in flight and resolves once the current look has
   * ended. A query can otherwise wait about 30 s, for example when the workflow's sticky task
   * queue belongs to a worker that a crash ended.
   */
  stop(): Promise<void>;
}

/** The state of an alert at the monitor's last look. */
interface AlertView {
  state: string;
  severity: string;
  recipients: number;
  remediationStatus: string;
}

/** The state of a device at the monitor's last look; `error` is the last query failure it printed. */
interface DeviceView {
  phase: string | null;
  health: string | null;
  receivingData: boolean;
  error: string | null;
}

// NOTE: each look reads up to this many alerts, newest occurrence first. A queue with more
// open alerts than this shows only changes among the newest ones.
const ALERT_WINDOW = 10_000;
const FINAL_REMEDIATION = new Set(['done', 'partial', 'failed']);

/** Starts printing changes; the first look prints the current state instead of every alert. */
export function startMonitor(options: MonitorOptions): Monitor {
  const devices = new Map<string, DeviceView>();
  let alerts: Map<string, AlertView> | null = null;
  const stopping = new AbortController();
  const { signal } = stopping;

  const look = async () => {
    await lookAtDevices(options, devices, signal);
    if (!signal.aborted) alerts = await lookAtAlerts(options, alerts);
  };

  const loop = (async () => {
    while (!signal.aborted) {
      try {
        // Every Temporal call made inside `look` is cancelled when `stop` aborts the signal.
        await options.client.withAbortSignal(signal, look);
      } catch (err) {
        if (signal.aborted) break;
        options.print(line(`monitor: could not read the stack's state (${(err as Error).message}); retrying`));
      }
      await sleep(options.intervalMs ?? 1_500, undefined, { signal }).catch(() => undefined);
    }
  })();

  return {
    stop: async () => {
      stopping.abort();
      await loop;
    },
  };
}

async function lookAtDevices(
  options: MonitorOptions,
  seen: Map<string, DeviceView>,
  signal: AbortSignal,
): Promise<void> {
  const devices = (await options.store.listDevices()).filter((device) => device.removedAt === null);
  for (const device of devices) {
    if (signal.aborted) return;
    const ref = `${device.orgId}:${device.deviceId}`;
    const before = seen.get(ref) ?? { phase: null, health: null, receivingData: false, error: null };
    let status: DeviceStatus;
    try {
      status = await queryStatus(options.client, device.orgId, device.deviceId);
    } catch (err) {
      // A query cancelled by `stop` is no failure of the device.
      if (signal.aborted) return;
      const error = (err as Error).message;
      if (error !== before.error) options.print(line(`device ${ref}: status query failed: ${error}`));
      seen.set(ref, { ...before, error });
      continue;
    }
    seen.set(ref, describeDeviceChange(options, ref, before, status));
  }
}

function describeDeviceChange(
  options: MonitorOptions,
  ref: string,
  before: DeviceView,
  status: DeviceStatus,
): DeviceView {
  const after: DeviceView = {
    phase: status.phase,
    health: status.health,
    receivingData: status.firstDataAt !== null,
    error: null,
  };
  if (after.phase !== before.phase || after.health !== before.health) {
    const reason = status.credentialsError ? ` (${status.credentialsError})` : '';
    options.print(line(`device ${ref}: ${PHASE_TEXT[status.phase] ?? status.phase}, health ${status.health}${reason}`));
  }
  if (after.receivingData && !before.receivingData) {
    options.print(
      line(
        `device ${ref}: receiving data, ${status.counters.events} events so far, ` +
          `${status.counters.alertsCreated} alerts created`,
      ),
    );
  }
  return after;
}

const PHASE_TEXT: Record<string, string> = {
  onboarding: 'onboarding (checking the TAP credentials)',
  credentials_rejected: 'credentials rejected by TAP',
  polling: 'polling',
  paused: 'paused',
  decommissioned: 'decommissioned',
};

async function lookAtAlerts(
  options: MonitorOptions,
  before: Map<string, AlertView> | null,
): Promise<Map<string, AlertView>> {
  const records = await options.store.listAlerts({ limit: ALERT_WINDOW });
  const after = new Map(records.map((alert) => [alert.alertId, viewOf(alert)]));

  if (before === null) {
    if (records.length > 0) options.print(line(`${records.length} alerts already in the queue`));
    return after;
  }

  // Oldest first, so that a message alert prints before the click alerts it explains.
  for (const alert of [...records].reverse()) {
    const previous = before.get(alert.alertId);
    if (!previous) options.print(line(`alert created: ${describeAlert(alert)}`));
    else printAlertChanges(options, alert, previous);
    await printRemediationChange(options, alert, previous);
  }
  return after;
}

function printAlertChanges(options: MonitorOptions, alert: AlertRecord, previous: AlertView): void {
  if (alert.state !== previous.state) {
    options.print(line(`alert ${alert.state}: ${describeAlert(alert)}`));
    return;
  }
  if (alert.severity !== previous.severity) {
    options.print(line(`alert severity ${previous.severity} -> ${alert.severity}: ${describeAlert(alert)}`));
  }
  if (alert.recipients.length > previous.recipients) {
    options.print(line(`alert recipients ${previous.recipients} -> ${alert.recipients.length}: ${alert.alertId}`));
  }
}

async function printRemediationChange(
  options: MonitorOptions,
  alert: AlertRecord,
  previous: AlertView | undefined,
): Promise<void> {
  const status = alert.remediationStatus;
  if (status === (previous?.remediationStatus ?? 'none')) return;

  if (!FINAL_REMEDIATION.has(status)) {
    if (previous === undefined || !['pending', 'running'].includes(previous.remediationStatus)) {
      options.print(line(`deletion started: alert ${alert.alertId}, ${alert.recipients.length} recipients`));
    }
    return;
  }

  const results = await options.store.listRecipientResults(alert.alertId);
  const deleted = results.filter((result) => result.outcome === 'deleted').length;
  const reason = status !== 'done' && alert.remediationReason ? `: ${printable(alert.remediationReason)}` : '';
  options.print(
    line(
      `deletion ${status}: alert ${alert.alertId} "${printable(alert.subject)}" deleted from ${deleted} of ` +
        `${alert.recipients.length} mailboxes${reason}`,
    ),
  );
}

function describeAlert(alert: AlertRecord): string {
  const head = `${alert.severity} ${alert.type} ${alert.alertId}`;
  if (alert.type === 'delivered_message') {
    return `${head} "${printable(alert.subject)}" to ${alert.recipients.length} recipients`;
  }
  if (alert.type === 'permitted_click') {
    return `${head} ${printable(alert.recipients.join(', '))} clicked ${printable(alert.matched.threat ?? 'a condemned URL')}`;
  }
  return `${head} ${printable(alert.reason)}`;
}

function viewOf(alert: AlertRecord): AlertView {
  return {
    state: alert.state,
    severity: alert.severity,
    recipients: alert.recipients.length,
    remediationStatus: alert.remediationStatus,
  };
}

/** Prefixes the local time, `HH:MM:SS`. */
function line(text: string): string {
  const time = new Date().toLocaleTimeString('en-GB', { hour12: false });
  return `${time}  ${text}`;
}
