/**
 * The two databases the store suite runs against: a fresh PostgreSQL schema (dropped after the
 * file) and a fresh SQLite file in a temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** PostgreSQL URL of the test database; CI and these machines run PostgreSQL with trust auth. */
export const TEST_DATABASE_URL = process.env.TAP_MDR_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A place for one test file's store, and how to remove it. */
export interface TestDatabase {
  /** Options for `openStore`. */
  options: { databaseUrl?: string; dataDir: string };
  drop(): Promise<void>;
}

/**
 * Creates a schema of its own on the test PostgreSQL and returns a URL whose connections use it.
 * Fails (never skips) when PostgreSQL is unreachable, because the store suite must run on it.
 */
export async function createPostgresSchema(): Promise<TestDatabase> {
  const schema = `tap_mdr_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${TEST_DATABASE_URL} is unreachable (${(err as Error).message}). Start PostgreSQL or set ` +
        'TAP_MDR_TEST_DATABASE_URL to a database that accepts this user.',
      { cause: err },
    );
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();

  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-pg-'));
  return {
    options: { databaseUrl: url.toString(), dataDir },
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates an empty data directory for the embedded store. */
export async function createSqliteDirectory(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-sqlite-'));
  return {
    options: { dataDir },
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
