/**
 * Types of the remediation workflow's input, carried state and status. Kept apart from the
 * workflow so that activities and CLI commands can import them without workflow code.
 */
import type { RemovalAction } from '../activities/email/types.ts';
import type { RemediationStatus } from '../activities/store/types.ts';

/** Timing and batching of one remediation. Every field has a default. */
export interface RemediationSettings {
  /** Recipients handled per activity; their results are recorded every {@link chunkSize}. */
  batchSize: number;
  /** Recipients per provider call (a Graph `$batch` contains at most 20 requests). */
  chunkSize: number;
  /** How long the batch activity keeps retrying throttled or unavailable APIs before giving up. */
  retryTimeoutMs: number;
  /** The server retries a batch on another worker when no heartbeat arrives for this long. */
  heartbeatTimeoutMs: number;
  /**
   * Test hook: continue-as-new once history has this many events, in addition to the
   * server's own suggestion. Unset in production.
   */
  maxHistoryLength?: number;
}

/** Defaults: 100 recipients per activity in chunks of 20, retries for 6 hours, 1-minute heartbeat timeout. */
export const DEFAULT_REMEDIATION_SETTINGS: RemediationSettings = {
  batchSize: 100,
  chunkSize: 20,
  retryTimeoutMs: 6 * 60 * 60_000,
  heartbeatTimeoutMs: 60_000,
};

/** Counts of one remediation so far; carried across continue-as-new. */
export interface RemediationCounters {
  /** Batch activities completed. */
  batches: number;
  /** Recipients this workflow recorded a result for. */
  handled: number;
  /** Copies removed (for a dry run: 0). */
  copies: number;
  continuedAsNew: number;
}

/** Everything the workflow carries from one run to the next. */
export interface RemediationState {
  action: RemovalAction;
  counters: RemediationCounters;
}

/**
 * Input of the remediation workflow. The device workflow passes `orgId` and `alertId` only;
 * `tap-mdr remediate` may add `action`. `state` is set only by continue-as-new.
 */
export interface RemediationWorkflowInput {
  orgId: string;
  alertId: string;
  /** Overrides the organization's configured action. */
  action?: RemovalAction;
  settings?: Partial<RemediationSettings>;
  state?: RemediationState;
}

/** Phase of the workflow: the alert's status while it runs, then the final status. */
export type RemediationPhase = Exclude<RemediationStatus, 'none'>;

/** Status of a remediation, returned by the status query and by the completed workflow. */
export interface RemediationView {
  orgId: string;
  alertId: string;
  phase: RemediationPhase;
  /** Null until the first activity has read the organization's configuration. */
  action: RemovalAction | null;
  counters: RemediationCounters;
  /** Recipients without a result after the latest batch. */
  remaining: number | null;
  /** Plain reason of the final status, or of the latest failed attempt while running. */
  reason: string | null;
}
