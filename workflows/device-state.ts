/**
 * Pure state transitions of the device workflow: no Temporal calls, so they are deterministic
 * by construction and unit-testable without a server.
 */
import type {
  DeviceHealth,
  DeviceSettings,
  DeviceState,
  DeviceStatus,
  DeviceWorkflowInput,
  LastPoll,
} from './device-types.ts';
import { DEFAULT_DEVICE_SETTINGS } from './device-types.ts';
import type { PollSummary } from '../activities/device.ts';
import { TapCallBudget } from '../activities/tap/budget.ts';

/**
 * Builds the initial state of a new device, or returns the state carried by continue-as-new with
 * defaults for fields that a run of an older version did not carry.
 */
export function initialState(input: DeviceWorkflowInput): DeviceState {
  if (input.state) return { ...newState(input), ...input.state };
  return newState(input);
}

function newState(input: DeviceWorkflowInput): DeviceState {
  return {
    phase: 'onboarding',
    paused: false,
    decommissioned: false,
    credentials: input.credentials,
    credentialsError: null,
    cursor: null,
    cursorFetchedAt: null,
    firstPollAt: null,
    firstDataAt: null,
    notPollingRaised: false,
    noDataRaised: false,
    pollingFailedRaised: false,
    pollFailures: { count: 0, since: null, latest: null },
    lastPoll: null,
    counters: {
      polls: 0,
      pollErrors: 0,
      events: 0,
      stored: 0,
      duplicates: 0,
      suppressed: 0,
      invalid: 0,
      alertsCreated: 0,
      remediationsStarted: 0,
      continuedAsNew: 0,
      dataGapMs: 0,
    },
    preferences: { autoRemediateDelivered: input.preferences?.autoRemediateDelivered ?? false },
    tapBudget: { pools: { siem: [], clicksPermitted: [] } },
    pendingRemediations: [],
    pollNowRequests: 0,
  };
}

/** Merges the input's settings over the defaults. */
export function resolveSettings(input: DeviceWorkflowInput): DeviceSettings {
  return { ...DEFAULT_DEVICE_SETTINGS, ...input.settings };
}

/** Health as shown in the search attribute: the worst current condition. */
export function deviceHealth(state: DeviceState): DeviceHealth {
  if (state.credentialsError) return 'credentials_rejected';
  if (state.pollingFailedRaised) return 'polling_failed';
  if (state.notPollingRaised) return 'not_polling';
  if (state.noDataRaised) return 'no_data';
  if (state.firstDataAt) return 'healthy';
  return 'pending';
}

/**
 * A health condition that the workflow raises: a deadline that passed without its condition
 * being met, or `polling_failed` after a streak of failed polls.
 */
export type HealthCondition = 'not_polling' | 'no_data' | 'polling_failed';

/** Returns the conditions that are due at `nowMs` and not raised yet. */
export function dueHealthConditions(
  state: DeviceState,
  createdAt: string,
  settings: DeviceSettings,
  nowMs: number,
): HealthCondition[] {
  const created = Date.parse(createdAt);
  const due: HealthCondition[] = [];
  if (!state.firstPollAt && !state.notPollingRaised && nowMs >= created + settings.notPollingDeadlineMs) {
    due.push('not_polling');
  }
  if (!state.firstDataAt && !state.noDataRaised && nowMs >= created + settings.noDataDeadlineMs) {
    due.push('no_data');
  }
  if (!state.pollingFailedRaised && pollFailuresReachThreshold(state, settings)) due.push('polling_failed');
  return due;
}

/** Returns whether the failed polls in a row reach both thresholds of `polling_failed`. */
function pollFailuresReachThreshold(state: DeviceState, settings: DeviceSettings): boolean {
  const { count, since, latest } = state.pollFailures;
  if (since === null || latest === null || count < settings.pollingFailedAfterPolls) return false;
  return Date.parse(latest) - Date.parse(since) >= settings.pollingFailedAfterMs;
}

/** Milliseconds from `nowMs` until the next deadline that could still fire; undefined when none can. */
export function msUntilNextDeadline(
  state: DeviceState,
  createdAt: string,
  settings: DeviceSettings,
  nowMs: number,
): number | undefined {
  const created = Date.parse(createdAt);
  const pending: number[] = [];
  if (!state.firstPollAt && !state.notPollingRaised) pending.push(created + settings.notPollingDeadlineMs);
  if (!state.firstDataAt && !state.noDataRaised) pending.push(created + settings.noDataDeadlineMs);
  if (pending.length === 0) return undefined;
  return Math.max(0, Math.min(...pending) - nowMs);
}

/**
 * Applies a successful poll: advances the cursor, adds the counts, records first poll and first
 * data, and queues the alerts to remediate. Returns the conditions that this poll cleared.
 */
