/**
 * Opens the Workbench store: PostgreSQL when a database URL is given, otherwise the embedded
 * SQLite file `<dataDir>/workbench.db`. Pending migrations are applied before it is returned.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openPostgres } from './postgres.ts';
import { openSqlite } from './sqlite.ts';
import type { WorkbenchStore } from './types.ts';
import { SqlWorkbenchStore } from './workbench.ts';

export { SqlWorkbenchStore, StoreInputError } from './workbench.ts';

/** Location of the store: a PostgreSQL URL or the embedded file's directory. */
export interface StoreOptions {
  /** `postgres://…` URL; when set, the store is PostgreSQL. */
  databaseUrl?: string;
  /** Directory of the embedded database file, created when missing. */
  dataDir: string;
}

/** File name of the embedded database inside the data directory. */
export const EMBEDDED_DATABASE_FILE = 'workbench.db';

/** Opens the store described by `options` and applies pending migrations. */
export async function openStore(options: StoreOptions): Promise<WorkbenchStore> {
  let store: SqlWorkbenchStore;
  if (options.databaseUrl) {
    store = new SqlWorkbenchStore(openPostgres(options.databaseUrl));
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    store = new SqlWorkbenchStore(await openSqlite(join(options.dataDir, EMBEDDED_DATABASE_FILE)));
  }

  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
