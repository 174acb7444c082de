/**
 * The device workflow: one long-lived run chain per Proofpoint TAP device
 * (workflow id `tap-device:<org>:<device>`). It onboards the device, watches the health
 * deadlines, polls the TAP SIEM API forever, starts one remediation child per eligible alert,
 * and continues as new before its history grows large.
 */
import {
  type ActivityOptions,
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { createDeviceActivities, PollSummary } from '../activities/device.ts';
import { NON_RETRYABLE_TAP_ERROR_TYPES, TapAuthError, TapForbiddenError } from '../activities/tap/errors.ts';
import {
  applyPoll,
  applyPollError,
  deviceHealth,
  deviceStatus,
  dueHealthConditions,
  initialState,
  msUntilNextDeadline,
  recordTapCalls,
  resolveSettings,
  statusDetails,
  tapBudgetWaitMs,
  type HealthCondition,
} from './device-state.ts';
import type {
  CredentialsRef,
  DevicePreferences,
  DeviceSettings,
  DeviceState,
  DeviceStatus,
  DeviceWorkflowInput,
} from './device-types.ts';
import { startRemediations } from './device-remediation.ts';
import { DEVICE_HEALTH, DEVICE_ID, ORG_ID } from './search-attributes.ts';

/** Stops polling until {@link resumeSignal}; health deadlines keep running. */
export const pauseSignal = defineSignal('pause');
/** Resumes polling after {@link pauseSignal}. */
export const resumeSignal = defineSignal('resume');
/** Polls at once instead of waiting for the poll interval. */
export const pollNowSignal = defineSignal('pollNow');
/** Changes organization preferences; each later poll judges its alerts by the new values. */
export const setPreferencesSignal = defineSignal<[Partial<DevicePreferences>]>('setPreferences');
/** Ends the workflow cleanly after the current step. */
export const decommissionSignal = defineSignal<[{ reason: string }]>('decommission');
/**
 * Replaces the TAP credentials. The new ones are checked against TAP before they are accepted;
 * rejected credentials fail the update and the old ones stay in force.
 */
export const replaceCredentialsUpdate = defineUpdate<DeviceStatus, [CredentialsRef]>('replaceCredentials');
/** Returns the device status: phase, health, cursor, last poll, counts and TAP calls. */
export const getStatusQuery = defineQuery<DeviceStatus>('getStatus');

const activityOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '5 seconds',
    maximumInterval: '2 minutes',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [...NON_RETRYABLE_TAP_ERROR_TYPES],
  },
};
const { checkCredentials, pollTap, reportDeviceStatus, recordHealthCondition } =
  proxyActivities<ReturnType<typeof createDeviceActivities>>(activityOptions);

/** Per-run context shared by the steps below. */
interface Device {
  input: DeviceWorkflowInput;
  settings: DeviceSettings;
  state: DeviceState;
  /** Bumped by every message that should end a wait early. */
  wakeups: number;
  /** Phase and health last written to search attributes and the store. */
  published: string;
}

/** Runs one device: see the module comment. Returns the final status when decommissioned. */
export async function deviceWorkflow(input: DeviceWorkflowInput): Promise<DeviceStatus> {
  const device: Device = {
    input,
    settings: resolveSettings(input),
    state: initialState(input),
    wakeups: 0,
    published: '',
  };
  registerHandlers(device);
  await publishStatus(device);

  while (!device.state.decommissioned && !continueAsNewDue(device)) {
    await raiseDueHealthConditions(device);
    await publishStatus(device);

    if (device.state.paused) await waitForWakeup(device, undefined);
    else if (device.state.phase === 'polling') await pollOnce(device);
    else await onboard(device);

    await startRemediations(device.input.orgId, device.state);
  }

  await condition(allHandlersFinished);
  if (device.state.decommissioned) {
    await publishStatus(device);
    return deviceStatus(input, device.state);
  }

  device.state.counters.continuedAsNew += 1;
  log.info('continuing as new', { historyLength: workflowInfo().historyLength, cursor: device.state.cursor });
  return continueAsNew<typeof deviceWorkflow>({ ...input, state: device.state });
}

function registerHandlers(device: Device): void {
  const { state } = device;
  const wake = (): void => {
    device.wakeups += 1;
  };

  setHandler(pauseSignal, () => {
    state.paused = true;
    wake();
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
    wake();
  });
  setHandler(pollNowSignal, () => {
    state.pollNowRequests += 1;
    wake();
  });
  setHandler(setPreferencesSignal, (preferences) => {
    state.preferences = { ...state.preferences, ...preferences };
    log.info('preferences changed', { ...state.preferences });
    wake();
  });
  setHandler(decommissionSignal, ({ reason }) => {
    log.info('decommission requested', { reason });
    state.decommissioned = true;
    wake();
  });
  setHandler(replaceCredentialsUpdate, (credentials) => replaceCredentials(device, credentials), {
    validator: validateCredentialsRef,
  });
  setHandler(getStatusQuery, () => deviceStatus(device.input, state));
}

