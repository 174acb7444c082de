/**
 * Device registration and control, shared by `tap-mdr device …` and `tap-mdr start`.
 * The secret is sealed into the store here, so Temporal receives only its reference.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sealSecret } from '../activities/secrets.ts';
import type { Actor, DeviceRecord, WorkbenchStore } from '../activities/store/types.ts';
import { AUTO_REMEDIATE_DELIVERED, tapSecretRefPrefix } from '../activities/store/types.ts';
import { deviceWorkflow } from '../workflows/device.ts';
import type { DeviceSettings, DeviceWorkflowInput } from '../workflows/device-types.ts';
import { DEVICE_HEALTH, DEVICE_ID, ORG_ID } from '../workflows/search-attributes.ts';

/** Default TAP SIEM API base URL. */
export const DEFAULT_TAP_BASE_URL = 'https://tap-api-v2.proofpoint.com';

/** Workflow id of a device: `tap-device:<org>:<device>`. */
export function deviceWorkflowId(orgId: string, deviceId: string): string {
  return `tap-device:${orgId}:${deviceId}`;
}

/**
 * Parses a device reference given on the command line: `<org>:<device>` or the workflow id
 * `tap-device:<org>:<device>`.
 */
export function parseDeviceRef(value: string): { orgId: string; deviceId: string } | undefined {
  const match = /^(?:tap-device:)?([^:]+):([^:]+)$/.exec(value);
  return match ? { orgId: match[1]!, deviceId: match[2]! } : undefined;
}

/** Validated input of a device registration. */
export interface DeviceRegistration {
  orgId: string;
  deviceId: string;
  name: string;
  location: string;
  principal: string;
  secret: string;
  tapBaseUrl: string;
  settings?: Partial<DeviceSettings>;
}

/** Everything registration needs from its environment. */
export interface RegistrationContext {
  store: WorkbenchStore;
  client: Client;
  taskQueue: string;
  secretKey: Buffer;
  actor: Actor;
}

/** Outcome of {@link registerDevice}. */
export interface RegistrationResult {
  workflowId: string;
  /** False when the device was already in the store and not removed. */
  created: boolean;
  /** False when its workflow was already running. */
  started: boolean;
}

/**
 * How long a re-add waits for the workflow run of the removed device to end after its
 * decommission signal, in milliseconds, before it terminates that run.
 */
const REMOVED_RUN_GRACE_MS = 10_000;

/** Returns a new secret reference for a device's TAP secret. */
export function newTapSecretRef(orgId: string, deviceId: string): string {
  // A fresh reference per registration and replacement, so that a ciphertext never outlives its use.
  return `${tapSecretRefPrefix(orgId, deviceId)}${randomUUID()}`;
}

/**
 * Registers a device and starts its workflow. Registering a device that exists and is not
 * removed changes nothing, except that its workflow is started if it is not running (for
 * example after a crash between the two steps). Registering a removed device registers it
 * afresh: the new options and secret replace the old ones, `createdAt` (from which the health
 * deadlines count) is now, and a new workflow run starts once the removed device's run has
 * ended.
 */
export async function registerDevice(
  context: RegistrationContext,
  registration: DeviceRegistration,
): Promise<RegistrationResult> {
  const { store, actor } = context;
  const { orgId, deviceId } = registration;
  const workflowId = deviceWorkflowId(orgId, deviceId);

  await store.ensureOrganization(orgId, actor);
  let device = await store.getDevice(orgId, deviceId);
  let created = false;
  if (device?.removedAt) {
    // The removed run reports its final status to the store, which must not overwrite the new row.
    await endRemovedRun(context.client, orgId, deviceId);
    device = null;
  }
  if (!device) {
    const secretRef = newTapSecretRef(orgId, deviceId);
    await store.putSecret(secretRef, sealSecret(registration.secret, secretRef, context.secretKey), actor);
    const record: DeviceRecord = {
      orgId,
      deviceId,
      name: registration.name,
      location: registration.location,
      principal: registration.principal,
      secretRef,
      tapBaseUrl: registration.tapBaseUrl,
      createdAt: new Date().toISOString(),
      status: 'onboarding',
      health: 'pending',
      removedAt: null,
    };
    created = await store.addDevice(record, actor);
    if (!created) {
      // A concurrent registration stored the device first, so nothing references this secret.
      await store.deleteSecret(secretRef, actor);
    }
    device = created ? record : await store.getDevice(orgId, deviceId);
    if (!device) throw new Error(`device ${orgId}:${deviceId} vanished during registration`);
  }

  const preference = await store.getOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED);
  const started = await startDeviceWorkflow(context, device, {
    autoRemediateDelivered: preference === 'true',
    settings: registration.settings,
  });
  return { workflowId, created, started };
}

async function startDeviceWorkflow(
  context: RegistrationContext,
  device: DeviceRecord,
  options: { autoRemediateDelivered: boolean; settings?: Partial<DeviceSettings> },
): Promise<boolean> {
  const input: DeviceWorkflowInput = {
    orgId: device.orgId,
    deviceId: device.deviceId,
    name: device.name,
    location: device.location,
    createdAt: device.createdAt,
    credentials: { principal: device.principal, secretRef: device.secretRef },
    preferences: { autoRemediateDelivered: options.autoRemediateDelivered },
    settings: options.settings,
  };

  try {
    await context.client.workflow.start(deviceWorkflow, {
      workflowId: deviceWorkflowId(device.orgId, device.deviceId),
      taskQueue: context.taskQueue,
      args: [input],
      typedSearchAttributes: [
        { key: ORG_ID, value: device.orgId },
        { key: DEVICE_ID, value: device.deviceId },
        { key: DEVICE_HEALTH, value: 'pending' },
      ],
      staticSummary: `Proofpoint TAP device ${device.name} (${device.orgId}/${device.deviceId})`.slice(0, 200),
      staticDetails: [
        `**Proofpoint TAP device** ${device.name}`,
        '',
        `- organization: ${device.orgId}`,
        `- device: ${device.deviceId}`,
        `- location: ${device.location || '(none)'}`,
        `- TAP API: ${device.tapBaseUrl}`,
        `- created: ${device.createdAt}`,
      ].join('\n'),
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}

/**
 * Waits up to {@link REMOVED_RUN_GRACE_MS} for the running workflow of a removed device to end
 * after its decommission signal, then terminates it. Without a worker the signal is never
 * handled, and a new run cannot start while the old one runs.
 */
async function endRemovedRun(client: Client, orgId: string, deviceId: string): Promise<void> {
  if (!(await isDeviceRunning(client, orgId, deviceId))) return;
  const handle = client.workflow.getHandle(deviceWorkflowId(orgId, deviceId));

  // Any outcome of the run (completed, failed, terminated) ends the wait. describe() then reports
  // whether it still runs.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    handle.result().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REMOVED_RUN_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!(await isDeviceRunning(client, orgId, deviceId))) return;

  try {
    await handle.terminate('the device was removed and is being registered again');
  } catch (err) {
    // The run ended between the wait and the terminate request.
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}

/** Returns true when the device's workflow has a running execution. */
export async function isDeviceRunning(client: Client, orgId: string, deviceId: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(deviceWorkflowId(orgId, deviceId)).describe();
    return description.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