export function applyPoll(state: DeviceState, summary: PollSummary, nowIso: string): HealthCondition[] {
  if (summary.throttledForMs > 0) {
    recordTapCalls(state, summary.tapCalls, nowIso);
    const minutes = Math.ceil(summary.throttledForMs / 60_000);
    applyPollError(state, `TAP throttled the device (HTTP 429); next call in ${minutes} minutes`, nowIso);
    return [];
  }

  const cleared: HealthCondition[] = [];
  state.cursor = summary.cursor;
  state.cursorFetchedAt = summary.cursorFetchedAt;
  recordTapCalls(state, summary.tapCalls, nowIso);
  state.lastPoll = { at: nowIso, result: summary.result, events: summary.events, error: null };

  const counters = state.counters;
  counters.polls += 1;
  counters.events += summary.events;
  counters.stored += summary.stored;
  counters.duplicates += summary.duplicates;
  counters.suppressed += summary.suppressed;
  counters.invalid += summary.invalid;
  counters.alertsCreated += summary.alertsCreated;
  counters.dataGapMs += summary.dataGapMs;

  if (!state.firstPollAt) state.firstPollAt = nowIso;
  if (state.notPollingRaised) {
    state.notPollingRaised = false;
    cleared.push('not_polling');
  }
  state.pollFailures = { count: 0, since: null, latest: null };
  if (state.pollingFailedRaised) {
    state.pollingFailedRaised = false;
    cleared.push('polling_failed');
  }
  // "Data received" means a successful poll that returned at least one event.
  if (summary.events > 0 && !state.firstDataAt) state.firstDataAt = nowIso;
  if (summary.events > 0 && state.noDataRaised) {
    state.noDataRaised = false;
    cleared.push('no_data');
  }

  for (const alertId of summary.remediationAlertIds) {
    if (!state.pendingRemediations.includes(alertId)) state.pendingRemediations.push(alertId);
  }
  return cleared;
}

/** Counts TAP calls in the device's rolling 24-hour budget (every call draws from the `siem` pool). */
export function recordTapCalls(state: DeviceState, calls: number, nowIso: string): void {
  if (calls === 0) return;
  const budget = new TapCallBudget(state.tapBudget);
  for (let i = 0; i < calls; i++) budget.record('siem', Date.parse(nowIso));
  state.tapBudget = budget.toJSON();
}

/** Milliseconds until the device may call TAP again without exceeding its budget; 0 when it may now. */
export function tapBudgetWaitMs(state: DeviceState, nowMs: number): number {
  return new TapCallBudget(state.tapBudget).waitMs('siem', nowMs);
}

/** Records a failed poll and extends the streak of failed polls; the cursor stays where it was. */
export function applyPollError(state: DeviceState, reason: string, nowIso: string): void {
  const lastPoll: LastPoll = { at: nowIso, result: 'error', events: 0, error: reason };
  state.lastPoll = lastPoll;
  state.counters.pollErrors += 1;

  const streak = state.pollFailures;
  state.pollFailures = { count: streak.count + 1, since: streak.since ?? nowIso, latest: nowIso };
}

/** The status that the query returns. */
export function deviceStatus(input: DeviceWorkflowInput, state: DeviceState): DeviceStatus {
  return {
    orgId: input.orgId,
    deviceId: input.deviceId,
    name: input.name,
    phase: statusPhase(state),
    health: deviceHealth(state),
    conditions: {
      credentialsRejected: state.credentialsError !== null,
      pollingFailed: state.pollingFailedRaised,
      notPolling: state.notPollingRaised,
      noData: state.noDataRaised,
    },
    paused: state.paused,
    credentialsError: state.credentialsError,
    cursor: state.cursor,
    firstPollAt: state.firstPollAt,
    firstDataAt: state.firstDataAt,
    lastPoll: state.lastPoll,
    counters: state.counters,
    preferences: state.preferences,
    tapCalls24h: new TapCallBudget(state.tapBudget).used('siem', Date.now()),
  };
}

function statusPhase(state: DeviceState): DeviceStatus['phase'] {
  if (state.decommissioned) return 'decommissioned';
  if (state.paused) return 'paused';
  return state.phase;
}

/** Markdown for the Web UI's current details. */
export function statusDetails(status: DeviceStatus): string {
  const lastPoll = status.lastPoll
    ? `${status.lastPoll.result} at ${status.lastPoll.at} (${status.lastPoll.events} events)` +
      (status.lastPoll.error ? `: ${status.lastPoll.error}` : '')
    : 'none yet';
  return [
    `**${status.name}**: ${status.phase}, health ${status.health}`,
    '',
    `- cursor: ${status.cursor ?? 'not started'}`,
    `- last poll: ${lastPoll}`,
    `- events: ${status.counters.events}, alerts created: ${status.counters.alertsCreated}, ` +
      `remediations started: ${status.counters.remediationsStarted}`,
    `- TAP calls in the last 24 hours: ${status.tapCalls24h}`,
    `- auto deletion of delivered messages: ${status.preferences.autoRemediateDelivered ? 'on' : 'off'}`,
    ...(status.credentialsError ? [`- credentials rejected: ${status.credentialsError}`] : []),
  ].join('\n');
}
