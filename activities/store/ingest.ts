/**
 * The ingest transaction: store new TAP events, run detection against the device's existing
 * alerts, and write the alert changes. Runs inside {@link SqlDatabase.transaction}, which on
 * PostgreSQL may run it more than once, so it reads everything it needs inside the transaction.
 */
import { createHash } from 'node:crypto';
import { alertIdFor, alertKeysFor, evaluateEvent, planAlerts, severityRank, threatsOf } from '../detection/index.ts';
import type { AlertChange, AlertState, DetectionPlan, EventResult } from '../detection/index.ts';
import type { InvalidTapEvent, TapEvent } from '../tap/types.ts';
import { toAlertState, toTuningRule, type AlertRow } from './rows.ts';
import { placeholders, type SqlRow, type SqlRunner, type SqlValue } from './sql.ts';
import type { IngestContext, IngestResult } from './types.ts';
import { loadUnmatchedCloses } from './unmatched-closes.ts';

/** Values per `IN (…)` list of the alert and recipient lookups. */
const CHUNK = 400;

/** Values per `IN (…)` list of the duplicate check, which reads every event of the batch. */
const LOOKUP_CHUNK = 5_000;

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
  const fresh = await findNewEvents(tx, context, events);
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
  const earlierCloses = await loadUnmatchedCloses(tx, context, decisions);
  const newAlertId = (key: string) => alertIdFor(context.orgId, context.deviceId, key);
  const plan = planAlerts(existing, decisions, newAlertId, earlierCloses);

  // Alerts first: alert_events rows reference them.
  await writeAlerts(tx, context, plan.alerts, now);
  await insertEvents(tx, context, fresh, plan, now);
  await insertEventLinks(tx, context, plan, now);
  await linkLateCloses(tx, context, plan, now);

  result.suppressed = plan.events.filter((entry) => entry.disposition === 'suppressed').length;
  for (const change of plan.alerts) {
    if (change.before === null) result.alertsCreated.push(change.after.alertId);
    else if (hasChanged(change)) result.alertsUpdated.push(change.after.alertId);
    if (context.autoRemediateDelivered && becameRemediable(change))
      result.remediationAlertIds.push(change.after.alertId);
  }
  return result;
}

/**
 * Returns the events of the batch not stored before, once each. On SQLite the transaction takes
 * the write lock first, so no other writer can store one of them before {@link insertEvents}.
 * On PostgreSQL a concurrent writer that does makes that insert fail with a unique violation or
 * a serialization failure, and the transaction runs again.
 */
async function findNewEvents(tx: SqlRunner, context: IngestContext, events: readonly TapEvent[]): Promise<TapEvent[]> {
  const unique = new Map<string, TapEvent>();
  for (const event of events) {
    const identity = eventIdentity(event.key, statusKeyOf(event));
    if (!unique.has(identity)) unique.set(identity, event);
  }

  const keys = [...new Set([...unique.values()].map((event) => event.key))];
  for (let start = 0; start < keys.length; start += LOOKUP_CHUNK) {
    const chunk = keys.slice(start, start + LOOKUP_CHUNK);
    const stored = await tx.query<{ event_key: string; status_key: string }>(
      `SELECT event_key, status_key FROM tap_events
       WHERE org_id = $1 AND device_id = $2 AND event_key IN (${placeholders(chunk.length, 3)})`,
      [context.orgId, context.deviceId, ...chunk],
    );
    for (const row of stored) unique.delete(eventIdentity(row.event_key, row.status_key));
  }
  return [...unique.values()];
}

function eventIdentity(eventKey: string, statusKey: string): string {
  return `${eventKey}\u0000${statusKey}`;
}

/** Column values of a new `tap_events` row, in {@link TAP_EVENT_COLUMNS} order. */
export function tapEventRow(
  context: IngestContext,
  event: TapEvent,
  result: Pick<EventResult, 'disposition' | 'reason' | 'alertId'> & {
    ruleId: string | null;
    suppressedBy: string | null;
  },
  receivedAt: string,
): SqlValue[] {
  const statusTime = threatsOf(event).reduce((latest, threat) => {
    return threat.threatTime !== null && threat.threatTime > latest ? threat.threatTime : latest;
  }, event.eventTime);
  return [
    context.orgId,
    context.deviceId,
    event.key,
    statusKeyOf(event),
    event.type,
    event.id,
    event.guid,
    event.messageId,
    event.eventTime,
    statusTime,
    receivedAt,
    result.disposition,
    result.ruleId,
    result.reason,
    result.suppressedBy,
    result.alertId,
    // TAP's event as received: every normalised field above can be derived from it again.
    JSON.stringify(event.raw),
  ];
}

