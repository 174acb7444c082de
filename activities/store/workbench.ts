/**
 * The Workbench store over either database: every method is one parameterised query or one
 * transaction, written once for both dialects.
 */
import { randomUUID } from 'node:crypto';
import type { EmailProviderConfig, RemovalAction } from '../email/types.ts';
import { alertIdFor, isSeverity, severityRank } from '../detection/index.ts';
import type { InvalidTapEvent, TapEvent } from '../tap/types.ts';
import { ingestBatch, loadRecipients } from './ingest.ts';
import { applyMigrations } from './migrations.ts';
import {
  toAlertRecord,
  toAuditRecord,
  toDeviceRecord,
  toRecipientResult,
  toTuningRule,
  type AlertRow,
} from './rows.ts';
import { toCount, type SqlDatabase, type SqlRunner, type SqlValue } from './sql.ts';
import {
  SUPPRESSION_FIELD_VALUES,
  SUPPRESSION_FIELDS,
  tapSecretRefPrefix,
  type Actor,
  type AlertCount,
  type AlertEventRecord,
  type AlertFilter,
  type AlertRecord,
  type AuditRecord,
  type DeviceRecord,
  type EmailProviderRecord,
  type EventCount,
  type EventDisposition,
  type IngestContext,
  type IngestResult,
  type RecipientResult,
  type RemediationStatus,
  type RemediationTarget,
  type Severity,
  type TuningRuleRecord,
  type WorkbenchStore,
} from './types.ts';

/** Raised for input the store rejects; `code` is stable for callers and scripts. */
export class StoreInputError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'StoreInputError';
    this.code = code;
  }
}

/**
 * Severity of a device-health alert per condition. No polling, failing polls or rejected
 * credentials mean that TAP threats reach no analyst, so they rank high. Others rank medium.
 */
const DEVICE_HEALTH_SEVERITY: Record<string, Severity> = {
  not_polling: 'high',
  polling_failed: 'high',
  credentials_rejected: 'high',
  no_data: 'medium',
};

/** Default and maximum number of alerts {@link WorkbenchStore.listAlerts} returns. */
const DEFAULT_ALERT_LIMIT = 100;
const MAX_ALERT_LIMIT = 10_000;

