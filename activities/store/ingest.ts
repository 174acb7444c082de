/**
 * The ingest transaction: store new TAP events, run detection against the device's existing
 * alerts, and write the alert changes. Runs inside {@link SqlDatabase.transaction}, which on
 * PostgreSQL may run it more than once, so it reads everything it needs inside the transaction.
 */
import { createHash } from 'node:crypto';
import { alertIdFor, alertKeysFor, evaluateEvent, planAlerts, severityRank, threatsOf } from '../detection/index.ts';
import type { AlertChange, AlertState, DetectionPlan } from '../detection/index.ts';
import type { InvalidTapEvent, TapEvent } from '../tap/types.ts';
import { toAlertState, toTuningRule, type AlertRow } from './rows.ts';
import { placeholders, type SqlRunner } from './sql.ts';
import type { IngestContext, IngestResult } from './types.ts';

/** Values per `IN (…)` list, well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 400;

/** Returns the sorted threatStatus values of an event: the second half of its stored key. */
export function statusKeyOf(event: TapEvent): string {
  return [...new Set(threatsOf(event).map((threat) => threat.threatStatus))].sort().join(',');
}

/** Stores a batch and creates or updates its alerts; see {@link WorkbenchStore.ingest}. */
export async function ingestBatch(
  tx: SqlRunner,
  context: IngestContext,
  events: readonly TapEvent[],
  invalid: readonly InvalidTapEvent[],
): Promise<IngestResult> {
  const now = new Date().toISOString();
  const fresh = await insertEvents(tx, context, events, now);
  const invalidStored = await insertInvalid(tx, context, invalid, now);

  const result: IngestResult = {
    stored: fresh.length,
    duplicates: events.length - fresh.length,
    suppressed: 0,
    invalid: invalidStored,
    alertsCreated: [],
    alertsUpdated: [],
    remediationAlertIds: [],
  };
  if (fresh.length === 0) return result;

  const tuningRows = await tx.query('SELECT * FROM tuning_rules WHERE org_id = $1 AND device_id = $2', [
    context.orgId,
    context.deviceId,
  ]);
  const tuning = tuningRows.map(toTuningRule);
  const decisions = fresh.map((event) => evaluateEvent(event, tuning));
  const existing = await loadAlerts(tx, context, alertKeysFor(decisions), guidsOf(fresh));
  const plan = planAlerts(existing, decisions, (key) => alertIdFor(context.orgId, context.deviceId, key));

  await writeAlerts(tx, context, plan.alerts, now);
  await writeEventResults(tx, context, plan, now);

  result.suppressed = plan.events.filter((entry) => entry.disposition === 'suppressed').length;
  for (const change of plan.alerts) {
    if (change.before === null) result.alertsCreated.push(change.after.alertId);
    else if (hasChanged(change)) result.alertsUpdated.push(change.after.alertId);
    if (context.autoRemediateDelivered && becameRemediable(change))
      result.remediationAlertIds.push(change.after.alertId);
  }
  return result;
}

/** Inserts events; returns those not stored before (the others are duplicates). */
async function insertEvents(
  tx: SqlRunner,
  context: IngestContext,
  events: readonly TapEvent[],
  now: string,
): Promise<TapEvent[]> {
  const fresh: TapEvent[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    const statusKey = statusKeyOf(event);
    const identity = `${event.key}\u0000${statusKey}`;
    if (seen.has(identity)) continue;
    seen.add(identity);

    const statusTime = threatsOf(event).reduce((latest, threat) => {
      return threat.threatTime !== null && threat.threatTime > latest ? threat.threatTime : latest;
    }, event.eventTime);
    const rows = await tx.query(
      `INSERT INTO tap_events (org_id, device_id, event_key, status_key, event_type, event_id, guid, message_id,
         event_time, status_time, received_at, disposition, rule_id, reason, suppressed_by, alert_id, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ignored', NULL, 'not yet evaluated', NULL, NULL, $12)
       ON CONFLICT (org_id, device_id, event_key, status_key) DO NOTHING
       RETURNING event_key`,
      [
        context.orgId,
        context.deviceId,
        event.key,
        statusKey,
        event.type,
        event.id,
        event.guid,
        event.messageId,
        event.eventTime,
        statusTime,
        now,
        JSON.stringify(event),
      ],
    );
    if (rows.length > 0) fresh.push(event);
  }
  return fresh;
}

/** Inserts invalid events under a hash of their type and raw text; returns how many were new. */
async function insertInvalid(
  tx: SqlRunner,
  context: IngestContext,
  invalid: readonly InvalidTapEvent[],
  now: string,
): Promise<number> {
  let stored = 0;
  for (const entry of invalid) {
    const raw = JSON.stringify(entry.raw ?? null);
    const key = createHash('sha256')
      .update(`${entry.type ?? ''}\u0000${raw}`)
      .digest('hex');
    const rows = await tx.query(
      `INSERT INTO tap_invalid_events (org_id, device_id, invalid_key, event_type, reason, raw, received_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (org_id, device_id, invalid_key) DO NOTHING
       RETURNING invalid_key`,
      [context.orgId, context.deviceId, key, entry.type, entry.reason, raw, now],
    );
    stored += rows.length;
  }
  return stored;
}

function guidsOf(events: readonly TapEvent[]): string[] {
  return [...new Set(events.map((event) => event.guid).filter((guid) => guid !== ''))];
}

