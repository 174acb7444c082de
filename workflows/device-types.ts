import type { TapCallBudgetState } from '../activities/tap/budget.ts';

/**
 * Types of the device workflow's input, carried state and status. Kept apart from the
 * workflow so that activities and CLI commands can import them without workflow code.
 */

/** Timing of one device workflow, in milliseconds. Every field has a default. */
export interface DeviceSettings {
  /** Time between polls once caught up. */
  pollIntervalMs: number;
  /** Counted from the device's creation: no successful poll by then marks it `not_polling`. */
  notPollingDeadlineMs: number;
  /** Counted from the device's creation: no event received by then marks it `no_data`. */
  noDataDeadlineMs: number;
  /** Time between credential checks while TAP rejects the credentials. */
  credentialRetryIntervalMs: number;
  /** How far back the first poll reads (backfill), at most TAP's 7 days. Default 1 hour. */
  initialLookBackMs: number;
  /**
   * Failed polls in a row (after the activity's own retries) that mark the device
   * `polling_failed`, once they also span {@link pollingFailedAfterMs}.
   */
  pollingFailedAfterPolls: number;
  /** Time from the first to the latest failed poll in a row that marks the device `polling_failed`. */
  pollingFailedAfterMs: number;
  /**
   * Test hook: continue-as-new once history has this many events, in addition to the
   * server's own suggestion. Unset in production.
   */
  maxHistoryLength?: number;
}

/**
 * Defaults: poll every 60 s, deadlines at 15 and 30 minutes, credential retries every 15 minutes
 * and 1 hour of backfill. A device is `polling_failed` after 3 failed polls in a row that span
 * 15 minutes, the same 15 minutes as the `not_polling` deadline.
 */
export const DEFAULT_DEVICE_SETTINGS: DeviceSettings = {
  pollIntervalMs: 60_000,
  notPollingDeadlineMs: 15 * 60_000,
  noDataDeadlineMs: 30 * 60_000,
  credentialRetryIntervalMs: 15 * 60_000,
  initialLookBackMs: 60 * 60_000,
  pollingFailedAfterPolls: 3,
  pollingFailedAfterMs: 15 * 60_000,
};

/** TAP credentials by reference: the secret itself stays encrypted in the store. */
export interface CredentialsRef {
  principal: string;
  /** Key of the encrypted secret in the Workbench store. */
  secretRef: string;
}

/** Organization preferences the device workflow applies to each poll. */
export interface DevicePreferences {
  /** `org.preference.email.auto_remediate_delivered` */
  autoRemediateDelivered: boolean;
}

/** Lifecycle phase of a device. */
export type DevicePhase = 'onboarding' | 'credentials_rejected' | 'polling' | 'paused' | 'decommissioned';

/** The search-attribute value of a device's health; the worst condition wins. */
export type DeviceHealth =
  'healthy' | 'pending' | 'credentials_rejected' | 'polling_failed' | 'not_polling' | 'no_data';

/** Failed polls since the last successful one. */
export interface PollFailureStreak {
  /** Failed polls in a row; 0 after a successful poll. */
  count: number;
  /** When the first failed poll of the streak was recorded (ISO-8601 UTC); null when `count` is 0. */
  since: string | null;
  /** When the latest failed poll was recorded (ISO-8601 UTC); null when `count` is 0. */
  latest: string | null;
}

/** Outcome of the latest poll. */
export interface LastPoll {
  /** ISO-8601 UTC. */
  at: string;
  result: 'ok' | 'idle' | 'error';
  events: number;
  /** Plain reason, without secrets, when `result` is `error`. */
  error: string | null;
}

/** Running totals since the device was created; carried across continue-as-new. */
export interface DeviceCounters {
  polls: number;
  pollErrors: number;
  events: number;
  stored: number;
  duplicates: number;
  suppressed: number;
  invalid: number;
  alertsCreated: number;
  remediationsStarted: number;
  continuedAsNew: number;
  /** Time lost to TAP's 7-day limit after a long outage, in milliseconds. */
  dataGapMs: number;
}

/** Everything the workflow carries from one run to the next. */
export interface DeviceState {
  phase: DevicePhase;
  paused: boolean;
  decommissioned: boolean;
  credentials: CredentialsRef;
  /** Plain reason TAP rejected the credentials; null when accepted or not yet checked. */
  credentialsError: string | null;
  /** End of the last window whose events are durably stored (ISO-8601 UTC); null before the first poll. */
  cursor: string | null;
  /** When the window ending at the cursor was fetched; lets the next poll skip a needless look-back. */
  cursorFetchedAt: string | null;
  firstPollAt: string | null;
  firstDataAt: string | null;
  notPollingRaised: boolean;
  noDataRaised: boolean;
  pollingFailedRaised: boolean;
  pollFailures: PollFailureStreak;
  lastPoll: LastPoll | null;
  counters: DeviceCounters;
  preferences: DevicePreferences;
  /** TAP calls of this device in the rolling 24 hours, per throttle pool. */
  tapBudget: TapCallBudgetState;
  /** Alerts whose remediation child has not been started yet. */
  pendingRemediations: string[];
  /** How many times a poll-now signal was received but not yet served. */
  pollNowRequests: number;
}

/** Input of the device workflow. `state` is set only by continue-as-new. */
export interface DeviceWorkflowInput {
  orgId: string;
  deviceId: string;
  name: string;
  location: string;
  /** ISO-8601 UTC; the health deadlines count from here. */
  createdAt: string;
  credentials: CredentialsRef;
  preferences?: Partial<DevicePreferences>;
  settings?: Partial<DeviceSettings>;
  state?: DeviceState;
}

/** Device status, as the status query returns it. */
export interface DeviceStatus {
  orgId: string;
  deviceId: string;
  name: string;
  phase: DevicePhase;
  health: DeviceHealth;
  /** Every raised condition; `health` shows only the worst. */
  conditions: { credentialsRejected: boolean; pollingFailed: boolean; notPolling: boolean; noData: boolean };
  paused: boolean;
  credentialsError: string | null;
  cursor: string | null;
  firstPollAt: string | null;
  firstDataAt: string | null;
  lastPoll: LastPoll | null;
  counters: DeviceCounters;
  preferences: DevicePreferences;
  tapCalls24h: number;
}