// Update validators must be synchronous: an async one that throws does not reject the update.
function validateCredentialsRef(credentials: CredentialsRef): void {
  if (typeof credentials?.principal !== 'string' || credentials.principal.trim() === '') {
    throw new Error('principal is missing');
  }
  if (typeof credentials.secretRef !== 'string' || credentials.secretRef.trim() === '') {
    throw new Error('secretRef is missing');
  }
}

async function replaceCredentials(device: Device, credentials: CredentialsRef): Promise<DeviceStatus> {
  let result;
  try {
    result = await checkCredentials({ ...deviceRef(device), credentials });
  } catch (err) {
    recordTapCalls(device.state, tapCallsOfFailure(err), new Date().toISOString());
    throw err;
  }
  recordTapCalls(device.state, result.tapCalls, new Date().toISOString());
  if (!result.accepted) {
    throw ApplicationFailure.nonRetryable(
      `TAP rejected the new credentials: ${result.reason}`,
      'TapCredentialsRejected',
    );
  }

  device.state.credentials = credentials;
  await credentialsAccepted(device);
  device.wakeups += 1;
  return deviceStatus(device.input, device.state);
}

async function onboard(device: Device): Promise<void> {
  const { state } = device;
  const checked = state.credentials;
  let result;
  try {
    result = await checkCredentials({ ...deviceRef(device), credentials: checked });
    recordTapCalls(state, result.tapCalls, new Date().toISOString());
  } catch (err) {
    recordTapCalls(state, tapCallsOfFailure(err), new Date().toISOString());
    applyPollError(state, failureMessage(err), new Date().toISOString());
    await raiseDueHealthConditions(device, ['polling_failed']);
    await publishStatus(device);
    await waitForWakeup(device, device.settings.pollIntervalMs);
    return;
  }

  // The replaceCredentials update may have installed newer credentials during the check.
  if (state.credentials !== checked) return;
  if (result.accepted) return credentialsAccepted(device);
  await credentialsRejected(device, result.reason ?? 'rejected');
  await waitForWakeup(device, device.settings.credentialRetryIntervalMs);
}

async function credentialsAccepted(device: Device): Promise<void> {
  const { state } = device;
  const wasRejected = state.credentialsError !== null;
  state.credentialsError = null;
  if (state.phase !== 'decommissioned') state.phase = 'polling';
  if (wasRejected)
    await recordHealthCondition({ ...deviceRef(device), condition: 'credentials_rejected', active: false });
  await publishStatus(device);
}

async function credentialsRejected(device: Device, reason: string): Promise<void> {
  const { state } = device;
  const first = state.credentialsError === null;
  state.credentialsError = reason;
  state.phase = 'credentials_rejected';
  if (first) {
    await recordHealthCondition({ ...deviceRef(device), condition: 'credentials_rejected', active: true, reason });
  }
  await publishStatus(device);
}

async function pollOnce(device: Device): Promise<void> {
  const { state, settings } = device;
  const polledWith = state.credentials;
  state.pollNowRequests = 0;

  // Slow down before TAP returns HTTP 429: wait until the rolling 24-hour budget has a call left.
  const budgetWaitMs = tapBudgetWaitMs(state, Date.now());
  if (budgetWaitMs > 0) return waitForWakeup(device, budgetWaitMs);

  let summary: PollSummary;
  try {
    const after = state.cursor ? `after ${state.cursor}` : 'first window';
    summary = await pollTap.executeWithOptions({ ...activityOptions, summary: `Poll TAP SIEM (${after})` }, [
      {
        ...deviceRef(device),
        credentials: state.credentials,
        cursor: state.cursor,
        cursorFetchedAt: state.cursorFetchedAt,
        autoRemediateDelivered: state.preferences.autoRemediateDelivered,
        initialLookBackMs: settings.initialLookBackMs,
      },
    ]);
  } catch (err) {
    recordTapCalls(state, tapCallsOfFailure(err), new Date().toISOString());
    // A rejection of credentials that an update has replaced meanwhile is stale.
    if (isCredentialFailure(err) && state.credentials !== polledWith) return;
    if (isCredentialFailure(err)) return credentialsRejected(device, failureMessage(err));
    applyPollError(state, failureMessage(err), new Date().toISOString());
    await raiseDueHealthConditions(device, ['polling_failed']);
    await publishStatus(device);
    return waitForWakeup(device, settings.pollIntervalMs);
  }

  const cleared = applyPoll(state, summary, new Date().toISOString());
  for (const healthCondition of cleared) {
    await recordHealthCondition({ ...deviceRef(device), condition: healthCondition, active: false });
  }
  // A throttled poll (HTTP 429) counts as failed and may complete a polling_failed streak.
  if (summary.throttledForMs > 0) await raiseDueHealthConditions(device, ['polling_failed']);
  await publishStatus(device);

  // Deletion must not wait for the next poll interval: start the children of this poll now.
  await startRemediations(device.input.orgId, state);

  // Catch-up: the next window is already due, so poll again without sleeping.
  if (summary.throttledForMs > 0) return waitForWakeup(device, summary.throttledForMs);
  if (!summary.caughtUp) return;
  await waitForWakeup(device, settings.pollIntervalMs);
}

