/**
 * Process bookkeeping of the Temporal dev server that `tap-mdr start` runs: the pid file in the
 * data directory, and the liveness and port checks that the next start uses to stop a server
 * that a crashed start left behind.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Contents of the dev server's pid file, which exists while the server runs. */
export interface DevServerPidFile {
  /** Process id of the dev server. */
  pid: number;
  /** Process id of the `tap-mdr start` that started the server. */
  ownerPid: number;
  /** gRPC frontend port on 127.0.0.1. */
  port: number;
  /** Web UI port on 127.0.0.1. */
  uiPort: number;
  /** SQLite file of the server, which its command line names. */
  dbFile: string;
}

const POLL_INTERVAL_MS = 100;

/** Writes the pid file through a temporary file and a rename, so that a reader never sees half of it. */
export function writeDevServerPidFile(file: string, record: DevServerPidFile): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temporary, file);
}

/** Reads the pid file, or returns undefined when there is none. */
export function readDevServerPidFile(file: string): DevServerPidFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as DevServerPidFile;
  } catch (err) {
    throw new Error(
      `cannot read ${file}: ${(err as Error).message}. Stop any \`temporal server start-dev\` process that ` +
        'uses this data directory, then delete the file.',
      { cause: err },
    );
  }
}

/** Removes the pid file if it still names `pid`, so that a stopping server never removes a newer server's file. */
export function removeDevServerPidFile(file: string, pid: number): void {
  try {
    if (readDevServerPidFile(file)?.pid !== pid) return;
  } catch {
    // An unreadable file names no live server of ours; remove it too.
  }
  rmSync(file, { force: true });
}

/**
 * Returns true while process `pid` exists and has not exited. A zombie (a process that has
 * exited but that its parent has not reaped yet) counts as exited, because it has released its
 * ports and files. An orphan's new parent is often a container's init that reaps late or never.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** Reads the state letter in /proc/PID/stat (Linux); false where /proc does not exist. */
function isZombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }

  // The command name in brackets may contain spaces and brackets, so the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/**
 * Returns true when `pid` runs `temporal server start-dev` with `dbFile` as its database. It
 * reads /proc/PID/cmdline, so it is false on systems without /proc (macOS).
 */
export function isDevServerOf(pid: number, dbFile: string): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return commandLine.includes('start-dev') && commandLine.includes(dbFile);
  } catch {
    // NOTE: without /proc (macOS) an orphaned dev server is left running; its port then shows as in use.
    return false;
  }
}

/** Polls until process `pid` has exited; returns false when it still runs after `timeoutMs`. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

/** Returns true when a listener can bind `port` on 127.0.0.1 now. */
export async function isPortFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch {
    return false;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return true;
}

/** Polls until every port in `ports` is free on 127.0.0.1; returns a port still in use after `timeoutMs`, or undefined. */
export async function waitForPortsFree(ports: readonly number[], timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let portInUse: number | undefined;
    for (const port of ports) {
      if (!(await isPortFree(port))) {
        portInUse = port;
        break;
      }
    }
    if (portInUse === undefined || Date.now() >= deadline) return portInUse;
    await sleep(POLL_INTERVAL_MS);
  }
}
