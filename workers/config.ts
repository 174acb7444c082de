/**
 * Lookup of a tap-mdr process's Temporal server, data directory and task queue. The same
 * rules serve the worker, `npm start` and every CLI command, so they all find one stack.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Task queue of the device and remediation workflows and their activities. */
export const DEFAULT_TASK_QUEUE = 'tap-mdr';

/** Connection settings of one tap-mdr stack. */
export interface RuntimeConfig {
  /** Data directory: embedded store, secret key file, Temporal dev-server database. */
  dataDir: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
}

/** Written by `tap-mdr start` into the data directory so that other commands find the running stack. */
export interface StackFile {
  temporalAddress: string;
  namespace: string;
  webUiUrl: string | null;
  pid: number;
  /** Process id of the Temporal dev server that the stack started; absent or null with TEMPORAL_ADDRESS. */
  devServerPid?: number | null;
  /** The demo's simulators, when the stack runs the demo. */
  demo?: DemoEndpoints | null;
}

/** Addresses of the demo's simulators, for tests and operators in other processes. */
export interface DemoEndpoints {
  /** TAP SIEM API simulator; `GET /__admin/state` shows its state. */
  tapUrl: string;
  /** HTTPS Microsoft Graph simulator; `GET /__admin/mailboxes` lists every mailbox. */
  mailUrl: string;
  /** PEM certificate of the mail simulator, to trust for HTTPS. */
  mailCaFile: string;
}

/** Returns the data directory: `--data-dir`, else `TAP_MDR_DATA_DIR`, else `./.tap-mdr`. */
export function resolveDataDir(flag: string | undefined, env = process.env): string {
  // resolve('') is the working directory, so an empty flag would scatter files there.
  if (flag !== undefined && flag.trim() === '') {
    throw new InvalidDataDirError('--data-dir is empty; pass a directory, for example --data-dir .tap-mdr');
  }
  const fromEnv = env.TAP_MDR_DATA_DIR?.trim() === '' ? undefined : env.TAP_MDR_DATA_DIR;
  return resolve(flag ?? fromEnv ?? DEFAULT_DATA_DIR);
}

/** Data directory used when neither `--data-dir` nor `TAP_MDR_DATA_DIR` is set. */
export const DEFAULT_DATA_DIR = '.tap-mdr';

/** Error for a `--data-dir` that names no directory. The CLI prints its message and exits 2. */
export class InvalidDataDirError extends Error {
  readonly code = 'TAP_MDR_INVALID_OPTION';

  constructor(message: string) {
    super(message);
    this.name = 'InvalidDataDirError';
  }
}

/** Path of the stack file inside a data directory. */
export function stackFilePath(dataDir: string): string {
  return join(dataDir, 'stack.json');
}

/** Reads the stack file; undefined when no stack has written one. */
export function readStackFile(dataDir: string): StackFile | undefined {
  try {
    return JSON.parse(readFileSync(stackFilePath(dataDir), 'utf8')) as StackFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Resolves the runtime configuration. The Temporal address is `TEMPORAL_ADDRESS`, else the one
 * in the data directory's stack file, else `127.0.0.1:7233`.
 */
export function resolveRuntimeConfig(flags: { dataDir?: string } = {}, env = process.env): RuntimeConfig {
  const dataDir = resolveDataDir(flags.dataDir, env);
  const stack = readStackFile(dataDir);
  return {
    dataDir,
    temporalAddress: env.TEMPORAL_ADDRESS ?? stack?.temporalAddress ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? stack?.namespace ?? 'default',
    taskQueue: env.TAP_MDR_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}
