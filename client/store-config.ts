/**
 * Store lookup for CLI commands: PostgreSQL when `DATABASE_URL` is set, otherwise
 * the embedded database in the data directory (`--data-dir`, else `TAP_MDR_DATA_DIR`, else
 * `./.tap-mdr`). Also the helpers that every store command shares.
 */
import { openStore, type StoreOptions } from '../activities/store/index.ts';
import type { WorkbenchStore } from '../activities/store/types.ts';
import { resolveDataDir } from '../workers/config.ts';
import { CliError } from './command.ts';

/** Command-line flags that choose the store; `dataDir` is what parseArgs gives for `--data-dir`. */
export interface StoreFlags {
  dataDir?: string;
  'data-dir'?: string;
}

/** Returns the store options for these flags and the process environment. */
export function storeOptionsFromEnv(flags: StoreFlags = {}, env: NodeJS.ProcessEnv = process.env): StoreOptions {
  const dataDir = resolveDataDir(flags['data-dir'] ?? flags.dataDir, env);
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  return databaseUrl === undefined ? { dataDir } : { databaseUrl, dataDir };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Opens the store for these flags, runs `work`, and closes the store whatever happens.
 * A store that cannot be opened becomes a {@link CliError} naming where the command looked.
 */
export async function withStore<T>(flags: StoreFlags, work: (store: WorkbenchStore) => Promise<T>): Promise<T> {
  const options = storeOptionsFromEnv(flags);
  let store: WorkbenchStore;
  try {
    store = await openStore(options);
  } catch (err) {
    const where = options.databaseUrl
      ? 'the PostgreSQL database in DATABASE_URL'
      : `the data directory ${options.dataDir}`;
    throw new CliError(
      'TAP_MDR_STORE_UNAVAILABLE',
      `cannot open the Workbench store in ${where}: ${(err as Error).message}`,
    );
  }
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Returns the operator recorded in the audit log: `TAP_MDR_ACTOR`, else the login name. */
export function actorFromEnv(env: NodeJS.ProcessEnv = process.env): { name: string } {
  return { name: env.TAP_MDR_ACTOR ?? env.USER ?? 'operator' };
}

/**
 * Returns text from TAP (subjects, URLs, Message-IDs) safe to print on a terminal: control
 * characters, which could move the cursor or change colours, are shown as `\uXXXX` escapes.
 */
export function printable(value: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return (value ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