/** Columns of `tap_events`, in the order of {@link tapEventRow}. */
export const TAP_EVENT_COLUMNS = [
  'org_id',
  'device_id',
  'event_key',
  'status_key',
  'event_type',
  'event_id',
  'guid',
  'message_id',
  'event_time',
  'status_time',
  'received_at',
  'disposition',
  'rule_id',
  'reason',
  'suppressed_by',
  'alert_id',
  'body',
] as const;

/** Inserts the new events with the disposition that detection gave each. */
async function insertEvents(
  tx: SqlRunner,
  context: IngestContext,
  fresh: readonly TapEvent[],
  plan: DetectionPlan,
  now: string,
): Promise<void> {
  const results = new Map(plan.events.map((entry) => [entry.decision.event, entry]));

  // Rows are built while the database reads them, so a large window never keeps every row's
  // serialised event in memory at once.
  function* rows(): Generator<SqlValue[]> {
    for (const event of fresh) {
      const entry = results.get(event);
      // Every evaluated event has a result; the fallback keeps an unplanned one visible as such.
      if (!entry) {
        const unplanned = { disposition: 'ignored', reason: 'not evaluated', alertId: null } as const;
        yield tapEventRow(context, event, { ...unplanned, ruleId: null, suppressedBy: null }, now);
        continue;
      }
      const { rule, suppressedBy } = entry.decision;
      yield tapEventRow(context, event, { ...entry, ruleId: rule?.id ?? null, suppressedBy }, now);
    }
  }
  await tx.insertMany('tap_events', TAP_EVENT_COLUMNS, rows());
}

/** Inserts invalid events under a hash of their type and raw text; returns how many were new. */
async function insertInvalid(
  tx: SqlRunner,
  context: IngestContext,
  invalid: readonly InvalidTapEvent[],
  now: string,
): Promise<number> {
  const rows = invalid.map((entry): SqlValue[] => {
    const raw = JSON.stringify(entry.raw ?? null);
    const key = createHash('sha256')
      .update(`${entry.type ?? ''}\u0000${raw}`)
      .digest('hex');
    return [context.orgId, context.deviceId, key, entry.type, entry.reason, raw, now];
  });
  const inserted = await insertRows(
    tx,
    'INSERT INTO tap_invalid_events (org_id, device_id, invalid_key, event_type, reason, raw, received_at)',
    rows,
    'ON CONFLICT (org_id, device_id, invalid_key) DO NOTHING RETURNING invalid_key',
  );
  return inserted.length;
}

/**
 * Inserts `rows` with multi-row `INSERT … VALUES` statements of about
 * {@link SqlRunner.multiRowParameters} values each, and returns the rows that `suffix` (a
 * `RETURNING` clause) returns.
 */
async function insertRows(tx: SqlRunner, insert: string, rows: readonly SqlValue[][], suffix = ''): Promise<SqlRow[]> {
  const width = rows[0]?.length ?? 1;
  const perStatement = Math.max(1, Math.floor(tx.multiRowParameters / width));
  const returned: SqlRow[] = [];

  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const tuples = chunk.map((_, index) => `(${placeholders(width, index * width + 1)})`);
    returned.push(...(await tx.query(`${insert} VALUES ${tuples.join(', ')} ${suffix}`, chunk.flat())));
  }
  return returned;
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

/** Columns of a new `alerts` row, in the order {@link writeAlerts} builds it. */
const ALERT_COLUMNS = [
  'alert_id',
  'org_id',
  'device_id',
  'alert_key',
  'alert_type',
  'severity',
  'severity_rank',
  'rule_id',
  'reason',
  'matched',
  'guid',
  'message_id',
  'subject',
  'threat_url',
  'occurred_at',
  'status_time',
  'created_at',
  'updated_at',
  'state',
  'auto_delete_eligible',
  'remediation_status',
  'remediation_reason',
  'parent_alert_id',
] as const;