/** Loads the device's alerts with one of `keys` or one of `guids`, with their recipients. */
async function loadAlerts(
  tx: SqlRunner,
  context: IngestContext,
  keys: readonly string[],
  guids: readonly string[],
): Promise<AlertState[]> {
  const rows = new Map<string, AlertRow>();
  const lookups: [string, readonly string[]][] = [
    ['alert_key', keys],
    ['guid', guids],
  ];
  for (const [column, values] of lookups) {
    for (let start = 0; start < values.length; start += CHUNK) {
      const chunk = values.slice(start, start + CHUNK);
      const found = await tx.query<AlertRow>(
        `SELECT * FROM alerts WHERE org_id = $1 AND device_id = $2 AND ${column} IN (${placeholders(chunk.length, 3)})`,
        [context.orgId, context.deviceId, ...chunk],
      );
      for (const row of found) rows.set(row.alert_id, row);
    }
  }

  const recipients = await loadRecipients(tx, [...rows.keys()]);
  return [...rows.values()].map((row) => toAlertState(row, recipients.get(row.alert_id) ?? []));
}

/** Returns the recipients of each alert id. */
export async function loadRecipients(tx: SqlRunner, alertIds: readonly string[]): Promise<Map<string, string[]>> {
  const byAlert = new Map<string, string[]>();
  for (let start = 0; start < alertIds.length; start += CHUNK) {
    const chunk = alertIds.slice(start, start + CHUNK);
    const rows = await tx.query<{ alert_id: string; recipient: string }>(
      `SELECT alert_id, recipient FROM alert_recipients WHERE alert_id IN (${placeholders(chunk.length)})
       ORDER BY recipient`,
      chunk,
    );
    for (const row of rows) {
      const list = byAlert.get(row.alert_id) ?? [];
      list.push(row.recipient);
      byAlert.set(row.alert_id, list);
    }
  }
  return byAlert;
}

async function writeAlerts(
  tx: SqlRunner,
  context: IngestContext,
  changes: readonly AlertChange[],
  now: string,
): Promise<void> {
  for (const change of changes) {
    const alert = change.after;
    if (change.before === null) {
      await tx.query(
        `INSERT INTO alerts (alert_id, org_id, device_id, alert_key, alert_type, severity, severity_rank, rule_id,
           reason, matched, guid, message_id, subject, threat_url, occurred_at, status_time, created_at, updated_at,
           state, auto_delete_eligible, remediation_status, remediation_reason, parent_alert_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19,
           'none', NULL, $20)`,
        [
          alert.alertId,
          context.orgId,
          context.deviceId,
          alert.alertKey,
          alert.type,
          alert.severity,
          severityRank(alert.severity),
          alert.ruleId,
          alert.reason,
          JSON.stringify(alert.matched),
          alert.guid,
          alert.messageId,
          alert.subject,
          alert.threatUrl,
          alert.occurredAt,
          alert.statusTime,
          now,
          alert.state,
          alert.autoDeleteEligible,
          alert.parentAlertId,
        ],
      );
    } else if (hasChanged(change)) {
      await tx.query(
        `UPDATE alerts SET severity = $2, severity_rank = $3, rule_id = $4, reason = $5, matched = $6,
           threat_url = $7, occurred_at = $8, status_time = $9, state = $10, auto_delete_eligible = $11,
           parent_alert_id = $12, updated_at = $13
         WHERE alert_id = $1`,
        [
          alert.alertId,
          alert.severity,
          severityRank(alert.severity),
          alert.ruleId,
          alert.reason,
          JSON.stringify(alert.matched),
          alert.threatUrl,
          alert.occurredAt,
          alert.statusTime,
          alert.state,
          alert.autoDeleteEligible,
          alert.parentAlertId,
          now,
        ],
      );
    }

    for (const recipient of change.addedRecipients) {
      await tx.query(
        `INSERT INTO alert_recipients (alert_id, recipient, added_at) VALUES ($1, $2, $3)
         ON CONFLICT (alert_id, recipient) DO NOTHING`,
        [alert.alertId, recipient, now],
      );
    }
  }
}

async function writeEventResults(tx: SqlRunner, context: IngestContext, plan: DetectionPlan, now: string) {
  for (const entry of plan.events) {
    const { event, rule, suppressedBy } = entry.decision;
    const statusKey = statusKeyOf(event);
    await tx.query(
      `UPDATE tap_events SET disposition = $5, rule_id = $6, reason = $7, suppressed_by = $8, alert_id = $9
       WHERE org_id = $1 AND device_id = $2 AND event_key = $3 AND status_key = $4`,
      [
        context.orgId,
        context.deviceId,
        event.key,
        statusKey,
        entry.disposition,
        rule?.id ?? null,
        entry.reason,
        suppressedBy,
        entry.alertId,
      ],
    );

    for (const link of entry.links) {
      await tx.query(
        `INSERT INTO alert_events (alert_id, org_id, device_id, event_key, status_key, rule_id, effect, linked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (alert_id, event_key, status_key) DO NOTHING`,
        [link.alertId, context.orgId, context.deviceId, event.key, statusKey, rule?.id ?? '', link.effect, now],
      );
    }
  }
}

/** Returns whether the batch changed an existing alert (recipients included). */
function hasChanged(change: AlertChange): boolean {
  if (change.before === null || change.addedRecipients.length > 0) return true;
  const { recipients: _before, ...before } = change.before;
  const { recipients: _after, ...after } = change.after;
  return JSON.stringify(before) !== JSON.stringify(after);
}

/**
 * Returns whether the batch made a message alert deletable: it is new, gained recipients, or just became
 * eligible. An alert without a Message-ID is left out, because mailbox search needs one.
 */
function becameRemediable(change: AlertChange): boolean {
  const alert = change.after;
  if (alert.type !== 'delivered_message' || alert.state !== 'open' || !alert.autoDeleteEligible) return false;
  if (alert.messageId === null) return false;
  if (change.before === null || change.addedRecipients.length > 0) return true;
  return !change.before.autoDeleteEligible || change.before.state !== 'open';
}
