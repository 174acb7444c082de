/**
 * PostgreSQL implementation of {@link SqlDatabase}, on a `pg` pool.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { SqlDatabase, SqlRow, SqlRunner, SqlValue } from './sql.ts';

/**
 * SQLSTATEs after which a transaction is run again: serialization failure, deadlock, unique
 * violation, and duplicate table (two processes applying the same migration at once).
 */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '23505', '42P07']);

/** Bound values per multi-row INSERT: about 1,000 rows of 30 columns, under the protocol's 65,535. */
const MULTI_ROW_PARAMETERS = 30_000;

/** Attempts per transaction before the last error is thrown. */
const MAX_ATTEMPTS = 10;

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

  return {
    dialect: 'postgres',

    query: (sql, params) => run(pool, sql, params),
    multiRowParameters: MULTI_ROW_PARAMETERS,

    async transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt += 1) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          const result = await work({
            query: (sql, params) => run(client, sql, params),
            multiRowParameters: MULTI_ROW_PARAMETERS,
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
