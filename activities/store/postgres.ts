/**
 * PostgreSQL implementation of {@link SqlDatabase}, on a `pg` pool.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { SqlDatabase, SqlRow, SqlRunner, SqlValue } from './sql.ts';

/**
 * SQLSTATEs after which a transaction is run again: serialization failure, deadlock, unique
 * violation, duplicate table and duplicate object. Two processes that create the same table at
 * once get one of the last three, depending on which catalog entry collides first: a
 * concurrent CREATE TABLE IF NOT EXISTS fails with 'type "schema_migrations" already exists'.
 */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '23505', '42P07', '42710']);

/** Bound values per multi-row INSERT: about 1,000 rows of 30 columns, under the protocol's 65,535. */
const MULTI_ROW_PARAMETERS = 30_000;

/** Attempts per transaction before the last error is thrown. */
const MAX_ATTEMPTS = 10;

/** Characters of COPY text sent per write, enough to amortise the stream's per-chunk cost. */
const COPY_CHUNK_CHARS = 1 << 20;

/** Opens a pool on `databaseUrl`. The URL may set `options=-c search_path=<schema>`. */
export function openPostgres(databaseUrl: string): SqlDatabase {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });

  // An idle client that loses its connection emits 'error' on the pool; without a listener the
  // process would crash. The next query reconnects.
  pool.on('error', (err) => {
    console.error(JSON.stringify({ level: 'warn', msg: 'idle PostgreSQL connection failed', error: err.message }));
  });

  const run = async <T extends SqlRow>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<T[]> => {
    const values = params.map((value) => (typeof value === 'boolean' ? Number(value) : value));
    const result = await client.query<T>(sql, values);
    return result.rows;
  };

  // COPY needs one connection for the whole stream, so outside a transaction it takes one from the pool.
  const insertMany = async (
    client: pg.Pool | pg.PoolClient,
    table: string,
    columns: readonly string[],
    rows: Iterable<readonly SqlValue[]>,
  ): Promise<void> => {
    const connection = client instanceof pg.Pool ? await client.connect() : client;
    try {
      const copy = connection.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
      await pipeline(Readable.from(copyText(rows)), copy);
    } finally {
      if (connection !== client) (connection as pg.PoolClient).release();
    }
  };

  return {
    dialect: 'postgres',

    query: (sql, params) => run(pool, sql, params),
    multiRowParameters: MULTI_ROW_PARAMETERS,
    insertMany: (table, columns, rows) => insertMany(pool, table, columns, rows),

    async transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt += 1) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          const result = await work({
            query: (sql, params) => run(client, sql, params),
            multiRowParameters: MULTI_ROW_PARAMETERS,
            insertMany: (table, columns, rows) => insertMany(client, table, columns, rows),
          });
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          const code = (err as { code?: unknown }).code;
          if (attempt >= MAX_ATTEMPTS || typeof code !== 'string' || !RETRYABLE_SQLSTATES.has(code)) throw err;
          // Back off a little, with jitter, so the competing writer can commit first.
          await sleep(Math.floor(Math.random() * 20 * attempt));
        } finally {
          client.release();
        }
      }
    },

    async executeScript(tx, script) {
      await tx.query(script);
    },

    close: () => pool.end(),
  };
}

/** Yields `rows` as COPY text format: tab-separated fields, one line per row, `\N` for NULL. */
export function* copyText(rows: Iterable<readonly SqlValue[]>): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    chunk += row.map(copyField).join('\t') + '\n';
    if (chunk.length >= COPY_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Characters that COPY text format gives a meaning: the escape, the delimiter and line ends. */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function copyField(value: SqlValue): string {
  if (value === null) return '\\N';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number') return String(value);
  // Most fields need no escaping; the test is cheaper than a replace that finds nothing.
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (char) => COPY_ESCAPES[char]!) : value;
}
