/**
 * Activities of the device workflow: credential checks, one TAP poll, and status reports to
 * the Workbench store. Each takes ids and references and returns a small summary; TAP
 * responses and secrets never leave the activity.
 */
import { ApplicationFailure, Context, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { openSecret } from './secrets.ts';
import type { WorkbenchStore } from './store/types.ts';
import { TapClient } from './tap/client.ts';
import { TapAuthError, TapError, TapForbiddenError, TapStartTooOldError, TapThrottledError } from './tap/errors.ts';
import { planWindows, type DataGap, type TapWindow } from './tap/windows.ts';
import type { TapSiemBatch } from './tap/types.ts';
import type { CredentialsRef, DeviceHealth, DevicePhase } from '../workflows/device-types.ts';

/** Identifies one device. */
export interface DeviceRef {
  orgId: string;
  deviceId: string;
}

/** Result of a credential check. */
export interface CredentialCheckResult {
  accepted: boolean;
  /** Error code when rejected, for example `TAP_AUTH_FAILED`. */
  code: string | null;
  /** Plain reason when rejected; never contains the secret. */
  reason: string | null;
  /** TAP requests the check sent, counting the attempts that Temporal retried before this one. */
  tapCalls: number;
}

/** Input of {@link DeviceActivities.pollTap}. */
export interface PollRequest extends DeviceRef {
  credentials: CredentialsRef;
  /** End of the last window whose events are stored; null before the first poll. */
  cursor: string | null;
  /** Value of the auto-deletion preference in force for this poll. */
  autoRemediateDelivered: boolean;
  /** When the window that ends at `cursor` was fetched (ISO-8601); narrows the look-back. */
  cursorFetchedAt: string | null;
  /** How far back the first poll reads, in milliseconds; used only while `cursor` is null. */
  initialLookBackMs?: number;
}

/** Summary of one poll, small enough for workflow history. */
export interface PollSummary {
  /** `idle` when less than 30 s of new time existed, so TAP was not called. */
  result: 'ok' | 'idle';
  window: TapWindow | null;
  /** Events TAP returned, invalid ones included. */
  events: number;
  stored: number;
  duplicates: number;
  suppressed: number;
  invalid: number;
  alertsCreated: number;
  /** Alerts that need an auto-deletion child workflow. */
  remediationAlertIds: string[];
  /** The cursor to carry: advanced only after the window's events were stored. */
  cursor: string | null;
  /** When the window ending at `cursor` was fetched; carry it with the cursor. */
  cursorFetchedAt: string | null;
  /** False while more windows are due at once (catch-up after downtime). */
  caughtUp: boolean;
  /** Time lost to TAP's 7-day limit, in milliseconds; 0 normally. */
  dataGapMs: number;
  /** TAP requests this poll sent, counting the attempts that Temporal retried before this one. */
  tapCalls: number;
  /** Wait before the next call when TAP returned HTTP 429, in milliseconds; 0 otherwise. */
  throttledForMs: number;
}

/** Input of {@link DeviceActivities.reportDeviceStatus}. */
export interface DeviceStatusReport extends DeviceRef {
  phase: DevicePhase;
  health: DeviceHealth;
}

/** A health condition raised (`active`) or cleared. */
export interface HealthConditionReport extends DeviceRef {
  condition: 'not_polling' | 'no_data' | 'credentials_rejected' | 'polling_failed';
  active: boolean;
  reason?: string;
}

/** Dependencies of the device activities. */
export interface DeviceActivityDependencies {
  store: WorkbenchStore;
  secretKey: Buffer;
  /** Clock for window planning; tests may pin it. */
  now?: () => Date;
  /** Per-request timeout of TAP calls, in milliseconds. */
  tapTimeoutMs?: number;
}

/** Creates the device activities bound to their dependencies. */
export function createDeviceActivities(deps: DeviceActivityDependencies) {
  const now = deps.now ?? (() => new Date());

  async function tapClientFor(ref: DeviceRef, credentials: CredentialsRef): Promise<TapClient> {
    const device = await deps.store.getDevice(ref.orgId, ref.deviceId);
    if (!device) {
      throw ApplicationFailure.nonRetryable(
        `device ${ref.orgId}:${ref.deviceId} is not in the store`,
        'DeviceNotFound',
      );
    }
    const sealed = await deps.store.getSecret(credentials.secretRef);
    if (sealed === null) {
      throw ApplicationFailure.nonRetryable(`secret ${credentials.secretRef} is not in the store`, 'SecretNotFound');
    }
    const secret = openSecret(sealed, credentials.secretRef, deps.secretKey);
    return new TapClient({
      baseUrl: device.tapBaseUrl,
      principal: credentials.principal,
      secret,
      now,
      timeoutMs: deps.tapTimeoutMs,
    });
  }

  /** Fetches and stores one window. {@link pollTap} adds the count of TAP requests. */
  async function pollWindow(client: TapClient, request: PollRequest): Promise<Omit<PollSummary, 'tapCalls'>> {
    const planOptions = { maxWindows: 1, initialLookBackMs: request.initialLookBackMs };
    const previous = { fetchedAt: request.cursorFetchedAt };
    const fetchedAt = now().toISOString();
    const plan = planWindows(request.cursor, fetchedAt, planOptions, previous);
    const window = plan.windows[0];
    const base = emptySummary(request.cursor, request.cursorFetchedAt, plan.gap);
    if (!window) return { ...base, result: 'idle' };

    let batch: TapSiemBatch;
    try {
      batch = await client.fetchAll(window, { signal: cancellationSignal() });
    } catch (err) {
      if (err instanceof TapThrottledError) {
        log.warn('TAP throttled the device', { ...refOf(request), retryAfterMs: err.retryAfterMs });
        return { ...base, result: 'idle', caughtUp: false, throttledForMs: err.retryAfterMs };
      }
      if (!(err instanceof TapStartTooOldError)) throw err;

      // The planner keeps a margin inside the 7-day limit; TAP's clock may still disagree,
      // so skip the window's first hour rather than failing the device forever.
      const replanned = planWindows(
        request.cursor,
        fetchedAt,
        { ...planOptions, maxAgeMarginMs: 75 * 60_000 },
        previous,
      );
      if (!replanned.windows[0]) return { ...base, result: 'idle' };
      batch = await client.fetchAll(replanned.windows[0], { signal: cancellationSignal() });
      Object.assign(plan, replanned);
    }
    heartbeat({ window, events: batch.events.length });

    // TAP returns the JSON structure for every JSON request, even for a quiet window. A 204 or
    // an empty body proves nothing about the window, so fetch it again rather than advance.
    if (batch.queryEndTime === null && batch.events.length === 0 && batch.invalid.length === 0) {
      throw ApplicationFailure.retryable(
        `TAP returned an empty response (HTTP 204 or no body) for ${window.start}/${window.end}; the window is fetched again`,
        'TapEmptyResponse',
      );
    }

    const ingest = await deps.store.ingest(
      { orgId: request.orgId, deviceId: request.deviceId, autoRemediateDelivered: request.autoRemediateDelivered },
      batch.events,
      batch.invalid,
    );

    return {
      result: 'ok',
      window: plan.windows[0] ?? window,
      events: batch.events.length + batch.invalid.length,
      stored: ingest.stored,
      duplicates: ingest.duplicates,
      suppressed: ingest.suppressed,
      invalid: ingest.invalid,
      alertsCreated: ingest.alertsCreated.length,
      remediationAlertIds: ingest.remediationAlertIds,
      cursor: plan.nextCursor,
      cursorFetchedAt: fetchedAt,
      caughtUp: !plan.truncated,
      dataGapMs: plan.gap?.durationMs ?? 0,
      throttledForMs: 0,
    };
  }

  return {
    /**
     * Checks credentials with one small TAP call; a rejection is a result, not an error. A failure
     * carries the TAP requests sent in its details (see {@link failureWithTapCalls}).
     */
    async checkCredentials(request: DeviceRef & { credentials: CredentialsRef }): Promise<CredentialCheckResult> {
      const earlier = earlierAttemptRequests();
      let client: TapClient | null = null;
      try {
        client = await tapClientFor(request, request.credentials);
        await client.checkCredentials({ signal: cancellationSignal() });
        log.info('TAP accepted the credentials', { ...request.credentials, secretRef: undefined, ...refOf(request) });
        return { accepted: true, code: null, reason: null, tapCalls: earlier + client.requestsSent };
      } catch (err) {
        const tapCalls = earlier + (client?.requestsSent ?? 0);
        if (err instanceof TapAuthError || err instanceof TapForbiddenError) {
          log.warn('TAP rejected the credentials', { ...refOf(request), code: err.code, reason: err.message });
          return { accepted: false, code: err.code, reason: err.message, tapCalls };
        }
        throw failureWithTapCalls(err, tapCalls);
      }
    },

    /**
     * Fetches the next window after the cursor, stores its events through the detection stage,
     * and returns the summary. The cursor advances only once `ingest` has committed. A failure
     * carries the TAP requests sent in its details (see {@link failureWithTapCalls}).
     */
    async pollTap(request: PollRequest): Promise<PollSummary> {
      const earlier = earlierAttemptRequests();
      let client: TapClient | null = null;
      try {
        client = await tapClientFor(request, request.credentials);
        const summary: PollSummary = {
          ...(await pollWindow(client, request)),
          tapCalls: earlier + client.requestsSent,
        };
        if (summary.result === 'ok') {
          log.info('TAP poll stored', {
            ...refOf(request),
            ...summary,
            remediationAlertIds: summary.remediationAlertIds.length,
          });
        }
        return summary;
      } catch (err) {
        throw failureWithTapCalls(err, earlier + (client?.requestsSent ?? 0));
      }
    },

    /** Writes the device's phase and health to the store, for `tap-mdr device list`. */
    async reportDeviceStatus(report: DeviceStatusReport): Promise<void> {
      await deps.store.updateDeviceStatus(report.orgId, report.deviceId, {
        status: report.phase,
        health: report.health,
      });
    },

    /** Raises or clears a device-health alert in the queue. */
    async recordHealthCondition(report: HealthConditionReport): Promise<void> {
      await deps.store.recordDeviceHealth(
        report.orgId,
        report.deviceId,
        report.condition,
        report.active,
        report.reason ?? null,
      );
      log.info(report.active ? 'device health condition raised' : 'device health condition cleared', { ...report });
    },
  };
}

function refOf(ref: DeviceRef): DeviceRef {
  return { orgId: ref.orgId, deviceId: ref.deviceId };
}

function emptySummary(
  cursor: string | null,
  cursorFetchedAt: string | null,
  gap: DataGap | null,
): Omit<PollSummary, 'tapCalls'> {
  return {
    result: 'idle',
    window: null,
    events: 0,
    stored: 0,
    duplicates: 0,
    suppressed: 0,
    invalid: 0,
    alertsCreated: 0,
    remediationAlertIds: [],
    cursor,
    cursorFetchedAt,
    caughtUp: true,
    dataGapMs: gap?.durationMs ?? 0,
    throttledForMs: 0,
  };
}

/**
 * Returns an estimate of the TAP requests that earlier attempts of the running activity sent:
 * one per attempt. Temporal retries a failed attempt without telling the workflow, and an
 * attempt's failure reaches no later attempt, so each attempt adds this estimate to its own
 * exact count. A failed attempt sends one request on every path but two.
 *
 * NOTE: an attempt that failed before its request (the store was unreachable) is counted once
 * too many, and one that re-planned after TAP's 400 "start time too far in the past" and then
 * failed sent two requests, one more than counted.
 */
function earlierAttemptRequests(): number {
  return Context.current().info.attempt - 1;
}

/**
 * Returns the failure that a device activity throws for `err`: an ApplicationFailure whose
 * details carry the TAP requests sent (`{ tapCalls }`, with `code` and `status` for a TAP error),
 * so that the workflow counts them in its budget. A TAP client error keeps its class name as
 * type, so that the retry policy can match it, and an ApplicationFailure keeps its type and
 * retry decision. A cancellation passes through unchanged.
 */
function failureWithTapCalls(err: unknown, tapCalls: number): unknown {
  if (cancellationSignal().aborted) return err;
  if (err instanceof TapError) {
    return ApplicationFailure.create({
      type: err.name,
      message: err.message,
      nonRetryable: !err.retryable,
      details: [{ code: err.code, status: err.status, tapCalls }],
    });
  }
  if (err instanceof ApplicationFailure) {
    const [first, ...rest] = err.details ?? [];
    const details = typeof first === 'object' && first !== null ? { ...first, tapCalls } : { tapCalls };
    return ApplicationFailure.create({
      type: err.type ?? undefined,
      message: err.message,
      nonRetryable: err.nonRetryable === true,
      nextRetryDelay: err.nextRetryDelay,
      cause: err.cause,
      details: [details, ...rest],
    });
  }
  const error = err instanceof Error ? err : new Error(String(err));
  return ApplicationFailure.create({ type: error.name, message: error.message, cause: error, details: [{ tapCalls }] });
}
