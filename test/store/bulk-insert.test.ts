/**
 * The store's bulk path (`insertMany`: COPY on PostgreSQL, prepared INSERTs on SQLite) and the
 * migration that tunes `tap_events` for it, on both databases.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyMigrations, MIGRATIONS } from '../../activities/store/migrations.ts';
import { openPostgres } from '../../activities/store/postgres.ts';
import type { SqlDatabase, SqlValue } from '../../activities/store/sql.ts';
import { openSqlite } from '../../activities/store/sqlite.ts';
import { createPostgresSchema, createSqliteDirectory, type TestDatabase } from './databases.ts';

/** Values that COPY text format would misread if they were sent unescaped. */
const AWKWARD_TEXT = [
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  '\\.',
  '',
  'ends with a backslash\\',
  '{"subject":"a\\"b","path":"C:\\\\tmp"}',
  'Überweisung fällig – 請求書 😀',
];

const DATABASES: [string, () => Promise<TestDatabase>, (place: TestDatabase) => Promise<SqlDatabase>][] = [
  ['PostgreSQL', createPostgresSchema, async (place) => openPostgres(place.options.databaseUrl!)],
  ['embedded SQLite', createSqliteDirectory, (place) => openSqlite(join(place.options.dataDir, 'bulk.db'))],
];

for (const [label, createPlace, open] of DATABASES) {
  describe(`insertMany on ${label}`, () => {
    let place: TestDatabase;
    let db: SqlDatabase;

    before(async () => {
      place = await createPlace();
      db = await open(place);
      await db.query('CREATE TABLE bulk (id integer PRIMARY KEY, text_value text, number_value integer)');
    });
    after(async () => {
      await db?.close();
      await place?.drop();
    });

    it('round-trips awkward text, NULL and numbers', async () => {
      const rows: SqlValue[][] = AWKWARD_TEXT.map((text, index) => [index, text, index * 1_000]);
      rows.push([AWKWARD_TEXT.length, null, null], [AWKWARD_TEXT.length + 1, 'true as 1', true]);
      await db.transaction((tx) => tx.insertMany('bulk', ['id', 'text_value', 'number_value'], rows));

      const stored = await db.query<{ id: unknown; text_value: unknown; number_value: unknown }>(
        'SELECT id, text_value, number_value FROM bulk ORDER BY id',
      );
      assert.equal(stored.length, rows.length);
      for (const [index, row] of stored.entries()) {
        assert.equal(Number(row.id), index, `row ${index} id`);
        assert.equal(row.text_value, rows[index]![1], `row ${index} text`);
      }
      assert.equal(stored.at(-2)!.number_value, null);
      assert.equal(Number(stored.at(-1)!.number_value), 1);
    });

    it('takes rows from a generator', async () => {
      function* rows(): Generator<SqlValue[]> {
        for (let id = 1_000; id < 3_500; id++) yield [id, `row ${id}\t${'x'.repeat(id % 50)}`, id];
      }
      await db.insertMany('bulk', ['id', 'text_value', 'number_value'], rows());
      const [count] = await db.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM bulk WHERE id >= 1000');
      assert.equal(Number(count!.n), 2_500);
    });

    it('conflict inserts none of the rows', async () => {
      const rows: SqlValue[][] = [
        [5_000, 'new', 1],
        [0, 'conflicts with the first test', 2],
      ];
      await assert.rejects(db.insertMany('bulk', ['id', 'text_value', 'number_value'], rows));
      const found = await db.query('SELECT id FROM bulk WHERE id = 5000');
      assert.deepEqual(found, []);
    });
  });
}

