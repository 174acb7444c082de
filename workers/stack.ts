/**
 * The stack that `tap-mdr start` runs in one process: the Workbench store, a Temporal dev
 * server (unless TEMPORAL_ADDRESS names a server), the worker, and in demo mode the TAP and
 * mail simulators with a demo organization and device. {@link startStack} starts the parts in
 * that order, and {@link RunningStack.stop} stops them in reverse order, so the worker drains
 * while the server, the simulators and the store are still there.
 */
import { createWriteStream, mkdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogEntry } from '@temporalio/worker';
import { loadSecretKey } from '../activities/secrets.ts';
import { openStore } from '../activities/store/index.ts';
import type { Actor, WorkbenchStore } from '../activities/store/types.ts';
import { registerDevice, type DeviceRegistration, type RegistrationResult } from '../client/devices.ts';
import { startDemoSimulators, type DemoSimulators } from '../simulators/demo.ts';
import { readStackFile, stackFilePath, type StackFile } from './config.ts';
import { requireTemporalCli, startDevServer, stopOrphanedDevServer, type DevServer } from './dev-server.ts';
import { isDevServerOf, isProcessRunning, readDevServerPidFile } from './dev-server-process.ts';
import { configureDemoOrganization, decideDemo, demoRegistration } from './demo-setup.ts';
import { createTapMdrWorker } from './worker.ts';

/** Options of {@link startStack}. */
export interface StackOptions {
  dataDir: string;
  /** A Temporal server to use instead of starting the dev server (`TEMPORAL_ADDRESS`). */
  externalTemporalAddress?: string;
  namespace: string;
  taskQueue: string;
  /** Ports of the dev server on 127.0.0.1. */
  temporalPort: number;
  uiPort: number;
  /** PostgreSQL URL of the store; the embedded store in the data directory when unset. */
  databaseUrl?: string;
  /**
   * Run the simulators and register the demo organization and device; `auto` decides as
   * {@link decideDemo} describes.
   */
  demo: boolean | 'auto';
  /** A real TAP device to register (the `--tap-url` options). */
  device?: DeviceRegistration;
  /** Poll interval of devices that this start registers, in milliseconds. */
  pollIntervalMs?: number;
  actor: Actor;
  /** Receives one line per start-up step. */
  progress: (line: string) => void;
}

/** A started stack. */
export interface RunningStack {
  store: WorkbenchStore;
  client: Client;
  temporalAddress: string;
  /** Null when the stack uses a server it did not start. */
  webUiUrl: string | null;
  /** Process id of the dev server this stack started, or null. */
  devServerPid: number | null;
  demo: DemoSimulators | null;
  /** Registrations made by this start. */
  registrations: { orgId: string; deviceId: string; result: RegistrationResult }[];
  /** Settles when the worker stops: resolves after {@link stop}, rejects when the worker fails. */
  workerDone: Promise<void>;
  /** Stops every part in reverse start order; safe to call more than once. */
  stop(): Promise<void>;
}

/** Raised when another stack runs on the same data directory. */
export class StackAlreadyRunningError extends Error {
  readonly code = 'TAP_MDR_STACK_RUNNING';

  constructor(dataDir: string, pid: number) {
    super(
      `a tap-mdr stack (process ${pid}) is already running with data directory ${dataDir}; ` +
        'stop it with Ctrl-C, or pass another --data-dir',
    );
    this.name = 'StackAlreadyRunningError';
  }
}

/**
 * Sends worker and workflow logs, as JSON lines, to `file` instead of the terminal. Call it
 * once per process, before anything creates a worker or native connection.
 */
export function installWorkerLogFile(file: string): WriteStream {
  const stream = createWriteStream(file, { flags: 'a' });
  const write = (entry: LogEntry) => {
    const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
    stream.write(`${JSON.stringify({ at, level: entry.level, msg: entry.message, ...entry.meta }, errorFields)}\n`);
  };
  Runtime.install({ logger: new DefaultLogger('INFO', write) });
  return stream;
}

