/**
 * Activities of the remediation workflow: resolve the alert and the organization's mail
 * provider, delete the message from one batch of recipients, and record the final status.
 *
 * Each activity reads the alert's recipients and results from the Workbench store, so the
 * workflow carries ids only, and a recipient that already has a result is never handled
 * again, whichever attempt, run or worker recorded it.
 */
import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import {
  createMailProvider,
  EmailProviderConfigError,
  type DeferredRecipient,
  type MailboxResult,
  type MailProvider,
  type ProviderRuntimeOptions,
  type RemovalAction,
} from './email/index.ts';
import { openSecret, SecretError } from './secrets.ts';
import type { RecipientResult, RemediationStatus, RemediationTarget, WorkbenchStore } from './store/types.ts';

/** Dependencies of the remediation activities, supplied by the worker. */
export interface RemediationActivityDependencies {
  store: WorkbenchStore;
  secretKey: Buffer;
  /** Connection settings of the mail providers, for example the CA certificate of a local simulator. */
  mail?: ProviderRuntimeOptions;
}

/** Identifies one alert's remediation. */
export interface RemediationRef {
  orgId: string;
  alertId: string;
}

/** Input of {@link RemediationActivities.remediateBatch}. */
export interface BatchRequest extends RemediationRef {
  action: RemovalAction;
  /** Recipients handled by this call at most. */
  batchSize: number;
  /** Recipients per provider call; results are recorded after each one. */
  chunkSize: number;
}

/** Summary of one batch, small enough for workflow history. */
export interface BatchSummary {
  handled: number;
  copies: number;
  /** Recipients still without a result after this batch. */
  remaining: number;
}

/** Input of {@link RemediationActivities.finishRemediation}. */
export interface FinishRequest extends RemediationRef {
  action: RemovalAction | null;
  /** Reason the workflow stopped early, or null when every batch succeeded. */
  failure: string | null;
}

/** Result of {@link RemediationActivities.finishRemediation}. */
export interface FinishResult {
  /** `running` when recipients without a result remain and no failure was given: nothing was written. */
  status: RemediationStatus;
  remaining: number;
  reason: string | null;
}

/** Heartbeat details of a batch, read back by the next attempt of the same batch. */
interface BatchProgress {
  /** Copies removed from recipients whose result is not recorded yet. */
  copiesRemoved: Record<string, number>;
  /** Results recorded, and their copies, by this and earlier attempts. */
  handled: number;
  copies: number;
}

/** ApplicationFailure types the workflow treats as final. */
export const REMEDIATION_FAILURE_TYPES = {
  alertNotFound: 'AlertNotFound',
  notConfigured: 'EmailProviderNotConfigured',
  config: 'EmailProviderConfigError',
  retryLater: 'MailRetryLater',
} as const;

