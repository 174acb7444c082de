/**
 * Embedded SQLite implementation of {@link SqlDatabase}, on Node's built-in `node:sqlite`
 * (no native build). The file is opened in WAL mode, so CLI commands in another process read
 * while the worker writes, and writers in other processes wait up to {@link BUSY_TIMEOUT_MS}
 * for the write lock.
 */
import { resolve } from 'node:path';
import type * as Sqlite from 'node:sqlite';
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { SqlDatabase, SqlRow, SqlRunner, SqlValue } from './sql.ts';

/** How long a writer waits for another process's write lock before SQLITE_BUSY, in milliseconds. */
const BUSY_TIMEOUT_MS = 10_000;

/**
 * Loads `node:sqlite`. Node 22 prints an ExperimentalWarning on the first load, which every CLI
 * command would show. This filters that one warning and passes every other warning through.
 */
async function loadSqlite(): Promise<typeof Sqlite> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/SQLite/i.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return await import('node:sqlite');
  } finally {
    process.emitWarning = emitWarning;
  }
}

/**
 * Bound values per multi-row INSERT. node:sqlite (Node 24) binds in time that grows with the
 * square of a statement's parameters: 50,000 rows of 17 columns took 0.65 s at 1 to 10 rows
 * per statement and 2.9 s for 5,000 rows at 1,764 (scripts/bench, 2-core AMD EPYC).
 */
const MULTI_ROW_PARAMETERS = 200;

/** Prepared statements kept per database; ingest reuses a few shapes many times. */
const STATEMENT_CACHE_SIZE = 64;

/** The statement queue of each database file opened by this process. */
const queues = new Map<string, Promise<void>>();

/** Opens (creating if needed) the SQLite file at `path`. */
export async function openSqlite(file: string): Promise<SqlDatabase> {
  const { DatabaseSync } = await loadSqlite();
  const path = resolve(file);
  const db: DatabaseSync = new DatabaseSync(path);
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA foreign_keys = ON');

  const statements = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (statement) {
      // Map order is insertion order; re-inserting keeps the most recently used last.
      statements.delete(sql);
    } else {
      // `$n` becomes `?n`, SQLite's numbered parameter; positional values bind to ?1, ?2, ….
      statement = db.prepare(sql.replace(/\$(\d+)/g, '?$1'));
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
    }
    statements.set(sql, statement);
    return statement;
  };

  const run = <T extends SqlRow>(sql: string, params: readonly SqlValue[] = []): T[] => {
    const statement = prepare(sql);
    const values: SQLInputValue[] = params.map((value) => (typeof value === 'boolean' ? Number(value) : value));
    return statement.all(...values) as T[];
  };

  // node:sqlite is synchronous, but transaction bodies await between statements. One queue per
  // file in this process keeps other statements out of an open transaction. It also stops a
  // second connection in this process from blocking the event loop in busy_timeout while the
  // lock holder waits for that loop. Other processes wait in busy_timeout instead.
  const exclusive = <T>(task: () => Promise<T> | T): Promise<T> => {
    const next = (queues.get(path) ?? Promise.resolve()).then(task, task);
    queues.set(
      path,
      next.then(
        () => undefined,
        () => undefined,
      ),
    );
    return next;
  };
  const insertMany = (table: string, columns: readonly string[], rows: Iterable<readonly SqlValue[]>): void => {
    const statement = prepare(
      `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, index) => `?${index + 1}`).join(', ')})`,
    );
    for (const row of rows) {
      statement.run(...row.map((value): SQLInputValue => (typeof value === 'boolean' ? Number(value) : value)));
    }
  };

  const runner: SqlRunner = {
    query: async (sql, params) => run(sql, params),
    multiRowParameters: MULTI_ROW_PARAMETERS,
    insertMany: async (table, columns, rows) => insertMany(table, columns, rows),
  };

  return {
    dialect: 'sqlite',

    query: (sql, params) => exclusive(() => run(sql, params)),
    multiRowParameters: MULTI_ROW_PARAMETERS,
    // Outside a transaction the rows go in one, so a failure leaves none of them behind.
    insertMany: (table, columns, rows) =>
      exclusive(() => {
        db.exec('BEGIN IMMEDIATE');
        try {
          insertMany(table, columns, rows);
          db.exec('COMMIT');
        } catch (err) {
          db.exec('ROLLBACK');
          throw err;
        }
      }),

    transaction: <T>(work: (tx: SqlRunner) => Promise<T>) =>
      exclusive(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await work(runner);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          db.exec('ROLLBACK');
          throw err;
        }
      }),

    async executeScript(_tx, script) {
      db.exec(script);
    },

    close: () =>
      exclusive(() => {
        db.close();
      }),
  };
}
