/**
 * The demo organization and device: auto deletion on, the mail simulator as its Microsoft 365
 * tenant, and one TAP device that polls the TAP simulator. Registration goes through the same
 * code as `tap-mdr device add` and `tap-mdr email-provider set`.
 */
import { AUTO_REMEDIATE_DELIVERED, type Actor, type WorkbenchStore } from '../activities/store/types.ts';
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