/** JSON.stringify replacer: an Error has no enumerable fields, so log its name, message and cause. */
function errorFields(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const cause = value.cause instanceof Error ? value.cause.message : undefined;
  return { name: value.name, message: value.message, ...(cause ? { cause } : {}) };
}

/** Starts the stack; on failure, stops what had started and rethrows. */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  mkdirSync(options.dataDir, { recursive: true });
  await claimDataDir(options);

  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = onceOnly(() => runCleanups(cleanups.reverse()));

  try {
    return await startParts(options, cleanups, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startParts(
  options: StackOptions,
  cleanups: Array<() => Promise<void> | void>,
  stop: () => Promise<void>,
): Promise<RunningStack> {
  const { dataDir, progress } = options;

  const store = await openStore({ dataDir, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) });
  cleanups.push(() => store.close());
  progress(`Workbench store: ${options.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : join(dataDir, 'workbench.db')}`);

  const devServer = options.externalTemporalAddress ? null : await startOwnDevServer(options);
  if (devServer) cleanups.push(() => devServer.stop());
  const temporalAddress = devServer?.address ?? options.externalTemporalAddress!;

  const demoDecision = await decideDemo(store, { demo: options.demo, registersDevice: options.device !== undefined });
  if (demoDecision.note) progress(demoDecision.note);
  const demo = demoDecision.run ? await startDemoSimulators(dataDir) : null;
  if (demo) {
    cleanups.push(() => demo.close());
    progress(
      `Demo simulators: TAP ${demo.tap.url} (${demo.scenario.events.length} events), ` +
        `Microsoft Graph ${demo.mail.url} (${demo.mail.listMailboxes().length} mailboxes)`,
    );
  }

  const secretKey = loadSecretKey(dataDir);
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  cleanups.push(() => nativeConnection.close());
  const worker = await createTapMdrWorker({
    connection: nativeConnection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    dependencies: { store, secretKey, ...(demo ? { mail: { caCertificates: [demo.mailCaCertificate] } } : {}) },
  });
  const workerDone = worker.run();
  // Marks the rejection as handled until the caller awaits it; the caller still sees it.
  workerDone.catch(() => undefined);
  cleanups.push(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await workerDone.catch(() => undefined);
  });
  progress(`Worker: task queue ${options.taskQueue} on ${temporalAddress} (log: ${join(dataDir, 'worker.log')})`);

  const connection = await Connection.connect({ address: temporalAddress });
  cleanups.push(() => connection.close());
  const client = new Client({ connection, namespace: options.namespace });

  const registrations = await registerDevices(options, { store, client, secretKey }, demo);

  writeStackFile(options.dataDir, {
    temporalAddress,
    namespace: options.namespace,
    webUiUrl: devServer?.webUiUrl ?? null,
    pid: process.pid,
    devServerPid: devServer?.pid ?? null,
    demo: demo ? { tapUrl: demo.tap.url, mailUrl: demo.mail.url, mailCaFile: demo.mailCaFile } : null,
  });
  cleanups.push(() => rmSync(stackFilePath(options.dataDir), { force: true }));

  return {
    store,
    client,
    temporalAddress,
    webUiUrl: devServer?.webUiUrl ?? null,
    devServerPid: devServer?.pid ?? null,
    demo,
    registrations,
    workerDone,
    stop,
  };
}

async function startOwnDevServer(options: StackOptions): Promise<DevServer> {
  const binary = requireTemporalCli();
  const logFile = join(options.dataDir, 'temporal.log');
  const server = await startDevServer({
    binary,
    port: options.temporalPort,
    uiPort: options.uiPort,
    dbFile: join(options.dataDir, 'temporal.db'),
    logFile,
    pidFile: devServerPidFilePath(options.dataDir),
  });
  options.progress(`Temporal dev server: ${server.address} (log: ${logFile})`);
  return server;
}