/** Builds the WHERE clause of an alert filter, with its parameters. */
function alertWhere(filter: AlertFilter): { where: string; params: SqlValue[] } {
  const conditions: string[] = [];
  const params: SqlValue[] = [];
  const add = (column: string, value: SqlValue | undefined) => {
    if (value === undefined) return;
    params.push(value);
    conditions.push(`${column} = $${params.length}`);
  };
  add('org_id', filter.orgId);
  add('device_id', filter.deviceId);
  add('severity', filter.severity);
  add('alert_type', filter.type);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** The {@link WorkbenchStore} on a {@link SqlDatabase}. */
export class SqlWorkbenchStore implements WorkbenchStore {
  readonly db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.db = db;
  }

  async migrate(): Promise<void> {
    await applyMigrations(this.db);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  async ensureOrganization(orgId: string, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const rows = await tx.query(
        'INSERT INTO organizations (org_id, created_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING RETURNING org_id',
        [orgId, new Date().toISOString()],
      );
      if (rows.length > 0) await insertAudit(tx, actor, 'organization.create', orgId, {});
    });
  }

  async organizationExists(orgId: string): Promise<boolean> {
    const rows = await this.db.query('SELECT org_id FROM organizations WHERE org_id = $1', [orgId]);
    return rows.length > 0;
  }

  async getOrgPreference(orgId: string, key: string): Promise<string | null> {
    const rows = await this.db.query<{ value: string }>(
      'SELECT value FROM org_preferences WHERE org_id = $1 AND pref_key = $2',
      [orgId, key],
    );
    return rows[0]?.value ?? null;
  }

  async setOrgPreference(orgId: string, key: string, value: string, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      await tx.query('INSERT INTO organizations (org_id, created_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING', [
        orgId,
        now,
      ]);
      const previous = await tx.query<{ value: string }>(
        'SELECT value FROM org_preferences WHERE org_id = $1 AND pref_key = $2',
        [orgId, key],
      );
      await tx.query(
        `INSERT INTO org_preferences (org_id, pref_key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_id, pref_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
           updated_by = excluded.updated_by`,
        [orgId, key, value, now, actor.name],
      );
      await insertAudit(tx, actor, 'preference.set', `${orgId}:${key}`, {
        from: previous[0]?.value ?? null,
        to: value,
      });
    });
  }

  async putSecret(ref: string, ciphertext: string, actor: Actor): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO secrets (secret_ref, ciphertext, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (secret_ref) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
        [ref, ciphertext, new Date().toISOString()],
      );
      // The audit entry names the secret, never its value.
      await insertAudit(tx, actor, 'secret.put', ref, {});
    });
  }

  async getSecret(ref: string): Promise<string | null> {
    const rows = await this.db.query<{ ciphertext: string }>('SELECT ciphertext FROM secrets WHERE secret_ref = $1', [
      ref,
    ]);
    return rows[0]?.ciphertext ?? null;
  }

  async deleteSecret(ref: string, actor: Actor): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query('DELETE FROM secrets WHERE secret_ref = $1 RETURNING secret_ref', [ref]);
      if (rows.length === 0) return false;
      await insertAudit(tx, actor, 'secret.delete', ref, {});
      return true;
    });
  }

  async addDevice(device: DeviceRecord, actor: Actor): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO organizations (org_id, created_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING', [
        device.orgId,
        device.createdAt,
      ]);
      const existing = await tx.query<{ secret_ref: string; removed_at: string | null }>(
        'SELECT secret_ref, removed_at FROM devices WHERE org_id = $1 AND device_id = $2',
        [device.orgId, device.deviceId],
      );
      const removed = existing[0];
      if (removed && removed.removed_at === null) return false;

      // The WHERE clause keeps a registered device as it is, also against a concurrent re-add.
      const rows = await tx.query(
        `INSERT INTO devices (org_id, device_id, name, location, principal, secret_ref, tap_base_url, created_at,
           status, health, status_updated_at, removed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $11)
         ON CONFLICT (org_id, device_id) DO UPDATE SET name = excluded.name, location = excluded.location,
           principal = excluded.principal, secret_ref = excluded.secret_ref, tap_base_url = excluded.tap_base_url,
           created_at = excluded.created_at, status = excluded.status, health = excluded.health,
           status_updated_at = excluded.status_updated_at, removed_at = excluded.removed_at
         WHERE devices.removed_at IS NOT NULL
         RETURNING device_id`,
        [
          device.orgId,
          device.deviceId,
          device.name,
          device.location,
          device.principal,
          device.secretRef,
          device.tapBaseUrl,
          device.createdAt,
          device.status,
          device.health,
          device.removedAt,
        ],
      );
      if (rows.length === 0) return false;

      // A device removed by a version that kept secrets on removal may still have its secret.
      if (removed && removed.secret_ref !== device.secretRef) {
        await tx.query('DELETE FROM secrets WHERE secret_ref = $1', [removed.secret_ref]);
      }
      await insertAudit(tx, actor, 'device.add', `${device.orgId}:${device.deviceId}`, {
        name: device.name,
        location: device.location,
        principal: device.principal,
        tapBaseUrl: device.tapBaseUrl,
        ...(removed ? { replacesRemovedAt: removed.removed_at } : {}),
      });
      return true;
    });
  }

  async removeDevice(orgId: string, deviceId: string, actor: Actor): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      const rows = await tx.query<{ secret_ref: string; removed_at: string }>(
        `UPDATE devices SET removed_at = COALESCE(removed_at, $3), status = 'decommissioned', status_updated_at = $3
         WHERE org_id = $1 AND device_id = $2
         RETURNING secret_ref, removed_at`,
        [orgId, deviceId, now],
      );
      const device = rows[0];
      if (!device) return false;

      // The prefix also covers secrets of replaced credentials that were never deleted.
      const prefix = tapSecretRefPrefix(orgId, deviceId).replace(/[\\%_]/g, '\\$&');
      const secrets = await tx.query<{ secret_ref: string }>(
        `DELETE FROM secrets WHERE secret_ref = $1 OR secret_ref LIKE $2 ESCAPE '\\' RETURNING secret_ref`,
        [device.secret_ref, `${prefix}%`],
      );

      // A removed device polls no more, so its health conditions no longer apply.
      const alerts = await tx.query<{ alert_id: string }>(
        `UPDATE alerts SET state = 'closed', status_time = $3, updated_at = $3
         WHERE org_id = $1 AND device_id = $2 AND alert_type = 'device_health' AND state = 'open'
         RETURNING alert_id`,
        [orgId, deviceId, now],
      );

      await insertAudit(tx, actor, 'device.remove', `${orgId}:${deviceId}`, {
        removedAt: device.removed_at,
        secretsDeleted: secrets.map((row) => row.secret_ref).sort(),
        healthAlertsClosed: alerts.map((row) => row.alert_id).sort(),
      });
      return true;
    });
  }

  async replaceDeviceCredentials(
    orgId: string,
    deviceId: string,
    credentials: { principal: string; secretRef: string },
    previousSecretRef: string,
    actor: Actor,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE devices SET principal = $3, secret_ref = $4
         WHERE org_id = $1 AND device_id = $2 AND secret_ref = $5 AND removed_at IS NULL
         RETURNING device_id`,
        [orgId, deviceId, credentials.principal, credentials.secretRef, previousSecretRef],
      );
      if (rows.length === 0) return false;

      if (previousSecretRef !== credentials.secretRef) {
        await tx.query('DELETE FROM secrets WHERE secret_ref = $1', [previousSecretRef]);
      }
      await insertAudit(tx, actor, 'device.set-credentials', `${orgId}:${deviceId}`, {
        principal: credentials.principal,
        secretRef: credentials.secretRef,
        deletedSecretRef: previousSecretRef === credentials.secretRef ? null : previousSecretRef,
      });
      return true;
    });
  }

  async getDevice(orgId: string, deviceId: string): Promise<DeviceRecord | null> {
    const rows = await this.db.query('SELECT * FROM devices WHERE org_id = $1 AND device_id = $2', [orgId, deviceId]);
    return rows[0] ? toDeviceRecord(rows[0]) : null;
  }

  async listDevices(orgId?: string): Promise<DeviceRecord[]> {
    const rows =
      orgId === undefined
        ? await this.db.query('SELECT * FROM devices ORDER BY org_id, device_id')
        : await this.db.query('SELECT * FROM devices WHERE org_id = $1 ORDER BY device_id', [orgId]);
    return rows.map(toDeviceRecord);
  }

  async updateDeviceStatus(
    orgId: string,
    deviceId: string,
    status: { status?: string; health?: string },
  ): Promise<void> {
    await this.db.query(
      `UPDATE devices SET status = COALESCE($3, status), health = COALESCE($4, health), status_updated_at = $5
       WHERE org_id = $1 AND device_id = $2`,
      [orgId, deviceId, status.status ?? null, status.health ?? null, new Date().toISOString()],
    );
  }

  async recordDeviceHealth(
    orgId: string,
    deviceId: string,
    condition: string,
    active: boolean,
    reason: string | null,
  ): Promise<void> {
    const alertKey = `health:${condition}`;
    const alertId = alertIdFor(orgId, deviceId, alertKey);
    const severity = DEVICE_HEALTH_SEVERITY[condition] ?? 'medium';
    const now = new Date().toISOString();
    const text = reason ?? `Device health condition ${condition} is active.`;

    await this.db.transaction(async (tx) => {
      const rows = await tx.query<{ state: string }>('SELECT state FROM alerts WHERE alert_id = $1', [alertId]);
      const current = rows[0]?.state;
      if (active && current === undefined) {
        await tx.query(
          `INSERT INTO alerts (alert_id, org_id, device_id, alert_key, alert_type, severity, severity_rank, rule_id,
             reason, matched, guid, message_id, subject, threat_url, occurred_at, status_time, created_at, updated_at,
             state, auto_delete_eligible, remediation_status, remediation_reason, parent_alert_id)
           VALUES ($1, $2, $3, $4, 'device_health', $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL, $10, $10, $10, $10,
             'open', 0, 'none', NULL, NULL)`,
          [
            alertId,
            orgId,
            deviceId,
            alertKey,
            severity,
            severityRank(severity),
            `device-health`,
            text,
            JSON.stringify({ rule: 'device-health', condition }),
            now,
          ],
        );
      } else if (active && current === 'closed') {
        // A condition that comes back reopens its alert, with the time it came back.
        await tx.query(
          `UPDATE alerts SET state = 'open', reason = $2, occurred_at = $3, status_time = $3, updated_at = $3
           WHERE alert_id = $1`,
          [alertId, text, now],
        );
      } else if (!active && current === 'open') {
        await tx.query("UPDATE alerts SET state = 'closed', status_time = $2, updated_at = $2 WHERE alert_id = $1", [
          alertId,
          now,
        ]);
      }
    });
  }

  ingest(context: IngestContext, events: TapEvent[], invalid: InvalidTapEvent[]): Promise<IngestResult> {
    return this.db.transaction((tx) => ingestBatch(tx, context, events, invalid));
  }

  async listAlerts(filter: AlertFilter = {}): Promise<AlertRecord[]> {
    if (filter.severity !== undefined && !isSeverity(filter.severity)) {
      throw new StoreInputError('INVALID_SEVERITY', `Severity '${String(filter.severity)}' is invalid.`);
    }
    const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? DEFAULT_ALERT_LIMIT)), MAX_ALERT_LIMIT);
    const { where, params } = alertWhere(filter);
    const rows = await this.db.query<AlertRow>(
      `SELECT * FROM alerts ${where} ORDER BY occurred_at DESC, alert_id LIMIT ${limit}`,
      params,
    );
    const recipients = await loadRecipients(
      this.db,
      rows.map((row) => row.alert_id),
    );
    return rows.map((row) => toAlertRecord(row, recipients.get(row.alert_id) ?? []));
  }

  async getAlert(alertId: string): Promise<AlertRecord | null> {
    const rows = await this.db.query<AlertRow>('SELECT * FROM alerts WHERE alert_id = $1', [alertId]);
    const row = rows[0];
    if (!row) return null;
    const recipients = await loadRecipients(this.db, [alertId]);
    return toAlertRecord(row, recipients.get(alertId) ?? []);
  }

  async listAlertEvents(alertId: string): Promise<AlertEventRecord[]> {
    const rows = await this.db.query(
      `SELECT l.event_key, e.event_type, e.event_time, l.rule_id, l.effect
       FROM alert_events l
       JOIN tap_events e ON e.org_id = l.org_id AND e.device_id = l.device_id AND e.event_key = l.event_key
         AND e.status_key = l.status_key
       WHERE l.alert_id = $1
       ORDER BY e.event_time, l.event_key, l.status_key`,
      [alertId],
    );
    return rows.map((row) => ({
      eventKey: String(row.event_key),
      eventType: String(row.event_type),
      eventTime: String(row.event_time),
      ruleId: String(row.rule_id),
      effect: String(row.effect),
    }));
  }

  async countAlerts(filter: AlertFilter = {}): Promise<AlertCount[]> {
    const { where, params } = alertWhere(filter);
    const rows = await this.db.query(
      `SELECT org_id, device_id, alert_type, severity, severity_rank, state, COUNT(*) AS alert_count
       FROM alerts ${where}
       GROUP BY org_id, device_id, alert_type, severity, severity_rank, state
       ORDER BY org_id, device_id, alert_type, severity_rank DESC, state`,
      params,
    );
    return rows.map((row) => ({
      orgId: String(row.org_id),
      deviceId: String(row.device_id),
      type: String(row.alert_type),
      severity: row.severity as Severity,
      state: String(row.state),
      count: toCount(row.alert_count),
    }));
  }

  async countEvents(filter: Pick<AlertFilter, 'orgId' | 'deviceId'> = {}): Promise<EventCount[]> {
    const { where, params } = alertWhere({ orgId: filter.orgId, deviceId: filter.deviceId });
    const rows = await this.db.query(
      `SELECT org_id, device_id, event_type, disposition, COUNT(*) AS event_count FROM tap_events ${where}
       GROUP BY org_id, device_id, event_type, disposition
       UNION ALL
       SELECT org_id, device_id, COALESCE(event_type, 'unknown'), 'invalid', COUNT(*) FROM tap_invalid_events ${where}
       GROUP BY org_id, device_id, event_type
       ORDER BY 1, 2, 3, 4`,
      params,
    );
    return rows.map((row) => ({
      orgId: String(row.org_id),
      deviceId: String(row.device_id),
      eventType: String(row.event_type),
      disposition: row.disposition as EventDisposition | 'invalid',
      count: toCount(row.event_count),
    }));
  }

  async getRemediationTarget(alertId: string): Promise<RemediationTarget | null> {
    const alert = await this.getAlert(alertId);
    if (!alert) return null;
    return {
      alertId,
      orgId: alert.orgId,
      messageId: alert.messageId ?? '',
      recipients: alert.recipients,
      status: alert.remediationStatus,
      done: await this.listRecipientResults(alertId),
    };
  }

  async setRemediationStatus(alertId: string, status: RemediationStatus, reason?: string): Promise<void> {
    await this.db.query(
      'UPDATE alerts SET remediation_status = $2, remediation_reason = $3, updated_at = $4 WHERE alert_id = $1',
      [alertId, status, reason ?? null, new Date().toISOString()],
    );
  }

  async recordRecipientResults(alertId: string, results: RecipientResult[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const result of results) {
        await tx.query(
          `INSERT INTO remediation_results (alert_id, recipient, outcome, copies, reason, at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (alert_id, recipient) DO NOTHING`,
          [alertId, result.recipient.toLowerCase(), result.outcome, result.copies, result.reason, result.at],
        );
      }
    });
  }

  async listRecipientResults(alertId: string): Promise<RecipientResult[]> {
    const rows = await this.db.query('SELECT * FROM remediation_results WHERE alert_id = $1 ORDER BY recipient', [
      alertId,
    ]);
    return rows.map(toRecipientResult);
  }

  async setEmailProvider(
    orgId: string,
    config: EmailProviderConfig,
    action: RemovalAction,
    actor: Actor,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const now = new Date().toISOString();
      await tx.query('INSERT INTO organizations (org_id, created_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING', [
        orgId,
        now,
      ]);
      await tx.query(
        `INSERT INTO email_providers (org_id, kind, config, action, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (org_id) DO UPDATE SET kind = excluded.kind, config = excluded.config, action = excluded.action,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [orgId, config.kind, JSON.stringify(config), action, now, actor.name],
      );
      // The configuration holds references only, so the audit entry can carry all of it.
      await insertAudit(tx, actor, 'email-provider.set', orgId, { ...config, action });
    });
  }

  async getEmailProvider(orgId: string): Promise<EmailProviderRecord | null> {
    const rows = await this.db.query('SELECT * FROM email_providers WHERE org_id = $1', [orgId]);
    const row = rows[0];
    if (!row) return null;
    return {
      orgId,
      config: JSON.parse(String(row.config)) as EmailProviderConfig,
      action: row.action as RemovalAction,
      updatedAt: String(row.updated_at),
      updatedBy: String(row.updated_by),
    };
  }

  async audit(actor: Actor, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
    await insertAudit(this.db, actor, action, subject, detail);
  }

  async listAudit(limit = 100): Promise<AuditRecord[]> {
    const bounded = Math.min(Math.max(1, Math.floor(limit)), MAX_ALERT_LIMIT);
    const rows = await this.db.query(`SELECT * FROM audit_log ORDER BY at DESC, audit_id LIMIT ${bounded}`);
    return rows.map(toAuditRecord);
  }

  async addTuningRule(
    rule: Pick<TuningRuleRecord, 'orgId' | 'deviceId' | 'field' | 'value' | 'comment'>,
    actor: Actor,
  ): Promise<TuningRuleRecord> {
    if (!SUPPRESSION_FIELDS.includes(rule.field)) {
      throw new StoreInputError(
        'INVALID_TUNING_FIELD',
        `Tuning field '${String(rule.field)}' is invalid; use one of ${SUPPRESSION_FIELDS.join(', ')}.`,
      );
    }
    const value = rule.value.trim().toLowerCase();
    if (value === '')
      throw new StoreInputError('INVALID_TUNING_VALUE', 'Tuning value is empty; give the value to match.');
    const allowed: readonly string[] | undefined = SUPPRESSION_FIELD_VALUES[rule.field];
    if (allowed && !allowed.includes(value)) {
      throw new StoreInputError(
        'INVALID_TUNING_VALUE',
        `Tuning value '${rule.value}' is invalid for ${rule.field}; use one of ${allowed.join(', ')}.`,
      );
    }

    return this.db.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO tuning_rules (rule_id, org_id, device_id, field, value, comment, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (org_id, device_id, field, value) DO NOTHING
         RETURNING rule_id`,
        [
          `tune_${randomUUID()}`,
          rule.orgId,
          rule.deviceId,
          rule.field,
          value,
          rule.comment,
          actor.name,
          new Date().toISOString(),
        ],
      );
      const rows = await tx.query(
        'SELECT *, 0 AS suppressed_events FROM tuning_rules WHERE org_id = $1 AND device_id = $2 AND field = $3 AND value = $4',
        [rule.orgId, rule.deviceId, rule.field, value],
      );
      const stored = toTuningRule(rows[0]!);
      if (inserted.length > 0) {
        await insertAudit(tx, actor, 'tuning.add', `${rule.orgId}:${rule.deviceId}`, {
          ruleId: stored.ruleId,
          field: stored.field,
          value: stored.value,
          comment: stored.comment,
        });
      }
      return stored;
    });
  }

  async listTuningRules(filter: Pick<AlertFilter, 'orgId' | 'deviceId'> = {}): Promise<TuningRuleRecord[]> {
    const { where, params } = alertWhere({ orgId: filter.orgId, deviceId: filter.deviceId });
    const rows = await this.db.query(
      `SELECT r.*, (SELECT COUNT(*) FROM tap_events e WHERE e.suppressed_by = r.rule_id) AS suppressed_events
       FROM tuning_rules r ${where.replace(/(org_id|device_id) =/g, 'r.$1 =')}
       ORDER BY r.org_id, r.device_id, r.created_at, r.rule_id`,
      params,
    );
    return rows.map(toTuningRule);
  }

  async removeTuningRule(ruleId: string, actor: Actor): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(
        'DELETE FROM tuning_rules WHERE rule_id = $1 RETURNING org_id, device_id, field, value',
        [ruleId],
      );
      const removed = rows[0];
      if (!removed) return false;
      // Events it suppressed keep their `suppressed_by`, so they stay counted and traceable.
      await insertAudit(tx, actor, 'tuning.remove', `${String(removed.org_id)}:${String(removed.device_id)}`, {
        ruleId,
        field: removed.field,
        value: removed.value,
      });
      return true;
    });
  }
}

async function insertAudit(
  runner: SqlRunner,
  actor: Actor,
  action: string,
  subject: string,
  detail: Record<string, unknown>,
): Promise<void> {
  await runner.query(
    'INSERT INTO audit_log (audit_id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)',
    [randomUUID(), new Date().toISOString(), actor.name, action, subject, JSON.stringify(detail)],
  );
}
