/**
 * The Workbench store: the contract that the PostgreSQL and embedded implementations share.
 * Activities and CLI commands depend on this interface only.
 *
 * Every write is idempotent: repeating a call with the same input (a retried activity, an
 * overlapping TAP window) leaves the store as the first call left it.
 */
import type { EmailProviderConfig, RemovalAction } from '../email/types.ts';
import type { Classification, TapEvent, InvalidTapEvent } from '../tap/types.ts';

/** Alert severity, lowest first. */
export type Severity = 'informational' | 'low' | 'medium' | 'high' | 'critical';

/** Remediation state of an alert; `none` where no deletion was requested. */
export type RemediationStatus = 'none' | 'pending' | 'running' | 'done' | 'partial' | 'failed';

/** Outcome of deleting one message from one recipient's mailbox. */
export type RecipientOutcome = 'deleted' | 'not_found' | 'skipped' | 'failed';

/**
 * Prefix of the secret references of a device's TAP secrets: `tap:<org>:<device>:`, followed by
 * a UUID per registration or credential replacement. Removing a device deletes every secret
 * under it.
 */
export function tapSecretRefPrefix(orgId: string, deviceId: string): string {
  return `tap:${orgId}:${deviceId}:`;
}

/** The organization preference that turns on auto deletion of delivered messages. */
export const AUTO_REMEDIATE_DELIVERED = 'org.preference.email.auto_remediate_delivered';

/** The operator or component recorded in the audit log. */
export interface Actor {
  /** Operator name, `system` or `workflow:<id>`. */
  name: string;
}

/** A registered TAP device. The secret itself is stored apart and referenced by `secretRef`. */
export interface DeviceRecord {
  orgId: string;
  deviceId: string;
  name: string;
  location: string;
  principal: string;
  secretRef: string;
  /** Base URL of the TAP API this device polls. */
  tapBaseUrl: string;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** Connection status as the device workflow last reported it: `onboarding`, `polling`, `paused`, … */
  status: string;
  /** Health as the device workflow last reported it: `healthy`, `not_polling`, `no_data`, … */
  health: string;
  /** When `tap-mdr device remove` removed the device (ISO-8601 UTC); null while it is registered. */
  removedAt: string | null;
}

/** Organization and device of an ingest, with the preferences in force at ingest time. */
export interface IngestContext {
  orgId: string;
  deviceId: string;
  /** Value of {@link AUTO_REMEDIATE_DELIVERED} when this batch is ingested. */
  autoRemediateDelivered: boolean;
}

/** Counts and alert ids of one ingest, small enough to return through workflow history. */
export interface IngestResult {
  /** Events stored for the first time. */
  stored: number;
  /** Events already stored before (same idempotency key). */
  duplicates: number;
  /** Events matched by a tuning rule: stored and counted, not alerted. */
  suppressed: number;
  /** Events kept as invalid, with their reason. */
  invalid: number;
  alertsCreated: string[];
  alertsUpdated: string[];
  /** Alerts that this batch made eligible for auto deletion (preference on), new recipients included. */
  remediationAlertIds: string[];
}

/** One recipient's deletion result. */
export interface RecipientResult {
  recipient: string;
  outcome: RecipientOutcome;
  /** Copies removed (for `deleted`), 0 otherwise. */
  copies: number;
  /** Reason for `skipped` or `failed`, without secrets. */
  reason: string | null;
  /** ISO-8601 UTC. */
  at: string;
}

/** Message and recipients of one alert, as a remediation workflow needs them. */
export interface RemediationTarget {
  alertId: string;
  orgId: string;
  /** Message-ID with angle brackets, as normalised by the TAP client. */
  messageId: string;
  /** Every recipient known for the alert so far. */
  recipients: string[];
  status: RemediationStatus;
  /** Recipients that already have a final result. */
  done: RecipientResult[];
}

/** An alert as the queue shows it. */
export interface AlertRecord {
  alertId: string;
  orgId: string;
  deviceId: string;
  /** `delivered_message`, `permitted_click` or `device_health`. */
  type: string;
  severity: Severity;
  /** Rule id and the fields that matched. */
  rule: string;
  reason: string;
  matched: Record<string, string>;
  guid: string | null;
  messageId: string | null;
  recipients: string[];
  subject: string | null;
  threatUrl: string | null;
  /** ISO-8601 UTC. */
  occurredAt: string;
  createdAt: string;
  updatedAt: string;
  /** `open` or `closed` (closed by a falsePositive, for example). */
  state: string;
  autoDeleteEligible: boolean;
  remediationStatus: RemediationStatus;
  /** Reason given with the last {@link WorkbenchStore.setRemediationStatus}, or null. */
  remediationReason: string | null;
  /** The alert of the message a click came in, when there is one. */
  parentAlertId: string | null;
}