/** Patch id of the polling_failed health condition, for runs whose history predates it. */
const POLLING_FAILED_PATCH = 'health-polling-failed';

/**
 * Raises the health conditions that are due, or only those in `only`: a failed poll raises just
 * `polling_failed` at once, and the deadlines wait for the main loop as before.
 */
async function raiseDueHealthConditions(device: Device, only?: readonly HealthCondition[]): Promise<void> {
  const { state, settings, input } = device;
  const due = dueHealthConditions(state, input.createdAt, settings, Date.now()).filter(
    (healthCondition) => only === undefined || only.includes(healthCondition),
  );
  let raised = 0;
  for (const healthCondition of due) {
    // Runs started before polling_failed existed raised nothing here; the patch marker keeps
    // their histories replaying.
    if (healthCondition === 'polling_failed' && !patched(POLLING_FAILED_PATCH)) continue;
    raised += 1;
    if (healthCondition === 'not_polling') state.notPollingRaised = true;
    if (healthCondition === 'no_data') state.noDataRaised = true;
    if (healthCondition === 'polling_failed') state.pollingFailedRaised = true;
    await recordHealthCondition({
      ...deviceRef(device),
      condition: healthCondition,
      active: true,
      reason: dueReason(healthCondition, settings, state),
    });
  }
  if (raised > 0) await publishStatus(device);
}

function dueReason(healthCondition: HealthCondition, settings: DeviceSettings, state: DeviceState): string {
  if (healthCondition === 'not_polling') {
    return `no successful TAP poll within ${settings.notPollingDeadlineMs / 60_000} minutes of the device's creation`;
  }
  if (healthCondition === 'no_data') {
    return `no TAP event received within ${settings.noDataDeadlineMs / 60_000} minutes of the device's creation`;
  }
  const { count, since } = state.pollFailures;
  return `${count} TAP polls in a row failed since ${since}; last error: ${state.lastPoll?.error ?? 'unknown'}`;
}

/** Waits for `ms` (or forever when undefined), ending early on a message, a due deadline or continue-as-new. */
async function waitForWakeup(device: Device, ms: number | undefined): Promise<void> {
  const seen = device.wakeups;
  const untilDeadline = msUntilNextDeadline(device.state, device.input.createdAt, device.settings, Date.now());
  const timeouts = [ms, untilDeadline].filter((value): value is number => value !== undefined);
  const woken = () => device.wakeups !== seen || continueAsNewDue(device);

  if (timeouts.length === 0) await condition(woken);
  else await condition(woken, Math.max(1, Math.min(...timeouts)));
}

/** Updates the search attributes, the Web UI details and the store's device status when they change. */
async function publishStatus(device: Device): Promise<void> {
  const status = deviceStatus(device.input, device.state);
  setCurrentDetails(statusDetails(status));

  const published = `${status.phase}/${status.health}`;
  if (published === device.published) return;
  device.published = published;

  upsertSearchAttributes([
    { key: ORG_ID, value: device.input.orgId },
    { key: DEVICE_ID, value: device.input.deviceId },
    { key: DEVICE_HEALTH, value: status.health },
  ]);
  await reportDeviceStatus({ ...deviceRef(device), phase: status.phase, health: deviceHealth(device.state) });
}

function continueAsNewDue(device: Device): boolean {
  const info = workflowInfo();
  const hook = device.settings.maxHistoryLength;
  return info.continueAsNewSuggested || (hook !== undefined && info.historyLength >= hook);
}

function deviceRef(device: Device): { orgId: string; deviceId: string } {
  return { orgId: device.input.orgId, deviceId: device.input.deviceId };
}

function isCredentialFailure(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    (err.cause.type === TapAuthError.name || err.cause.type === TapForbiddenError.name)
  );
}

/**
 * Returns the TAP requests that a failed device activity sent, counting the attempts that
 * Temporal retried before the failure. The activity puts the count in its failure details. A
 * timeout carries no count, because a crashed or stalled attempt reports nothing, so it is
 * counted as one request per attempt.
 */
function tapCallsOfFailure(err: unknown): number {
  if (!(err instanceof ActivityFailure)) return 0;
  if (err.cause instanceof ApplicationFailure) {
    const details: unknown = err.cause.details?.[0];
    const calls = typeof details === 'object' && details !== null ? (details as { tapCalls?: unknown }).tapCalls : null;
    if (typeof calls === 'number' && Number.isInteger(calls) && calls >= 0) return calls;
  }
  const retried = err.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  return retried ? (activityOptions.retry?.maximumAttempts ?? 1) : 1;
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
