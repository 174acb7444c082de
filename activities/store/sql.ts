/**
 * The small SQL surface that the Workbench store needs, implemented once for PostgreSQL
 * (postgres.ts) and once for the embedded SQLite file (sqlite.ts), so that the store's queries
 * are written once. Statements use `$1`, `$2`, … placeholders in both; values are always bound
 * as parameters and never spliced into the SQL text.
 */

/** A bindable value. Booleans are stored as 0 or 1 so both databases read them alike. */
export type SqlValue = string | number | boolean | null;

/** A result row, column name to value. */
export type SqlRow = Record<string, unknown>;

/** Runs statements, inside or outside a transaction. */
export interface SqlRunner {
  /** Runs one statement with `$n` placeholders and returns its rows (none for most writes). */
  query<T extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /**
   * Bound values per multi-row INSERT that suit this database. PostgreSQL pays a round trip
   * per statement, so it takes thousands; node:sqlite binds slower the wider a statement is,
   * so it takes a few rows.
   */
  readonly multiRowParameters: number;
  /**
   * Inserts `rows` into `table` by the fastest path the database offers: `COPY … FROM STDIN`
   * on PostgreSQL, one prepared single-row INSERT per row on SQLite. Rows are read from the
   * iterable as they are sent, so a caller can build them lazily. Any conflict fails the
   * whole call, so callers pass only rows known to be new. `table` and `columns` are
   * identifiers written in code, never taken from input.
   */
  insertMany(table: string, columns: readonly string[], rows: Iterable<readonly SqlValue[]>): Promise<void>;
}

/** A connection (pool) to one of the two databases. */
export interface SqlDatabase extends SqlRunner {
  readonly dialect: 'postgres' | 'sqlite';
  /**
   * Runs `work` in one transaction and commits it. PostgreSQL runs it SERIALIZABLE and runs it
   * again after a serialization failure, deadlock or unique violation caused by a concurrent
   * writer, so `work` must be safe to repeat. SQLite takes the write lock up front.
   */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  executeScript(tx: SqlRunner, script: string): Promise<void>;
  close(): Promise<void>;
}

/** Reads a count column, which PostgreSQL returns as a string (bigint). */
export function toCount(value: unknown): number {
  return typeof value === 'number' ? value : Number(value ?? 0);
}

/** Reads a 0/1 column as a boolean. */
export function toBoolean(value: unknown): boolean {
  return value === true || value === 1 || value === '1';
}

/** Returns `$start, $start+1, …` for `count` values, for an `IN (…)` list. */
export function placeholders(count: number, start = 1): string {
  return Array.from({ length: count }, (_, index) => `$${start + index}`).join(', ');
}