/** The event fields a tuning rule can match; see {@link TuningRuleRecord}. */
export type SuppressionField = 'senderDomain' | 'classification' | 'recipient' | 'threatId';

/** The fields a suppression rule can match, for validation and help text. */
export const SUPPRESSION_FIELDS: readonly SuppressionField[] = [
  'senderDomain',
  'classification',
  'recipient',
  'threatId',
];

/**
 * The values a tuning rule may match, for each field that has a closed set; the other fields
 * take any non-empty value. `unknown` is the classification of a threat whose TAP
 * classification this version does not know.
 */
export const SUPPRESSION_FIELD_VALUES: Readonly<Partial<Record<SuppressionField, readonly Classification[]>>> = {
  classification: ['malware', 'phish', 'spam', 'impostor', 'unknown'],
};

/**
 * A per-device suppression rule. Events it matches are stored and counted but raise no alert.
 * `senderDomain` matches the envelope sender's domain and its subdomains, `classification` and
 * `threatId` the threat the detection rule matched, and `recipient` removes that recipient from
 * message events (an event whose recipients are all removed is suppressed). Matching ignores case.
 */
export interface TuningRuleRecord {
  ruleId: string;
  orgId: string;
  deviceId: string;
  field: SuppressionField;
  /** Lower-cased value to match. */
  value: string;
  comment: string;
  createdBy: string;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** Events this rule has suppressed so far (filled by {@link WorkbenchStore.listTuningRules}). */
  suppressedEvents: number;
}

/** Outcome of a stored TAP event: `alert`, `closed`, `informational`, `suppressed` or `ignored`. */
export type EventDisposition = 'alert' | 'closed' | 'informational' | 'suppressed' | 'ignored';

/** One stored TAP event linked to an alert, with what it did to the alert. */
export interface AlertEventRecord {
  eventKey: string;
  eventType: string;
  /** ISO-8601 UTC (`messageTime` or `clickTime`). */
  eventTime: string;
  ruleId: string;
  /** `created`, `recipients`, `status`, `closed`, `raised`, `linked` or `stale`. */
  effect: string;
}

/** One row of the "Alert Analysis" view: alerts per device, type, severity and state. */
export interface AlertCount {
  orgId: string;
  deviceId: string;
  type: string;
  severity: Severity;
  state: string;
  count: number;
}

/** Stored TAP events per device, event type and disposition (suppressed events included). */
export interface EventCount {
  orgId: string;
  deviceId: string;
  eventType: string;
  disposition: EventDisposition | 'invalid';
  count: number;
}

/** Filter for {@link WorkbenchStore.listAlerts}; every field narrows the result. */
export interface AlertFilter {
  orgId?: string;
  deviceId?: string;
  severity?: Severity;
  type?: string;
  limit?: number;
}

/** The email provider of an organization, as stored. Secrets appear only as references. */
export interface EmailProviderRecord {
  orgId: string;
  config: EmailProviderConfig;
  /** Action of auto deletion and of `tap-mdr remediate` without `--action`. */
  action: RemovalAction;
  /** ISO-8601 UTC. */
  updatedAt: string;
  updatedBy: string;
}

/** Operations on the Workbench store used by activities and CLI commands. */
export interface WorkbenchStore {
  /** Applies pending schema migrations; safe to call at every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Creates the organization if it does not exist. */
  ensureOrganization(orgId: string, actor: Actor): Promise<void>;
  /** Returns true when the organization exists (created by a device registration or an email provider). */
  organizationExists(orgId: string): Promise<boolean>;
  getOrgPreference(orgId: string, key: string): Promise<string | null>;
  /** Sets a preference and writes an audit log entry. */
  setOrgPreference(orgId: string, key: string, value: string, actor: Actor): Promise<void>;

  /** Stores an encrypted secret under `ref`; replaces an existing one. */
  putSecret(ref: string, ciphertext: string, actor: Actor): Promise<void>;
  getSecret(ref: string): Promise<string | null>;
  /** Deletes a secret and writes an audit log entry; returns false when there was none. */
  deleteSecret(ref: string, actor: Actor): Promise<boolean>;

