/**
 * Device registration and control, shared by `tap-mdr device …` and `tap-mdr start`.
 * The secret is sealed into the store here, so Temporal receives only its reference.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sealSecret } from '../activities/secrets.ts';
import type { Actor, DeviceRecord, WorkbenchStore } from '../activities/store/types.ts';
import { AUTO_REMEDIATE_DELIVERED } from '../activities/store/types.ts';
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
  /** False when the device was already in the store. */
  created: boolean;
  /** False when its workflow was already running. */
  started: boolean;
}

/**
 * Registers a device and starts its workflow. Registering a device that exists changes
 * nothing, except that its workflow is started if it is not running (for example after a
 * crash between the two steps).
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
  if (!device) {
    // A fresh reference per registration, so that a ciphertext never outlives its device.
    const secretRef = `tap:${orgId}:${deviceId}:${randomUUID()}`;
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
