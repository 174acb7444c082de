/**
 * The demo organization and device: auto deletion on, the mail simulator as its Microsoft 365
 * tenant, and one TAP device that polls the TAP simulator. Registration goes through the same
 * code as `tap-mdr device add` and `tap-mdr email-provider set`.
 */
import {
  AUTO_REMEDIATE_DELIVERED,
  type Actor,
  type DeviceRecord,
  type WorkbenchStore,
} from '../activities/store/types.ts';
import type { DeviceRegistration } from '../client/devices.ts';
import { configureEmailProvider } from '../client/email-providers.ts';
import type { DemoSimulators } from '../simulators/demo.ts';
import {
  DEMO_BACKFILL_MS,
  DEMO_DEVICE_ID,
  DEMO_DEVICE_NAME,
  DEMO_LOCATION,
  DEMO_MAIL_DOMAIN,
  DEMO_ORG_ID,
} from '../simulators/demo-scenario.ts';

/** Poll interval of the demo device when `--poll-interval` is not given: 10 s. */
export const DEMO_POLL_INTERVAL_MS = 10_000;

const DEMO_DEVICE_REF = `${DEMO_ORG_ID}:${DEMO_DEVICE_ID}`;

/** Outcome of {@link decideDemo}. */
export interface DemoDecision {
  /** Whether this start runs the demo simulators and registers the demo organization and device. */
  run: boolean;
  /** A line for the operator when the outcome may surprise them, else null. */
  note: string | null;
}

/**
 * Decides whether a start runs the demo. `demo: 'auto'` runs it while the demo device is
 * active in the store, even next to real devices, because the demo device's workflow polls
 * the TAP simulator and each poll fails while the simulator is down. Without an active demo
 * device, `auto` runs the demo only on a data directory where the demo device was never
 * removed, no other device is active, and this start registers no device (`--tap-url`).
 */
export async function decideDemo(
  store: WorkbenchStore,
  options: { demo: boolean | 'auto'; registersDevice: boolean },
): Promise<DemoDecision> {
  const devices = await store.listDevices();
  const demoDevice = devices.find(isDemoDevice);
  const demoDeviceActive = demoDevice !== undefined && demoDevice.removedAt === null;
  const realDeviceActive =
    options.registersDevice || devices.some((device) => device.removedAt === null && !isDemoDevice(device));

  if (options.demo === true) return { run: true, note: null };
  if (options.demo === false) {
    const note = demoDeviceActive
      ? `Demo off (--no-demo), but device ${DEMO_DEVICE_REF} is active: its polls of the TAP simulator fail ` +
        `until a start runs the demo again. Pause it with \`tap-mdr device pause ${DEMO_DEVICE_REF}\` ` +
        `or remove it with \`tap-mdr device remove ${DEMO_DEVICE_REF}\`.`
      : null;
    return { run: false, note };
  }

  if (demoDeviceActive) {
    const note = realDeviceActive
      ? `Demo kept running next to the real devices, because device ${DEMO_DEVICE_REF} polls its TAP simulator; ` +
        `end the demo with \`tap-mdr device remove ${DEMO_DEVICE_REF}\`.`
      : null;
    return { run: true, note };
  }
  if (demoDevice !== undefined) {
    const note = realDeviceActive
      ? null
      : `Demo off: device ${DEMO_DEVICE_REF} was removed from this data directory. ` +
        'Start with another --data-dir for a new demo.';
    return { run: false, note };
  }
  return { run: !realDeviceActive, note: null };
}

function isDemoDevice(device: DeviceRecord): boolean {
  return device.orgId === DEMO_ORG_ID && device.deviceId === DEMO_DEVICE_ID;
}

/**
 * Turns auto deletion on for the demo organization and points its email provider at the mail
 * simulator. Each call writes audit log entries, so the stack calls it on the first start only.
 */
export async function configureDemoOrganization(
  context: { store: WorkbenchStore; secretKey: Buffer; actor: Actor },
  demo: DemoSimulators,
): Promise<void> {
  const { store, actor } = context;
  await store.ensureOrganization(DEMO_ORG_ID, actor);
  await store.setOrgPreference(DEMO_ORG_ID, AUTO_REMEDIATE_DELIVERED, 'true', actor);
  await configureEmailProvider(context, DEMO_ORG_ID, {
    kind: 'microsoft365',
    tenantId: demo.mail.graphApp.tenantId,
    clientId: demo.mail.graphApp.clientId,
    clientSecret: demo.mail.graphApp.clientSecret,
    authorityUrl: demo.mail.authorityUrl,
    graphBaseUrl: demo.mail.graphBaseUrl,
    domains: [DEMO_MAIL_DOMAIN],
    action: 'softDelete',
  });
}

/** Returns the demo device's registration: the TAP simulator's credentials and a backfill of the scenario's past. */
export function demoRegistration(demo: DemoSimulators, pollIntervalMs = DEMO_POLL_INTERVAL_MS): DeviceRegistration {
  return {
    orgId: DEMO_ORG_ID,
    deviceId: DEMO_DEVICE_ID,
    name: DEMO_DEVICE_NAME,
    location: DEMO_LOCATION,
    principal: demo.tap.principal,
    secret: demo.tap.secret,
    tapBaseUrl: demo.tap.url,
    settings: { pollIntervalMs, initialLookBackMs: DEMO_BACKFILL_MS },
  };
}