  /**
   * Inserts a device, or replaces a removed device that has the same ids: every column takes
   * the new value, `removedAt` becomes null, and the removed device's secret is deleted when it
   * differs from the new one. Returns false, changing nothing, when a device with the same ids
   * exists and is not removed.
   */
  addDevice(device: DeviceRecord, actor: Actor): Promise<boolean>;
  /**
   * Marks a device removed (`removedAt`, status `decommissioned`), deletes its TAP secrets (its
   * `secretRef` and every reference under {@link tapSecretRefPrefix}), closes its open
   * device-health alerts, and writes an audit log entry. Removing a removed device again keeps
   * the first `removedAt`. Returns false when the device is not in the store.
   */
  removeDevice(orgId: string, deviceId: string, actor: Actor): Promise<boolean>;
  /**
   * Records credentials that the device workflow has accepted: sets the device's principal and
   * secret reference, deletes the secret of `previousSecretRef`, and writes an audit log entry.
   * Returns false, changing nothing, when the device's secret reference is no longer
   * `previousSecretRef` (another replacement was recorded first) or the device is not stored.
   */
  replaceDeviceCredentials(
    orgId: string,
    deviceId: string,
    credentials: { principal: string; secretRef: string },
    previousSecretRef: string,
    actor: Actor,
  ): Promise<boolean>;
  getDevice(orgId: string, deviceId: string): Promise<DeviceRecord | null>;
  listDevices(orgId?: string): Promise<DeviceRecord[]>;
  updateDeviceStatus(orgId: string, deviceId: string, status: { status?: string; health?: string }): Promise<void>;
  /**
   * Raises (`active`) or resolves the device-health alert for one condition (`not_polling`,
   * `no_data`, `credentials_rejected`, `polling_failed`). Idempotent: raising an open condition
   * or clearing a resolved one changes nothing.
   */
  recordDeviceHealth(
    orgId: string,
    deviceId: string,
    condition: string,
    active: boolean,
    reason: string | null,
  ): Promise<void>;

  /** Stores events, runs detection, and creates or updates alerts, in one transaction. */
  ingest(context: IngestContext, events: TapEvent[], invalid: InvalidTapEvent[]): Promise<IngestResult>;

  listAlerts(filter?: AlertFilter): Promise<AlertRecord[]>;
  getAlert(alertId: string): Promise<AlertRecord | null>;

  getRemediationTarget(alertId: string): Promise<RemediationTarget | null>;
  setRemediationStatus(alertId: string, status: RemediationStatus, reason?: string): Promise<void>;
  /** Records final per-recipient results; a recipient that already has one keeps it. */
  recordRecipientResults(alertId: string, results: RecipientResult[]): Promise<void>;
  listRecipientResults(alertId: string): Promise<RecipientResult[]>;

  /**
   * Stores the organization's email provider, replacing any earlier one, and writes an audit
   * log entry. The configuration must hold secret references only; store the secrets with
   * {@link putSecret} first.
   */
  setEmailProvider(orgId: string, config: EmailProviderConfig, action: RemovalAction, actor: Actor): Promise<void>;
  /** Returns the organization's email provider, or null when none is configured. */
  getEmailProvider(orgId: string): Promise<EmailProviderRecord | null>;

  /** Appends to the audit log of configuration changes. */
  audit(actor: Actor, action: string, subject: string, detail: Record<string, unknown>): Promise<void>;
  /** Returns audit log entries, newest first. */
  listAudit(limit?: number): Promise<AuditRecord[]>;

  /** Returns the stored events linked to an alert, oldest first. */
  listAlertEvents(alertId: string): Promise<AlertEventRecord[]>;
  /** Counts alerts per org, device, type, severity and state. */
  countAlerts(filter?: AlertFilter): Promise<AlertCount[]>;
  /** Counts stored events per org, device, event type and disposition. */
  countEvents(filter?: Pick<AlertFilter, 'orgId' | 'deviceId'>): Promise<EventCount[]>;

  /**
   * Adds a suppression rule and writes an audit log entry. Adding a rule that exists (same
   * device, field and value) returns the existing rule. Affects events ingested afterwards only.
   * Throws `StoreInputError` for an unknown field, an empty value, or a value outside the
   * field's {@link SUPPRESSION_FIELD_VALUES}.
   */
  addTuningRule(
    rule: Pick<TuningRuleRecord, 'orgId' | 'deviceId' | 'field' | 'value' | 'comment'>,
    actor: Actor,
  ): Promise<TuningRuleRecord>;
  listTuningRules(filter?: Pick<AlertFilter, 'orgId' | 'deviceId'>): Promise<TuningRuleRecord[]>;
  /** Removes a suppression rule and writes an audit log entry; returns false when there is none. */
  removeTuningRule(ruleId: string, actor: Actor): Promise<boolean>;
}

/** One audit log entry. */
export interface AuditRecord {
  auditId: string;
  /** ISO-8601 UTC. */
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}
