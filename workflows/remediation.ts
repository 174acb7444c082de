/**
 * The remediation workflow (`remediateAlert`, workflow id `tap-remediation:<org>:<alert>`):
 * deletes one alert's message from every recipient's mailbox, in batches of recipients per
 * activity, and leaves the status and per-recipient results on the alert.
 *
 * The workflow carries ids and counts only. Activities read the recipients from the store and
 * record each recipient's result as soon as it is final. So a retried batch, a restarted
 * worker, a signal or a second run under the same id handles only recipients without a result.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { RemovalAction } from '../activities/email/types.ts';
import type { createRemediationActivities } from '../activities/remediation.ts';
import { RECIPIENTS_ADDED_SIGNAL } from './device-remediation.ts';
import {
  DEFAULT_REMEDIATION_SETTINGS,
  type RemediationPhase,
  type RemediationSettings,
  type RemediationState,
  type RemediationView,
  type RemediationWorkflowInput,
} from './remediation-types.ts';

/** Tells a running remediation that the alert gained recipients; the next batch picks them up. */
export const recipientsAddedSignal = defineSignal(RECIPIENTS_ADDED_SIGNAL);
/** Returns the remediation's phase, action, counters and reason. */
export const remediationStatusQuery = defineQuery<RemediationView>('getRemediationStatus');

type RemediationActivities = ReturnType<typeof createRemediationActivities>;

/** Per-run context shared by the steps below. */
interface Remediation {
  input: RemediationWorkflowInput;
  settings: RemediationSettings;
  state: RemediationState | null;
  phase: RemediationPhase;
  remaining: number | null;
  reason: string | null;
  /** Bumped by every {@link recipientsAddedSignal}. */
  signals: number;
}

/** Runs one alert's remediation: see the module comment. Fails when the final status is `failed`. */
export async function remediateAlert(input: RemediationWorkflowInput): Promise<RemediationView> {
  const run: Remediation = {
    input,
    settings: { ...DEFAULT_REMEDIATION_SETTINGS, ...input.settings },
    state: input.state ?? null,
    phase: input.state ? 'running' : 'pending',
    remaining: null,
    reason: null,
    signals: 0,
  };
  registerHandlers(run);
  const { beginRemediation, finishRemediation } = quickActivities();

  let failure: string | null = null;
  try {
    run.state ??= newState(await beginRemediation({ ...ref(run), requested: input.action ?? null }));
  } catch (err) {
    failure = failureMessage(err);
  }

  for (;;) {
    if (failure === null) {
      const outcome = await removeAll(run);
      if (outcome === CONTINUE_AS_NEW) return continueAsNewWithState(run);
      failure = outcome;
    }

    const signalsBefore = run.signals;
    const finish = await finishRemediation({ ...ref(run), action: run.state?.action ?? null, failure });
    // Recipients added after the last batch (store or signal) get a batch of their own first.
    const more = finish.status === 'running' || run.signals !== signalsBefore;
    if (failure === null && more) continue;

    return finished(run, finish.status, finish.reason);
  }
}

function registerHandlers(run: Remediation): void {
  setHandler(recipientsAddedSignal, () => {
    run.signals += 1;
    log.info('recipients added', { ...ref(run), signals: run.signals });
  });
  setHandler(remediationStatusQuery, () => view(run));
}

/** Result of {@link removeAll} that requests continue-as-new. */
const CONTINUE_AS_NEW = Symbol('continue-as-new');

/**
 * Runs batches until no recipient is left. Returns null when done, {@link CONTINUE_AS_NEW}
 * when the history should be cut, or the plain reason when a batch failed for good.
 */
async function removeAll(run: Remediation): Promise<string | null | typeof CONTINUE_AS_NEW> {
  const { remediateBatch } = batchActivities(run.settings);
  const state = run.state!;

  for (;;) {
    if (continueAsNewDue(run)) return CONTINUE_AS_NEW;
    try {
      const batch = await remediateBatch({
        ...ref(run),
        action: state.action,
        batchSize: run.settings.batchSize,
        chunkSize: run.settings.chunkSize,
      });
      run.phase = 'running';
      state.counters.batches += 1;
      state.counters.handled += batch.handled;
      state.counters.copies += batch.copies;
      run.remaining = batch.remaining;
      if (batch.remaining === 0) return null;
    } catch (err) {
      return failureMessage(err);
    }
  }
}

async function continueAsNewWithState(run: Remediation): Promise<RemediationView> {
  await condition(allHandlersFinished);
  const state = run.state!;
  state.counters.continuedAsNew += 1;
  log.info('continuing as new', { ...ref(run), historyLength: workflowInfo().historyLength });
  return continueAsNew<typeof remediateAlert>({ ...run.input, state });
}

/** Records the final phase; a `failed` remediation fails the workflow so the Web UI shows it. */
async function finished(run: Remediation, phase: string, reason: string | null): Promise<RemediationView> {
  run.phase = phase === 'done' || phase === 'partial' ? phase : 'failed';
  run.reason = reason;
  await condition(allHandlersFinished);
  if (run.phase === 'failed') {
    throw ApplicationFailure.nonRetryable(reason ?? 'remediation failed', 'RemediationFailed', view(run));
  }
  return view(run);
}

function quickActivities() {
  return proxyActivities<RemediationActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 20 },
  });
}

/**
 * Batches retry throttling and outages with backoff (or the API's Retry-After) until
 * `retryTimeoutMs` has passed since the first attempt, then give up.
 */
function batchActivities(settings: RemediationSettings) {
  return proxyActivities<RemediationActivities>({
    startToCloseTimeout: '15 minutes',
    scheduleToCloseTimeout: settings.retryTimeoutMs,
    heartbeatTimeout: settings.heartbeatTimeoutMs,
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  });
}

function newState(action: RemovalAction): RemediationState {
  return { action, counters: { batches: 0, handled: 0, copies: 0, continuedAsNew: 0 } };
}

function continueAsNewDue(run: Remediation): boolean {
  const info = workflowInfo();
  const hook = run.settings.maxHistoryLength;
  return info.continueAsNewSuggested || (hook !== undefined && info.historyLength >= hook);
}

function view(run: Remediation): RemediationView {
  return {
    orgId: run.input.orgId,
    alertId: run.input.alertId,
    phase: run.phase,
    action: run.state?.action ?? null,
    counters: run.state?.counters ?? { batches: 0, handled: 0, copies: 0, continuedAsNew: 0 },
    remaining: run.remaining,
    reason: run.reason,
  };
}

function ref(run: Remediation): { orgId: string; alertId: string } {
  return { orgId: run.input.orgId, alertId: run.input.alertId };
}

/**
 * Returns the plain reason of a failed activity: its last error, marked when the retry time
 * limit (`retryTimeoutMs`) ran out. Other errors fail the workflow task, which retries.
 */
function failureMessage(err: unknown): string {
  if (!(err instanceof ActivityFailure)) throw err;
  const cause = err.cause;
  const last =
    cause instanceof TimeoutFailure ? (cause.cause?.message ?? cause.message) : (cause?.message ?? err.message);
  if (err.retryState === RetryState.TIMEOUT) return `gave up after retrying for the retry time limit: ${last}`;
  return last;
}
