/**
 * `tap-mdr device add | list | show | pause | resume | remove | set-credentials`: operator
 * commands for Proofpoint TAP devices.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  ActivityFailure,
  ApplicationFailure,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { loadSecretKey, sealSecret } from '../../activities/secrets.ts';
import { openStore } from '../../activities/store/index.ts';
import type { DeviceRecord, WorkbenchStore } from '../../activities/store/types.ts';
import { resolveRuntimeConfig, type RuntimeConfig } from '../../workers/config.ts';
import {
  decommissionSignal,
  getStatusQuery,
  pauseSignal,
  replaceCredentialsUpdate,
  resumeSignal,
} from '../../workflows/device.ts';
import type { DeviceStatus } from '../../workflows/device-types.ts';
import { CliError, type Command } from '../command.ts';
import {
  DEFAULT_TAP_BASE_URL,
  deviceWorkflowId,
  newTapSecretRef,
  parseDeviceRef,
  registerDevice,
  type RegistrationResult,
} from '../devices.ts';
import { actorFromEnv, storeOptionsFromEnv } from '../store-config.ts';
import { connectTemporal } from '../temporal.ts';
import { validateBaseUrl, validateId, validatePrincipal, validateSecret, validateText } from '../validate.ts';

const USAGE = `Usage: tap-mdr device <action> [options]

Actions:
  add --org ORG --name NAME --principal PRINCIPAL [--location TEXT] [--device-id ID]
      [--secret-file FILE] [--tap-url URL] [--poll-interval SECONDS]
                         register a Proofpoint TAP device and start its workflow; the TAP
                         secret is read from --secret-file, else from standard input. Adding
                         a removed device registers it again with the new options
  list [--org ORG]       list registered devices with their phase and health
  show ORG:DEVICE        show the live status of one device
  pause ORG:DEVICE       stop polling (health deadlines keep running)
  resume ORG:DEVICE      resume polling
  remove ORG:DEVICE      decommission the device: its workflow ends cleanly, its TAP secrets
                         are deleted, and it leaves the device list
  set-credentials ORG:DEVICE --principal PRINCIPAL [--secret-file FILE]
                         replace the TAP credentials; TAP checks them before they are used

Common options:
  --json                 print JSON instead of text
  --data-dir DIR         data directory of the stack (default: TAP_MDR_DATA_DIR or ./.tap-mdr)`;

const OPTIONS = {
  org: { type: 'string' },
  name: { type: 'string' },
  location: { type: 'string' },
  principal: { type: 'string' },
  'device-id': { type: 'string' },
  'secret-file': { type: 'string' },
  'tap-url': { type: 'string' },
  'poll-interval': { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Flags = ReturnType<typeof parseFlags>['values'];

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

/** A running stack: configuration, store and Temporal client, closed together. */
interface Session {
  config: RuntimeConfig;
  store: WorkbenchStore;
  client: Client;
}

async function withSession<T>(flags: Flags, run: (session: Session) => Promise<T>): Promise<T> {
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });
  const store = await openStore(storeOptionsFromEnv({ dataDir: config.dataDir }));
  try {
    await store.migrate();
    const client = await connectTemporal(config);
    try {
      return await run({ config, store, client });
    } finally {
      await client.connection.close();
    }
  } finally {
    await store.close();
  }
}

function readSecret(flags: Flags): string {
  const file = flags['secret-file'];
  try {
    return validateSecret(readFileSync(file ?? 0, 'utf8'));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(
      'TAP_MDR_SECRET_UNREADABLE',
      `cannot read the TAP secret from ${file ?? 'standard input'}: ${(err as Error).message}`,
      2,
    );
  }
}

function requireDeviceRef(positionals: string[]): { orgId: string; deviceId: string } {
  const value = positionals[1];
  const ref = value ? parseDeviceRef(value) : undefined;
  if (!ref) {
    throw new CliError('TAP_MDR_USAGE', `expected a device as ORG:DEVICE, got ${JSON.stringify(value ?? '')}`, 2);
  }
  return { orgId: validateId('org', ref.orgId), deviceId: validateId('device-id', ref.deviceId) };
}

