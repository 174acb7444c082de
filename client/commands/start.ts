/**
 * `tap-mdr start` (`npm start`): runs the whole integration on this machine until Ctrl-C, and
 * prints what an operator needs as it happens.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveDataDir, resolveRuntimeConfig } from '../../workers/config.ts';
import { DevServerError } from '../../workers/dev-server.ts';
import { installWorkerLogFile, startStack, StackAlreadyRunningError, type RunningStack } from '../../workers/stack.ts';
import { DemoPortInUseError } from '../../simulators/demo.ts';
import { DEMO_ORG_ID } from '../../simulators/demo-scenario.ts';
import { CliError, type Command } from '../command.ts';
import { DEFAULT_TAP_BASE_URL, deviceWorkflowId, type DeviceRegistration } from '../devices.ts';
import { startMonitor } from '../start-monitor.ts';
import { actorFromEnv } from '../store-config.ts';
import { validateBaseUrl, validateId, validatePrincipal, validateSecret, validateText } from '../validate.ts';

const USAGE = `Usage: tap-mdr start [options]

Runs tap-mdr on this machine until Ctrl-C: a Temporal dev server with its Web UI (unless
TEMPORAL_ADDRESS names a running server), the worker, and the Workbench store (PostgreSQL when
DATABASE_URL is set, else embedded in the data directory). On a data directory without a
real TAP device it runs the demo: TAP and Microsoft Graph simulators on 127.0.0.1, a demo
organization with auto deletion on, and one TAP device. The simulators keep running next to
real devices for as long as that demo device is active (until \`tap-mdr device remove\`).

Options:
  --data-dir DIR             data directory (default: TAP_MDR_DATA_DIR, else ./.tap-mdr)
  --temporal-port PORT       gRPC port of the Temporal dev server on 127.0.0.1 (default 7233)
  --ui-port PORT             port of the Temporal Web UI on 127.0.0.1 (default 8233)
  --poll-interval SECONDS    poll interval, 1 to 3600, of a device whose workflow this start
                             starts (default 10 for the demo device, 60 for a real one)
  --demo, --no-demo          run or skip the demo (default: run it while the demo device is
                             active, or when the data directory has no active device, never
                             had its demo device removed, and --tap-url is not given)

A real Proofpoint TAP device, registered like \`tap-mdr device add\`:
  --tap-url URL              TAP SIEM API base URL, e.g. ${DEFAULT_TAP_BASE_URL}
  --principal PRINCIPAL      TAP service principal
  --secret-file FILE         file that contains the TAP service secret (default: standard input)
  --org ORG                  organization id of the device (required with --tap-url)
  --device-name NAME         device name (default "Proofpoint TAP")
  --device-id ID             device id (default: derived from the name)
  --location TEXT            free-text location that operators filter on

Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TAP_MDR_TASK_QUEUE, DATABASE_URL,
TAP_MDR_DATA_DIR, TAP_MDR_SECRET_KEY. Other tap-mdr commands find this stack through
<data dir>/stack.json, written while it runs.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  'temporal-port': { type: 'string', default: '7233' },
  'ui-port': { type: 'string', default: '8233' },
  'poll-interval': { type: 'string' },
  demo: { type: 'boolean' },
  'tap-url': { type: 'string' },
  principal: { type: 'string' },
  'secret-file': { type: 'string' },
  org: { type: 'string' },
  'device-name': { type: 'string', default: 'Proofpoint TAP' },
  'device-id': { type: 'string' },
  location: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Flags = ReturnType<typeof parseFlags>;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowNegative: true, strict: true }).values;
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

async function start(argv: string[]): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }

  const dataDir = resolveDataDir(flags['data-dir']);
  const config = resolveRuntimeConfig({ dataDir });
  const device = flags['tap-url'] === undefined ? undefined : realDevice(flags);
  const options = {
    dataDir,
    externalTemporalAddress: nonEmpty(process.env.TEMPORAL_ADDRESS),
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    temporalPort: port('--temporal-port', flags['temporal-port']),
    uiPort: port('--ui-port', flags['ui-port']),
    databaseUrl: nonEmpty(process.env.DATABASE_URL),
    demo: flags.demo ?? ('auto' as const),
    device,
    pollIntervalMs: pollInterval(flags['poll-interval']),
    actor: actorFromEnv(),
    progress: (text: string) => console.log(text),
  };

  mkdirSync(dataDir, { recursive: true });
  const logStream = installWorkerLogFile(join(dataDir, 'worker.log'));
  const signals = listenForStop();
  console.log(`tap-mdr start: data directory ${dataDir}`);

  let stack: RunningStack;
  try {
    stack = await startStack(options);
  } catch (err) {
    logStream.end();
    throw explainStartFailure(err);
  }

  printReady(stack);
  const monitor = startMonitor({ store: stack.store, client: stack.client, print: (text) => console.log(text) });
  const outcome = await Promise.race([
    signals.stopRequested.then((signal) => ({ signal, error: undefined })),
    stack.workerDone.then(
      () => ({ signal: undefined, error: new Error('the worker stopped unexpectedly') }),
      (error: unknown) => ({ signal: undefined, error }),
    ),
  ]);

  console.log(outcome.signal ? `\n${outcome.signal} received: stopping (press Ctrl-C again to force)` : '');
  signals.onSecondSignal(() => forceExit(stack));
  await monitor.stop();
  await stack.stop();
  logStream.end();

  if (outcome.error !== undefined) {
    console.error(`tap-mdr start: the worker failed: ${(outcome.error as Error).message ?? String(outcome.error)}`);
    return 1;
  }
  console.log(`Stopped. Data directory ${dataDir} is ready for the next start.`);
  return 0;
}

function printReady(stack: RunningStack): void {
  for (const { orgId, deviceId, result } of stack.registrations) {
    const outcome = result.created
      ? 'registered; its workflow started'
      : result.started
        ? 'already registered; its workflow restarted'
        : 'already registered; its workflow is running';
    console.log(`Device ${orgId}:${deviceId} ${outcome}: ${deviceWorkflowId(orgId, deviceId)}`);
  }
  if (stack.demo) {
    console.log(
      `Demo organization ${DEMO_ORG_ID}: auto deletion on, email provider Microsoft 365 (the mail simulator)`,
    );
  }
  if (stack.registrations.length === 0) {
    console.log('No device registered by this start; add one with `tap-mdr device add` (see --help).');
  }

  console.log('');
  if (stack.webUiUrl) {
    console.log(`Temporal Web UI: ${stack.webUiUrl}`);
    for (const { orgId, deviceId } of stack.registrations) {
      const workflowId = encodeURIComponent(deviceWorkflowId(orgId, deviceId));
      console.log(`  device workflow: ${stack.webUiUrl}/namespaces/default/workflows/${workflowId}`);
    }
  } else {
    console.log(
      `Temporal server: ${stack.temporalAddress} (TEMPORAL_ADDRESS; its Web UI is wherever that server serves it)`,
    );
  }
  console.log('Running. Press Ctrl-C to stop.\n');
}

/**
 * Resolves on the first SIGINT, SIGTERM or SIGHUP (the terminal closed), or when stdout or stderr
 * is a pipe that closed (`tap-mdr start | head`). A second signal calls the handler set by
 * `onSecondSignal`.
 */