/** Creates the remediation activities bound to their dependencies. */
export function createRemediationActivities(deps: RemediationActivityDependencies) {
  const providers = new ProviderCache(deps);

  return {
    /**
     * Checks the alert and the organization's provider before any deletion and marks the alert
     * `pending`. Returns the action in force: `requested`, else the organization's default.
     */
    async beginRemediation(request: RemediationRef & { requested: RemovalAction | null }): Promise<RemovalAction> {
      const target = await loadTarget(deps.store, request);
      const provider = await deps.store.getEmailProvider(request.orgId);
      if (!provider) {
        throw ApplicationFailure.nonRetryable(
          `no email provider is configured for organization ${request.orgId}; configure one with ` +
            `\`tap-mdr email-provider set --org ${request.orgId}\`, then run \`tap-mdr remediate ${request.alertId}\``,
          REMEDIATION_FAILURE_TYPES.notConfigured,
        );
      }

      const action = request.requested ?? provider.action;
      // A follow-up run for new recipients keeps the earlier final status until its first batch.
      if (target.status === 'none') await deps.store.setRemediationStatus(request.alertId, 'pending');
      log.info('remediation begins', { ...refOf(request), action, recipients: target.recipients.length });
      return action;
    },

    /**
     * Handles up to `batchSize` recipients that have no result yet: finds and removes every
     * copy, records each final result, and heartbeats the copies removed in between. Throws a
     * retryable failure, with Retry-After as the next retry delay, when the API deferred
     * recipients, after recording the results of the others.
     */
    async remediateBatch(request: BatchRequest): Promise<BatchSummary> {
      const target = await loadTarget(deps.store, request);
      const pending = pendingRecipients(target);
      const batch = pending.slice(0, request.batchSize);
      if (batch.length === 0) return { handled: 0, copies: 0, remaining: 0 };
      if (target.status !== 'running') await deps.store.setRemediationStatus(request.alertId, 'running');

      const provider = await providers.get(request.orgId).catch(rethrowAsFailure);
      const progress = restoreProgress();
      const deferred: DeferredRecipient[] = [];
      let recordedNow = 0;

      for (let start = 0; start < batch.length; start += request.chunkSize) {
        const chunk = batch.slice(start, start + request.chunkSize);
        const outcome = await provider
          .findAndRemoveMany(chunk, target.messageId, request.action, {
            copiesRemovedEarlier: progress.copiesRemoved,
            onCopyRemoved: (recipient, removed) => {
              progress.copiesRemoved[recipient] = removed;
              heartbeat(progress);
            },
            signal: cancellationSignal(),
          })
          .catch(rethrowAsFailure);

        await deps.store.recordRecipientResults(request.alertId, outcome.results.map(toRecipientResult));
        for (const result of outcome.results) delete progress.copiesRemoved[result.recipient];
        for (const later of outcome.deferred) {
          if (later.copiesRemoved > 0) progress.copiesRemoved[later.recipient] = later.copiesRemoved;
        }
        recordedNow += outcome.results.length;
        progress.handled += outcome.results.length;
        progress.copies += outcome.results.reduce((sum, result) => sum + result.copies, 0);
        heartbeat(progress);
        deferred.push(...outcome.deferred);
      }
      const { handled, copies } = progress;

      log.info('remediation batch done', {
        ...refOf(request),
        handled,
        copies,
        deferred: deferred.length,
        remaining: pending.length - recordedNow,
      });
      if (deferred.length > 0) throw retryLater(deferred);
      return { handled, copies, remaining: pending.length - recordedNow };
    },

    /**
     * Sets the alert's final status from its recorded results: `done` when no recipient
     * failed, `failed` when none succeeded, `partial` otherwise. With no `failure` and
     * recipients still without a result (added since the last batch), it writes nothing and
     * returns `running`, so that the workflow handles them first.
     */
    async finishRemediation(request: FinishRequest): Promise<FinishResult> {
      const target = await deps.store.getRemediationTarget(request.alertId);
      if (!target) return { status: 'failed', remaining: 0, reason: `alert ${request.alertId} not found` };

      const remaining = pendingRecipients(target).length;
      if (request.failure === null && remaining > 0) return { status: 'running', remaining, reason: null };

      const { status, reason } = finalStatus(target, request, remaining);
      await deps.store.setRemediationStatus(request.alertId, status, reason);
      const fields = { ...refOf(request), status, reason, remaining };
      if (status === 'done') log.info('remediation finished', fields);
      else log.warn('remediation finished', fields);
      return { status, remaining, reason };
    },
  };
}

/** Mail providers per organization, rebuilt when the stored configuration changes, so tokens are reused. */
class ProviderCache {
  readonly #deps: RemediationActivityDependencies;
  readonly #providers = new Map<string, { stamp: string; provider: MailProvider }>();

  constructor(deps: RemediationActivityDependencies) {
    this.#deps = deps;
  }

  async get(orgId: string): Promise<MailProvider> {
    const { store, secretKey, mail } = this.#deps;
    const record = await store.getEmailProvider(orgId);
    if (!record) {
      throw ApplicationFailure.nonRetryable(
        `no email provider is configured for organization ${orgId}; configure one with \`tap-mdr email-provider set --org ${orgId}\``,
        REMEDIATION_FAILURE_TYPES.notConfigured,
      );
    }

    const stamp = `${record.updatedAt} ${JSON.stringify(record.config)}`;
    const cached = this.#providers.get(orgId);
    if (cached?.stamp === stamp) return cached.provider;

    const loadSecret = async (ref: string): Promise<string> => {
      const sealed = await store.getSecret(ref);
      if (sealed === null) {
        throw new EmailProviderConfigError(
          'invalid_config',
          `secret ${ref} of organization ${orgId}'s email provider is not in the store; store it again with \`tap-mdr email-provider set\``,
        );
      }
      return openSecret(sealed, ref, secretKey);
    };
    const provider = await createMailProvider(record.config, loadSecret, mail ?? {});
    this.#providers.set(orgId, { stamp, provider });
    return provider;
  }
}