async function registerDevices(
  options: StackOptions,
  parts: { store: WorkbenchStore; client: Client; secretKey: Buffer },
  demo: DemoSimulators | null,
): Promise<RunningStack['registrations']> {
  const context = { ...parts, taskQueue: options.taskQueue, actor: options.actor };
  const registrations: RunningStack['registrations'] = [];

  if (demo) {
    if (!demo.state.organizationConfigured) {
      await configureDemoOrganization(context, demo);
      demo.saveState({ organizationConfigured: true });
    }
    const registration = demoRegistration(demo, options.pollIntervalMs);
    const result = await registerDevice(context, registration);
    registrations.push({ orgId: registration.orgId, deviceId: registration.deviceId, result });
  }

  if (options.device) {
    const registration = {
      ...options.device,
      settings: { ...options.device.settings, ...pollSettings(options.pollIntervalMs) },
    };
    const result = await registerDevice(context, registration);
    registrations.push({ orgId: registration.orgId, deviceId: registration.deviceId, result });
  }
  return registrations;
}

function pollSettings(pollIntervalMs: number | undefined): { pollIntervalMs?: number } {
  return pollIntervalMs === undefined ? {} : { pollIntervalMs };
}

/** Returns the path of the dev server's pid file in a data directory, which exists while that server runs. */
export function devServerPidFilePath(dataDir: string): string {
  return join(dataDir, 'temporal-dev-server.json');
}

/**
 * Rejects a data directory that a live stack uses, and stops the dev server that a stack which
 * died without stopping left behind, because that server keeps its ports and temporal.db open.
 * Returns once that server has exited and the ports this start needs are free.
 */
async function claimDataDir(options: StackOptions): Promise<void> {
  const { dataDir } = options;
  const previous = readStackFile(dataDir);
  if (previous && previous.pid !== process.pid && isProcessRunning(previous.pid)) {
    throw new StackAlreadyRunningError(dataDir, previous.pid);
  }

  // The pid file is written when the server is spawned, so it also names a server whose start
  // died during start-up, before stack.json existed.
  const pidFile = devServerPidFilePath(dataDir);
  const recorded = readDevServerPidFile(pidFile);
  const dbFile = join(dataDir, 'temporal.db');
  const orphans = new Map<number, number[]>();
  if (recorded) orphans.set(recorded.pid, [recorded.port, recorded.uiPort]);
  if (previous?.devServerPid && !orphans.has(previous.devServerPid)) {
    orphans.set(previous.devServerPid, stackFilePorts(previous));
  }

  for (const [pid, ports] of orphans) {
    if (!isProcessRunning(pid) || !isDevServerOf(pid, dbFile)) continue;
    if (recorded?.pid === pid && recorded.ownerPid !== process.pid && isProcessRunning(recorded.ownerPid)) {
      throw new StackAlreadyRunningError(dataDir, recorded.ownerPid);
    }
    options.progress(`Stopping the Temporal dev server (process ${pid}) that an earlier start left running`);
    await stopOrphanedDevServer({ pid, ports: ports.filter((port) => portsOfThisStart(options).includes(port)) });
  }

  rmSync(pidFile, { force: true });
  rmSync(stackFilePath(dataDir), { force: true });
}

/** Ports of the dev server named in a stack file, from its frontend address and Web UI URL. */
function stackFilePorts(stack: StackFile): number[] {
  const ports = [Number(stack.temporalAddress.split(':').pop())];
  if (stack.webUiUrl) ports.push(Number(new URL(stack.webUiUrl).port));
  return ports.filter((port) => Number.isInteger(port) && port > 0);
}

/** Ports that this start's dev server binds; none when it uses a server at TEMPORAL_ADDRESS. */
function portsOfThisStart(options: StackOptions): number[] {
  return options.externalTemporalAddress ? [] : [options.temporalPort, options.uiPort];
}

function writeStackFile(dataDir: string, stack: StackFile): void {
  writeFileSync(stackFilePath(dataDir), `${JSON.stringify(stack, null, 2)}\n`);
}

/** Runs every cleanup in order, even after one fails, then raises the first failure. */
async function runCleanups(cleanups: Array<() => Promise<void> | void>): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

function onceOnly(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= run());
}