function print(flags: Flags, value: unknown, text: string): void {
  console.log(flags.json ? JSON.stringify(value, null, 2) : text);
}

async function add(flags: Flags): Promise<void> {
  const name = validateText('name', flags.name, { required: true, max: 200 });
  const registration = {
    orgId: validateId('org', flags.org),
    deviceId: validateId('device-id', flags['device-id'] ?? slugify(name)),
    name,
    location: validateText('location', flags.location, { required: false, max: 200 }),
    principal: validatePrincipal(flags.principal),
    tapBaseUrl: validateBaseUrl('tap-url', flags['tap-url'] ?? DEFAULT_TAP_BASE_URL),
    settings: pollSettings(flags),
    // Last, so that a bad option is reported before the command waits for a secret on stdin.
    secret: readSecret(flags),
  };

  await withSession(flags, async ({ config, store, client }) => {
    const result: RegistrationResult = await registerDevice(
      { store, client, taskQueue: config.taskQueue, secretKey: loadSecretKey(config.dataDir), actor: actorFromEnv() },
      registration,
    );
    if (!result.created && !result.started) {
      throw new CliError(
        'TAP_MDR_DEVICE_EXISTS',
        `device ${registration.orgId}:${registration.deviceId} is already registered and its workflow ` +
          `${result.workflowId} is running; nothing changed (use \`tap-mdr device set-credentials\` to replace its credentials)`,
      );
    }
    const what = result.created ? 'registered' : 'was registered; restarted its workflow';
    print(
      flags,
      result,
      `device ${registration.orgId}:${registration.deviceId} ${what}: workflow ${result.workflowId}`,
    );
  });
}

async function list(flags: Flags): Promise<void> {
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });
  const store = await openStore(storeOptionsFromEnv({ dataDir: config.dataDir }));
  try {
    await store.migrate();
    const orgId = flags.org === undefined ? undefined : validateId('org', flags.org);
    const devices = (await store.listDevices(orgId)).filter((device) => device.removedAt === null);
    const rows = devices.map((device) =>
      [`${device.orgId}:${device.deviceId}`, device.name, device.location, device.status, device.health].join('\t'),
    );
    print(flags, devices.map(publicFields), ['DEVICE\tNAME\tLOCATION\tPHASE\tHEALTH', ...rows].join('\n'));
  } finally {
    await store.close();
  }
}

async function show(flags: Flags, positionals: string[]): Promise<void> {
  const { orgId, deviceId } = requireDeviceRef(positionals);
  await withSession(flags, async ({ client, store }) => {
    // A removed device's workflow has ended, so the store's record is its last status.
    const device = await store.getDevice(orgId, deviceId);
    if (device?.removedAt) {
      print(flags, publicFields(device), formatRemovedDevice(device));
      return;
    }
    const status = await queryStatus(client, orgId, deviceId);
    print(flags, status, formatStatus(status));
  });
}

async function signal(flags: Flags, positionals: string[], action: 'pause' | 'resume'): Promise<void> {
  const { orgId, deviceId } = requireDeviceRef(positionals);
  await withSession(flags, async ({ client }) => {
    const handle = client.workflow.getHandle(deviceWorkflowId(orgId, deviceId));
    try {
      await handle.signal(action === 'pause' ? pauseSignal : resumeSignal);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw deviceNotRunning(orgId, deviceId);
      throw err;
    }
    const done = { pause: 'pause requested', resume: 'resume requested' }[action];
    print(flags, { orgId, deviceId, action }, `device ${orgId}:${deviceId}: ${done}`);
  });
}

async function remove(flags: Flags, positionals: string[]): Promise<void> {
  const { orgId, deviceId } = requireDeviceRef(positionals);
  await withSession(flags, async ({ client, store }) => {
    const actor = actorFromEnv();
    let running = true;
    try {
      await client.workflow
        .getHandle(deviceWorkflowId(orgId, deviceId))
        .signal(decommissionSignal, { reason: `removed by ${actor.name}` });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      running = false;
    }

    // Only after the signal, because a workflow that did not receive it still needs its secret.
    const removed = await store.removeDevice(orgId, deviceId, actor);
    if (!removed && !running) throw deviceNotFound(orgId, deviceId);

    const text = running
      ? `device ${orgId}:${deviceId}: removed; decommission requested`
      : `device ${orgId}:${deviceId}: removed; its workflow was not running`;
    print(flags, { orgId, deviceId, action: 'remove' }, text);
  });
}

