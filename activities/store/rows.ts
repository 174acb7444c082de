/**
 * Conversions between database rows and the store's records. Both databases return the same
 * column names; booleans come back as 0/1 and counts as strings (PostgreSQL), so every read
 * goes through these functions.
 */
import type { AlertState } from '../detection/plan.ts';
import { toBoolean } from './sql.ts';
import type {
  AlertRecord,
  AuditRecord,
  DeviceRecord,
  RecipientOutcome,
  RecipientResult,
  RemediationStatus,
  Severity,
  SuppressionField,
  TuningRuleRecord,
} from './types.ts';

/** Columns of the `alerts` table, as selected by every alert query. */
export interface AlertRow {
  [column: string]: unknown;
  alert_id: string;
  org_id: string;
  device_id: string;
  alert_key: string;
  alert_type: string;
  severity: string;
  rule_id: string;
  reason: string;
  matched: string;
  guid: string | null;
  message_id: string | null;
  subject: string | null;
  threat_url: string | null;
  occurred_at: string;
  status_time: string;
  created_at: string;
  updated_at: string;
  state: string;
  auto_delete_eligible: unknown;
  remediation_status: string;
  remediation_reason: string | null;
  parent_alert_id: string | null;
}

/** Builds an {@link AlertRecord} from an alert row and its recipients. */
export function toAlertRecord(row: AlertRow, recipients: string[]): AlertRecord {
  return {
    alertId: row.alert_id,
    orgId: row.org_id,
    deviceId: row.device_id,
    type: row.alert_type,
    severity: row.severity as Severity,
    rule: row.rule_id,
    reason: row.reason,
    matched: JSON.parse(row.matched) as Record<string, string>,
    guid: row.guid,
    messageId: row.message_id,
    recipients: [...recipients].sort(),
    subject: row.subject,
    threatUrl: row.threat_url,
    occurredAt: row.occurred_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    state: row.state,
    autoDeleteEligible: toBoolean(row.auto_delete_eligible),
    remediationStatus: row.remediation_status as RemediationStatus,
    remediationReason: row.remediation_reason,
    parentAlertId: row.parent_alert_id,
  };
}

/** Builds the detection module's view of an alert row. */
export function toAlertState(row: AlertRow, recipients: string[]): AlertState {
  return {
    alertId: row.alert_id,
    alertKey: row.alert_key,
    type: row.alert_type === 'permitted_click' ? 'permitted_click' : 'delivered_message',
    severity: row.severity as Severity,
    ruleId: row.rule_id,
    reason: row.reason,
    matched: JSON.parse(row.matched) as Record<string, string>,
    guid: row.guid,
    messageId: row.message_id,
    recipients: [...recipients].sort(),
    subject: row.subject,
    threatUrl: row.threat_url,
    occurredAt: row.occurred_at,
    statusTime: row.status_time,
    state: row.state === 'closed' ? 'closed' : 'open',
    autoDeleteEligible: toBoolean(row.auto_delete_eligible),
    parentAlertId: row.parent_alert_id,
  };
}

/** Builds a {@link DeviceRecord} from a `devices` row. */
export function toDeviceRecord(row: Record<string, unknown>): DeviceRecord {
  return {
    orgId: String(row.org_id),
    deviceId: String(row.device_id),
    name: String(row.name),
    location: String(row.location),
    principal: String(row.principal),
    secretRef: String(row.secret_ref),
    tapBaseUrl: String(row.tap_base_url),
    createdAt: String(row.created_at),
    status: String(row.status),
    health: String(row.health),
    removedAt: (row.removed_at as string | null) ?? null,
  };
}

/** Builds a {@link TuningRuleRecord} from a `tuning_rules` row with a `suppressed_events` count. */
export function toTuningRule(row: Record<string, unknown>): TuningRuleRecord {
  return {
    ruleId: String(row.rule_id),
    orgId: String(row.org_id),
    deviceId: String(row.device_id),
    field: row.field as SuppressionField,
    value: String(row.value),
    comment: String(row.comment),
    createdBy: String(row.created_by),
    createdAt: String(row.created_at),
    suppressedEvents: Number(row.suppressed_events ?? 0),
  };
}

/** Builds a {@link RecipientResult} from a `remediation_results` row. */
export function toRecipientResult(row: Record<string, unknown>): RecipientResult {
  return {
    recipient: String(row.recipient),
    outcome: row.outcome as RecipientOutcome,
    copies: Number(row.copies),
    reason: (row.reason as string | null) ?? null,
    at: String(row.at),
  };
}

/** Builds an {@link AuditRecord} from an `audit_log` row. */
export function toAuditRecord(row: Record<string, unknown>): AuditRecord {
  return {
    auditId: String(row.audit_id),
    at: String(row.at),
    actor: String(row.actor),
    action: String(row.action),
    subject: String(row.subject),
    detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
  };
}