describe('migrations after version 2', () => {
  for (const [label, createPlace, open] of DATABASES) {
    it(`upgrades a version 2 ${label} store`, async () => {
      const place = await createPlace();
      const db = await open(place);
      try {
        // A store as version 2 left it: one event in the old body format, and one device that
        // `device remove` decommissioned without setting removed_at.
        await db.query(
          'CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)',
        );
        for (const migration of MIGRATIONS.filter((entry) => entry.version <= 2)) {
          await db.executeScript(db, migration.sql);
          await db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            migration.version,
            migration.name,
            '2026-12-01T00:00:00.000Z',
          ]);
        }
        await db.query(
          `INSERT INTO tap_events (org_id, device_id, event_key, status_key, event_type, guid, message_id, event_time,
             status_time, received_at, disposition, reason, suppressed_by, body)
           VALUES ('org', 'dev', 'k', 'active', 'messagesDelivered', 'g', 'm', 't', 't', 't', 'suppressed', 'r', 'rule-1', '{}')`,
        );
        await db.query("INSERT INTO organizations (org_id, created_at) VALUES ('org', '2026-12-01T00:00:00.000Z')");
        const devices: [string, string][] = [
          ['gone', 'decommissioned'],
          ['live', 'polling'],
        ];
        for (const [deviceId, status] of devices) {
          await db.query(
            `INSERT INTO devices (org_id, device_id, name, location, principal, secret_ref, tap_base_url, created_at,
               status, health, status_updated_at)
             VALUES ('org', $1, 'n', 'l', 'p', 's', 'https://tap.example', '2026-12-01T00:00:00.000Z', $2, 'healthy',
               '2026-12-02T00:00:00.000Z')`,
            [deviceId, status],
          );
        }

        assert.deepEqual(await applyMigrations(db), [3, 4]);

        const suppressed = await db.query('SELECT event_key FROM tap_events WHERE suppressed_by = $1', ['rule-1']);
        assert.deepEqual(
          suppressed.map((row) => row.event_key),
          ['k'],
        );
        assert.match(await indexDefinition(db), /WHERE .*suppressed_by IS NOT NULL/i);
        if (db.dialect === 'postgres') assert.equal(await bodyCompression(db), await expectedCompression(db));

        const upgraded = await db.query<{ device_id: string; removed_at: string | null }>(
          'SELECT device_id, removed_at FROM devices ORDER BY device_id',
        );
        assert.deepEqual(
          upgraded.map((row) => [row.device_id, row.removed_at]),
          [
            ['gone', '2026-12-02T00:00:00.000Z'],
            ['live', null],
          ],
        );
      } finally {
        await db.close();
        await place.drop();
      }
    });
  }
});

describe('migrations on a new PostgreSQL schema', () => {
  it('three processes migrate at once', async () => {
    const place = await createPostgresSchema();
    const connections = [0, 1, 2].map(() => openPostgres(place.options.databaseUrl!));
    try {
      // Each connection stands for a worker or CLI process that starts against the new schema.
      const results = await Promise.allSettled(connections.map((db) => applyMigrations(db)));
      const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
      assert.deepEqual(failures, []);

      const applied = results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
      assert.deepEqual(
        applied.sort((a, b) => a - b),
        MIGRATIONS.map((migration) => migration.version),
      );
    } finally {
      for (const db of connections) await db.close();
      await place.drop();
    }
  });
});

async function indexDefinition(db: SqlDatabase): Promise<string> {
  const sql =
    db.dialect === 'postgres'
      ? "SELECT indexdef AS definition FROM pg_indexes WHERE indexname = 'tap_events_suppressed_by' AND schemaname = current_schema()"
      : "SELECT sql AS definition FROM sqlite_master WHERE name = 'tap_events_suppressed_by'";
  const [row] = await db.query<{ definition: string }>(sql);
  return row?.definition ?? '';
}

/** Returns the compression method set on `tap_events.body`: 'l' for lz4, '' for the server default. */
async function bodyCompression(db: SqlDatabase): Promise<string> {
  const [row] = await db.query<{ compression: string }>(
    `SELECT attcompression AS compression FROM pg_attribute
     WHERE attrelid = 'tap_events'::regclass AND attname = 'body'`,
  );
  return row?.compression ?? '';
}

/** Returns the compression that the migration sets: lz4 where the server was built with it, else none. */
async function expectedCompression(db: SqlDatabase): Promise<string> {
  const [row] = await db.query<{ lz4: boolean }>(
    "SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
  );
  return row?.lz4 ? 'l' : '';
}