/**
 * Inserts new alerts, updates changed ones, and adds new recipients. New alerts go in first,
 * parents before children, because `parent_alert_id` must name an existing alert.
 */
async function writeAlerts(
  tx: SqlRunner,
  context: IngestContext,
  changes: readonly AlertChange[],
  now: string,
): Promise<void> {
  const created = changes
    .filter((change) => change.before === null)
    .map((change) => change.after)
    .sort((a, b) => Number(a.parentAlertId !== null) - Number(b.parentAlertId !== null));
  await tx.insertMany(
    'alerts',
    ALERT_COLUMNS,
    created.map((alert) => [
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
      now,
      alert.state,
      alert.autoDeleteEligible,
      'none',
      null,
      alert.parentAlertId,
    ]),
  );

  // NOTE: one UPDATE per changed alert. A batch changes few existing alerts (status changes
  // and late recipients), so these are not batched.
  for (const change of changes) {
    if (change.before !== null && hasChanged(change)) await updateAlert(tx, change.after, now);
  }

  // addedRecipients holds only recipients missing from the alert as read in this transaction,
  // so a conflict can come only from a concurrent writer, and that fails the transaction, which
  // runs again (see SqlDatabase.transaction). uniqueRows keeps the batch itself from conflicting.
  const recipients = changes.flatMap((change) =>
    change.addedRecipients.map((recipient) => [change.after.alertId, recipient, now]),
  );
  await tx.insertMany('alert_recipients', ['alert_id', 'recipient', 'added_at'], uniqueRows(recipients, 2));
}

async function updateAlert(tx: SqlRunner, alert: AlertState, now: string): Promise<void> {
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

/** Links each event to the alerts it created, changed or joined. */
async function insertEventLinks(tx: SqlRunner, context: IngestContext, plan: DetectionPlan, now: string) {
  const rows = plan.events.flatMap((entry) => {
    const { event, rule } = entry.decision;
    const statusKey = statusKeyOf(event);
    return entry.links.map((link) => [
      link.alertId,
      event.key,
      statusKey,
      context.orgId,
      context.deviceId,
      rule?.id ?? '',
      link.effect,
      now,
    ]);
  });

  // Links name only events new in this batch, and an event's links are written in the same
  // transaction as the event, so no stored link can conflict with these.
  await tx.insertMany(
    'alert_events',
    ['alert_id', 'event_key', 'status_key', 'org_id', 'device_id', 'rule_id', 'effect', 'linked_at'],
    uniqueRows(rows, 3),
  );
}

/**
 * Links the stored falsePositive events that closed an alert of this batch. They were stored
 * with no alert, and once linked they are no longer loaded as unmatched closes.
 */
async function linkLateCloses(tx: SqlRunner, context: IngestContext, plan: DetectionPlan, now: string) {
  if (plan.lateCloses.length === 0) return;
  const rows: SqlValue[][] = [];
  for (const { decision, alertId, reason } of plan.lateCloses) {
    const { event, rule } = decision;
    const statusKey = statusKeyOf(event);
    await tx.query(
      `UPDATE tap_events SET alert_id = $1, disposition = 'closed', reason = $2
       WHERE org_id = $3 AND device_id = $4 AND event_key = $5 AND status_key = $6`,
      [alertId, reason, context.orgId, context.deviceId, event.key, statusKey],
    );
    rows.push([alertId, event.key, statusKey, context.orgId, context.deviceId, rule?.id ?? '', 'closed', now]);
  }
  await tx.insertMany(
    'alert_events',
    ['alert_id', 'event_key', 'status_key', 'org_id', 'device_id', 'rule_id', 'effect', 'linked_at'],
    rows,
  );
}

/** Returns `rows` without the later rows whose first `keyWidth` values repeat an earlier row's. */
function uniqueRows(rows: readonly SqlValue[][], keyWidth: number): SqlValue[][] {
  const seen = new Set<string>();
  return rows.filter((row) => {
    const key = row.slice(0, keyWidth).join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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