function listenForStop(): { stopRequested: Promise<string>; onSecondSignal(handler: () => void): void } {
  // During start-up a second signal exits at once; `onSecondSignal` later replaces this.
  let second: () => void = () => process.exit(130);
  let received = false;
  const stopRequested = new Promise<string>((resolve) => {
    const handle = (signal: string) => {
      if (received) return second();
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', handle);
    process.on('SIGTERM', handle);
    process.on('SIGHUP', handle);

    // Without a listener, EPIPE on the next progress line would crash the CLI and leave the dev
    // server running. Later writes to the closed stream fail the same way and are ignored.
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
        if (received) return;
        received = true;
        resolve('EPIPE');
      });
    }
  });
  return {
    stopRequested,
    onSecondSignal: (handler) => {
      second = handler;
    },
  };
}

function forceExit(stack: RunningStack): void {
  console.error('tap-mdr start: forced exit; the next start repairs the data directory');
  if (stack.devServerPid !== null) {
    try {
      process.kill(stack.devServerPid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  process.exit(130);
}

function realDevice(flags: Flags): DeviceRegistration {
  const name = validateText('device-name', flags['device-name'], { required: true, max: 200 });
  const file = flags['secret-file'];
  if (file === undefined && process.stdin.isTTY) console.error('Enter the TAP service secret, then Ctrl-D:');
  let secretText: string;
  try {
    secretText = readFileSync(file ?? 0, 'utf8');
  } catch (err) {
    throw new CliError(
      'TAP_MDR_SECRET_UNREADABLE',
      `cannot read the TAP secret from ${file ?? 'standard input'}: ${(err as Error).message}`,
      2,
    );
  }
  return {
    orgId: validateId('org', flags.org),
    deviceId: validateId('device-id', flags['device-id'] ?? slugify(name)),
    name,
    location: validateText('location', flags.location, { required: false, max: 200 }),
    principal: validatePrincipal(flags.principal),
    secret: validateSecret(secretText),
    tapBaseUrl: validateBaseUrl('tap-url', flags['tap-url']!),
  };
}

function explainStartFailure(err: unknown): unknown {
  if (err instanceof DevServerError || err instanceof StackAlreadyRunningError || err instanceof DemoPortInUseError) {
    return new CliError(err.code, err.message);
  }
  return err;
}

function port(option: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 65_535) {
    throw new CliError(
      'TAP_MDR_INVALID_INPUT',
      `invalid ${option}: ${JSON.stringify(value)} is not a port (1 to 65535)`,
      2,
    );
  }
  return number;
}

function pollInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 3600) {
    throw new CliError(
      'TAP_MDR_INVALID_INPUT',
      `invalid --poll-interval: ${JSON.stringify(value)} must be 1 to 3600 seconds`,
      2,
    );
  }
  return seconds * 1000;
}

function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return slug || 'device';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** `tap-mdr start` */
export const commands: Record<string, Command> = {
  start: {
    summary: 'Run the integration: Temporal dev server, worker, Workbench store, and the demo',
    run: start,
  },
};