async function setCredentials(flags: Flags, positionals: string[]): Promise<void> {
  const { orgId, deviceId } = requireDeviceRef(positionals);
  const principal = validatePrincipal(flags.principal);
  const secret = readSecret(flags);

  await withSession(flags, async ({ config, client, store }) => {
    const actor = actorFromEnv();
    const device = await store.getDevice(orgId, deviceId);
    if (!device) throw deviceNotFound(orgId, deviceId);
    if (device.removedAt) throw deviceRemoved(device);

    const secretRef = newTapSecretRef(orgId, deviceId);
    await store.putSecret(secretRef, sealSecret(secret, secretRef, loadSecretKey(config.dataDir)), actor);

    const handle = client.workflow.getHandle(deviceWorkflowId(orgId, deviceId));
    let status: DeviceStatus;
    try {
      status = await handle.executeUpdate(replaceCredentialsUpdate, { args: [{ principal, secretRef }] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        await store.deleteSecret(secretRef, actor);
        throw deviceNotRunning(orgId, deviceId);
      }
      if (err instanceof WorkflowUpdateFailedError && failedBeforeInstalling(err)) {
        await store.deleteSecret(secretRef, actor);
        throw new CliError(
          'TAP_MDR_CREDENTIALS_REJECTED',
          `${err.cause?.message ?? err.message}; the old credentials stay in force`,
        );
      }
      if (err instanceof WorkflowUpdateFailedError) {
        throw new CliError(
          'TAP_MDR_CREDENTIALS_UNCONFIRMED',
          `${err.cause?.message ?? err.message}; the workflow switched to the new credentials before this ` +
            `failure, so check the device with \`tap-mdr device show ${orgId}:${deviceId}\``,
        );
      }
      throw err;
    }

    // The update returns only after the workflow switched to the new credentials, so from here
    // on it reads only the new secret, and the old one can be deleted.
    // NOTE: a poll that started with the old credentials and is retried after this point finds
    // the old secret gone. It records one poll error, and the next poll uses the new secret.
    const recorded = await store.replaceDeviceCredentials(
      orgId,
      deviceId,
      { principal, secretRef },
      device.secretRef,
      actor,
    );
    if (!recorded) {
      // NOTE: another set-credentials was recorded between this command's read and write. Which of
      // the two the workflow took last is unknown, so both secrets stay until the device is removed.
      await store.audit(actor, 'device.set-credentials', `${orgId}:${deviceId}`, { principal, secretRef });
      console.error(
        `tap-mdr device: warning: the credentials of ${orgId}:${deviceId} were replaced concurrently; ` +
          'run set-credentials again to be sure which ones are in force',
      );
    }
    print(flags, status, `device ${orgId}:${deviceId}: new credentials accepted by TAP\n${formatStatus(status)}`);
  });
}

/**
 * Returns true when a failed replaceCredentials update never installed the new credentials:
 * TAP rejected them, the credential check failed, or the validator rejected the update. A
 * failure of a later step (a status report) comes after the workflow switched to them.
 */
function failedBeforeInstalling(err: WorkflowUpdateFailedError): boolean {
  const cause = err.cause;
  if (cause instanceof ActivityFailure) return cause.activityType === 'checkCredentials';
  return cause instanceof ApplicationFailure;
}

/** Queries a device workflow's status. */
export async function queryStatus(client: Client, orgId: string, deviceId: string): Promise<DeviceStatus> {
  try {
    return await client.workflow.getHandle(deviceWorkflowId(orgId, deviceId)).query(getStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw deviceNotRunning(orgId, deviceId);
    // A query needs a running worker, so without one the server returns FAILED_PRECONDITION.
    if (err instanceof ServiceError) {
      throw new CliError(
        'TAP_MDR_STATUS_UNAVAILABLE',
        `cannot query device ${orgId}:${deviceId}: ${err.message.split('\n')[0]}. ` +
          'Is a worker running? Start the stack with `./run start` or a worker with `tap-mdr worker`.',
      );
    }
    throw err;
  }
}

/** Formats a device status for people. */
export function formatStatus(status: DeviceStatus): string {
  const lastPoll = status.lastPoll
    ? `${status.lastPoll.result} at ${status.lastPoll.at}, ${status.lastPoll.events} events` +
      (status.lastPoll.error ? ` (${status.lastPoll.error})` : '')
    : 'none yet';
  return [
    `device:        ${status.orgId}:${status.deviceId} (${status.name})`,
    `phase:         ${status.phase}`,
    `health:        ${status.health}${status.credentialsError ? ` (${status.credentialsError})` : ''}`,
    `cursor:        ${status.cursor ?? 'not started'}`,
    `last poll:     ${lastPoll}`,
    `events:        ${status.counters.events} (${status.counters.duplicates} duplicates, ${status.counters.invalid} invalid)`,
    `alerts:        ${status.counters.alertsCreated} created, ${status.counters.remediationsStarted} remediations started`,
    `auto deletion: ${status.preferences.autoRemediateDelivered ? 'on' : 'off'}`,
    `TAP calls/24h: ${status.tapCalls24h}`,
  ].join('\n');
}

/** Returns a device record without its secret reference, for output. */
function publicFields(device: DeviceRecord): Omit<DeviceRecord, 'secretRef'> {
  const { secretRef: _secretRef, ...fields } = device;
  return fields;
}

function formatRemovedDevice(device: DeviceRecord): string {
  return [
    `device:        ${device.orgId}:${device.deviceId} (${device.name})`,
    `phase:         decommissioned`,
    `removed:       ${device.removedAt}`,
    `registered:    ${device.createdAt}`,
  ].join('\n');
}

function deviceNotFound(orgId: string, deviceId: string): CliError {
  return new CliError(
    'TAP_MDR_DEVICE_NOT_FOUND',
    `device ${orgId}:${deviceId} is not registered; list devices with \`tap-mdr device list\``,
  );
}

function deviceRemoved(device: DeviceRecord): CliError {
  return new CliError(
    'TAP_MDR_DEVICE_REMOVED',
    `device ${device.orgId}:${device.deviceId} was removed at ${device.removedAt}; ` +
      'register it again with `tap-mdr device add`',
  );
}

function deviceNotRunning(orgId: string, deviceId: string): CliError {
  return new CliError(
    'TAP_MDR_DEVICE_NOT_FOUND',
    `no running workflow for device ${orgId}:${deviceId} (${deviceWorkflowId(orgId, deviceId)}); ` +
      'list devices with `tap-mdr device list`',
  );
}

function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'device'
  );
}

function pollSettings(flags: Flags): { pollIntervalMs: number } | undefined {
  const value = flags['poll-interval'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < 1 || seconds > 3600) {
    throw new CliError(
      'TAP_MDR_INVALID_INPUT',
      `invalid poll-interval: ${JSON.stringify(value)} must be 1 to 3600 seconds`,
      2,
    );
  }
  return { pollIntervalMs: seconds * 1000 };
}

/** `tap-mdr device …` */
export const commands: Record<string, Command> = {
  device: {
    summary: 'Register and control Proofpoint TAP devices',
    run: async (argv) => {
      const { values: flags, positionals } = parseFlags(argv);
      const action = positionals[0];
      if (flags.help || action === undefined) {
        console.log(USAGE);
        return 0;
      }
      switch (action) {
        case 'add':
          return add(flags);
        case 'list':
          return list(flags);
        case 'show':
          return show(flags, positionals);
        case 'pause':
        case 'resume':
          return signal(flags, positionals, action);
        case 'remove':
          return remove(flags, positionals);
        case 'set-credentials':
          return setCredentials(flags, positionals);
        default:
          throw new CliError('TAP_MDR_USAGE', `unknown action '${action}'\n\n${USAGE}`, 2);
      }
    },
  },
};
