/**
 * Versioned schema of the Workbench store. The same DDL runs on PostgreSQL and SQLite: text
 * columns for ids, JSON and ISO-8601 UTC timestamps (which sort as text), integer 0/1 for
 * booleans. Applied migrations are recorded in `schema_migrations`; add a new version at the
 * end and never edit one that has shipped.
 */
import type { SqlDatabase } from './sql.ts';

/** One schema change. */
export interface Migration {
  version: number;
  name: string;
  /** Statements for both databases. */
  sql: string;
  /** Statements run after `sql` on PostgreSQL only, for storage settings SQLite lacks. */
  postgresSql?: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'workbench',
    sql: `
CREATE TABLE organizations (
  org_id text PRIMARY KEY,
  created_at text NOT NULL
);

CREATE TABLE org_preferences (
  org_id text NOT NULL REFERENCES organizations (org_id),
  pref_key text NOT NULL,
  value text NOT NULL,
  updated_at text NOT NULL,
  updated_by text NOT NULL,
  PRIMARY KEY (org_id, pref_key)
);

CREATE TABLE devices (
  org_id text NOT NULL REFERENCES organizations (org_id),
  device_id text NOT NULL,
  name text NOT NULL,
  location text NOT NULL,
  principal text NOT NULL,
  secret_ref text NOT NULL,
  tap_base_url text NOT NULL,
  created_at text NOT NULL,
  status text NOT NULL,
  health text NOT NULL,
  status_updated_at text,
  removed_at text,
  PRIMARY KEY (org_id, device_id)
);

CREATE TABLE secrets (
  secret_ref text PRIMARY KEY,
  ciphertext text NOT NULL,
  updated_at text NOT NULL
);

-- status_key (the event's sorted threatStatus values) is part of the key, so an event that TAP
-- sends again with a new threatStatus (active, later falsePositive) is a new row, not a duplicate.
CREATE TABLE tap_events (
  org_id text NOT NULL,
  device_id text NOT NULL,
  event_key text NOT NULL,
  status_key text NOT NULL,
  event_type text NOT NULL,
  event_id text,
  guid text NOT NULL,
  message_id text NOT NULL,
  event_time text NOT NULL,
  status_time text NOT NULL,
  received_at text NOT NULL,
  disposition text NOT NULL,
  rule_id text,
  reason text NOT NULL,
  suppressed_by text,
  alert_id text,
  body text NOT NULL,
  PRIMARY KEY (org_id, device_id, event_key, status_key)
);
CREATE INDEX tap_events_guid ON tap_events (org_id, device_id, guid);
CREATE INDEX tap_events_suppressed_by ON tap_events (suppressed_by);

CREATE TABLE tap_invalid_events (
  org_id text NOT NULL,
  device_id text NOT NULL,
  invalid_key text NOT NULL,
  event_type text,
  reason text NOT NULL,
  raw text NOT NULL,
  received_at text NOT NULL,
  PRIMARY KEY (org_id, device_id, invalid_key)
);

CREATE TABLE alerts (
  alert_id text PRIMARY KEY,
  org_id text NOT NULL,
  device_id text NOT NULL,
  alert_key text NOT NULL,
  alert_type text NOT NULL,
  severity text NOT NULL,
  severity_rank integer NOT NULL,
  rule_id text NOT NULL,
  reason text NOT NULL,
  matched text NOT NULL,
  guid text,
  message_id text,
  subject text,
  threat_url text,
  occurred_at text NOT NULL,
  status_time text NOT NULL,
  created_at text NOT NULL,
  updated_at text NOT NULL,
  state text NOT NULL,
  auto_delete_eligible integer NOT NULL,
  remediation_status text NOT NULL,
  remediation_reason text,
  parent_alert_id text REFERENCES alerts (alert_id),
  UNIQUE (org_id, device_id, alert_key)
);
CREATE INDEX alerts_guid ON alerts (org_id, device_id, guid);
CREATE INDEX alerts_queue ON alerts (state, severity_rank, occurred_at);

CREATE TABLE alert_recipients (
  alert_id text NOT NULL REFERENCES alerts (alert_id),
  recipient text NOT NULL,
  added_at text NOT NULL,
  PRIMARY KEY (alert_id, recipient)
);

CREATE TABLE alert_events (
  alert_id text NOT NULL REFERENCES alerts (alert_id),
  org_id text NOT NULL,
  device_id text NOT NULL,
  event_key text NOT NULL,
  status_key text NOT NULL,
  rule_id text NOT NULL,
  effect text NOT NULL,
  linked_at text NOT NULL,
  PRIMARY KEY (alert_id, event_key, status_key)
);

CREATE TABLE tuning_rules (
  rule_id text PRIMARY KEY,
  org_id text NOT NULL,
  device_id text NOT NULL,
  field text NOT NULL,
  value text NOT NULL,
  comment text NOT NULL,
  created_by text NOT NULL,
  created_at text NOT NULL,
  UNIQUE (org_id, device_id, field, value)
);

CREATE TABLE remediation_results (
  alert_id text NOT NULL REFERENCES alerts (alert_id),
  recipient text NOT NULL,
  outcome text NOT NULL,
  copies integer NOT NULL,
  reason text,
  at text NOT NULL,
  PRIMARY KEY (alert_id, recipient)
);

CREATE TABLE audit_log (
  audit_id text PRIMARY KEY,
  at text NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  subject text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
`,
  },
  {
    version: 2,
    name: 'email_providers',
    // One mail provider per organization. `config` is the provider configuration as JSON, with
    // secrets replaced by references into `secrets`.
    sql: `
CREATE TABLE email_providers (
  org_id text PRIMARY KEY REFERENCES organizations (org_id),
  kind text NOT NULL,
  config text NOT NULL,
  action text NOT NULL,
  updated_at text NOT NULL,
  updated_by text NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'tap_events_ingest',
    // Most events are never suppressed, so the index keeps only the ones that are; the
    // per-rule count (`suppressed_by = rule_id`) still uses it. From this version on,
    // `tap_events.body` contains TAP's original event alone. Older rows also contain the
    // normalised fields, which the other columns repeat.
    sql: `
DROP INDEX tap_events_suppressed_by;
CREATE INDEX tap_events_suppressed_by ON tap_events (suppressed_by) WHERE suppressed_by IS NOT NULL;
`,
    // lz4 compresses event bodies faster than the default pglz. It needs PostgreSQL 14 or newer
    // built with lz4; elsewhere the column keeps the server's default.
    postgresSql: `
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE tap_events ALTER COLUMN body SET COMPRESSION lz4;
  END IF;
END
$$;
`,
  },
  {
    version: 4,
    name: 'devices_removed_at',
    // `device remove` used to leave removed_at NULL while the workflow reported the device
    // `decommissioned`, which only removal causes. Such devices get the time of that report.
    sql: `
UPDATE devices SET removed_at = COALESCE(status_updated_at, created_at)
WHERE status = 'decommissioned' AND removed_at IS NULL;
`,
  },
];

/** Applies every migration not yet recorded, each in its own transaction; returns the versions applied. */
export async function applyMigrations(db: SqlDatabase): Promise<number[]> {
  // IF NOT EXISTS does not stop two sessions that create the table at once: the later one fails
  // on PostgreSQL's catalog (23505, 42P07 or 42710), which the transaction's retry covers.
  await db.transaction((tx) =>
    tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)',
    ),
  );

  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    // Two processes starting at once both try. The second finds the row and skips the migration,
    // or on PostgreSQL fails to serialize and runs again, then finds the row.
    const ran = await db.transaction(async (tx) => {
      const done = await tx.query('SELECT version FROM schema_migrations WHERE version = $1', [migration.version]);
      if (done.length > 0) return false;
      await db.executeScript(tx, migration.sql);
      if (migration.postgresSql && db.dialect === 'postgres') await db.executeScript(tx, migration.postgresSql);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        new Date().toISOString(),
      ]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}