async function loadTarget(store: WorkbenchStore, ref: RemediationRef): Promise<RemediationTarget> {
  const target = await store.getRemediationTarget(ref.alertId);
  if (!target || target.orgId !== ref.orgId) {
    throw ApplicationFailure.nonRetryable(
      `alert ${ref.alertId} of organization ${ref.orgId} is not in the Workbench store`,
      REMEDIATION_FAILURE_TYPES.alertNotFound,
    );
  }
  if (target.messageId === '') {
    throw ApplicationFailure.nonRetryable(
      `alert ${ref.alertId} has no Message-ID, so its message cannot be found in any mailbox`,
      REMEDIATION_FAILURE_TYPES.alertNotFound,
    );
  }
  return target;
}

/** Recipients without a recorded result, in the alert's order. Results are keyed by lower-cased address. */
function pendingRecipients(target: RemediationTarget): string[] {
  const done = new Set(target.done.map((result) => result.recipient.toLowerCase()));
  const seen = new Set<string>();
  return target.recipients.filter((recipient) => {
    const key = recipient.toLowerCase();
    if (done.has(key) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Reads the copies that an earlier attempt of this batch removed, from its last heartbeat. */
function restoreProgress(): BatchProgress {
  const details = activityInfo().heartbeatDetails as Partial<BatchProgress> | undefined;
  return {
    copiesRemoved: { ...(details?.copiesRemoved ?? {}) },
    handled: details?.handled ?? 0,
    copies: details?.copies ?? 0,
  };
}

function toRecipientResult(result: MailboxResult): RecipientResult {
  return {
    recipient: result.recipient,
    outcome: result.outcome,
    copies: result.copies,
    reason: result.reason,
    at: result.at,
  };
}

/**
 * Builds the retryable failure for deferred recipients. The longest Retry-After among them
 * becomes the next retry delay; without one, the retry policy's backoff applies.
 */
function retryLater(deferred: DeferredRecipient[]): ApplicationFailure {
  const delays = deferred.map((entry) => entry.retryAfterMs).filter((ms): ms is number => ms !== null);
  const first = deferred[0]!;
  return ApplicationFailure.create({
    type: REMEDIATION_FAILURE_TYPES.retryLater,
    message: `${deferred.length} recipients must be retried later (${first.code}): ${first.recipient}: ${first.reason}`,
    ...(delays.length > 0 ? { nextRetryDelay: Math.max(...delays) } : {}),
    details: [{ code: first.code, deferred: deferred.length }],
  });
}

/** Turns errors that retrying cannot fix into non-retryable failures; passes others through. */
function rethrowAsFailure(err: unknown): never {
  if (err instanceof EmailProviderConfigError) {
    throw ApplicationFailure.create({
      type: REMEDIATION_FAILURE_TYPES.config,
      message: err.message,
      nonRetryable: true,
      details: [{ code: err.code }],
    });
  }
  if (err instanceof SecretError) {
    throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true });
  }
  throw err;
}

function finalStatus(
  target: RemediationTarget,
  request: FinishRequest,
  remaining: number,
): { status: RemediationStatus; reason: string } {
  const count = (outcome: RecipientResult['outcome']) =>
    target.done.filter((result) => result.outcome === outcome).length;
  const failed = count('failed');
  const succeeded = target.done.length - failed;
  const copies = target.done.reduce((sum, result) => sum + result.copies, 0);

  const parts = [
    `${count('deleted')} deleted (${copies} copies)`,
    `${count('not_found')} not found`,
    `${count('skipped')} skipped`,
    `${failed} failed`,
  ];
  const firstFailure = target.done.find((result) => result.outcome === 'failed');
  if (firstFailure) parts.push(`first failure: ${firstFailure.recipient}: ${firstFailure.reason ?? 'no reason given'}`);
  const summary = `${request.action ?? 'remediation'}: ${parts.join(', ')}`;

  if (request.failure !== null) {
    return {
      status: succeeded > 0 ? 'partial' : 'failed',
      reason: `${request.failure}; ${remaining} of ${target.recipients.length} recipients not handled; ${summary}`,
    };
  }
  if (failed === 0) return { status: 'done', reason: summary };
  return { status: succeeded > 0 ? 'partial' : 'failed', reason: summary };
}

function refOf(ref: RemediationRef): RemediationRef {
  return { orgId: ref.orgId, alertId: ref.alertId };
}
