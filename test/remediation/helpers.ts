/**
 * Shared pieces of the remediation tests: delivered-phish events built from a fixture, the
 * mail simulator with the org's provider configured, and a worker with mail settings.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { ProviderRuntimeOptions, RemovalAction } from '../../activities/email/types.ts';
import { parseSiemResponse } from '../../activities/tap/parse.ts';
import type { TapEvent } from '../../activities/tap/types.ts';
import { configureEmailProvider } from '../../client/email-providers.ts';
import { startMailSimulator, type MailSimulator, type MailSimulatorOptions } from '../../simulators/mail/index.ts';
import type { SimulatorEvent } from '../../simulators/tap/generator.ts';
import { createSelfSignedCertificate } from '../../simulators/mail/tls.ts';
import { createTapMdrWorker, WORKFLOWS_PATH } from '../../workers/worker.ts';
import type { TestStack } from '../helpers/stack.ts';
import { workflowBundle } from '../helpers/temporal.ts';

const TEMPLATE = (
  JSON.parse(
    readFileSync(new URL('../fixtures/tap/03-delivered-phish-multi-recipient.json', import.meta.url), 'utf8'),
  ) as { messagesDelivered: Record<string, unknown>[] }
).messagesDelivered[0]!;

/**
 * Builds the `messagesDelivered` events of one phish, one event per recipient as TAP sends
 * them, created `minutesAgo` minutes ago (inside the device's first poll window).
 */
export function phishEvents(messageId: string, recipients: readonly string[], minutesAgo = 10): SimulatorEvent[] {
  const time = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const guid = randomUUID().replaceAll('-', '').slice(0, 32);
  return recipients.map((recipient) => ({
    type: 'messagesDelivered' as const,
    event: {
      ...structuredClone(TEMPLATE),
      id: randomUUID(),
      GUID: guid,
      messageID: messageId,
      messageTime: time,
      recipient: [recipient],
      toAddresses: [recipient],
      threatsInfoMap: (TEMPLATE.threatsInfoMap as Record<string, unknown>[]).map((threat) => ({
        ...threat,
        threatTime: time,
      })),
    },
  }));
}

/** Parses simulator events as the TAP client would receive them. */
export function tapEvents(events: readonly SimulatorEvent[]): TapEvent[] {
  return parseSiemResponse({
    queryEndTime: new Date().toISOString(),
    messagesDelivered: events.map((entry) => entry.event),
  }).events;
}

/** A mail simulator with its provider settings. */
export interface MailSetup {
  sim: MailSimulator;
  /** PEM certificate to trust when the simulator serves HTTPS. */
  cert: string | null;
  /** Stores `orgId`'s provider, pointing at this simulator. */
  configure(
    stack: TestStack,
    orgId: string,
    options?: { action?: RemovalAction; clientSecret?: string },
  ): Promise<void>;
}

/** Starts a Graph simulator (HTTPS, as the Graph client needs) or a Gmail simulator (HTTP). */
export async function startMail(
  provider: 'microsoft365' | 'googleWorkspace',
  options: MailSimulatorOptions = {},
): Promise<MailSetup> {
  const tls = provider === 'microsoft365' ? await createSelfSignedCertificate() : undefined;
  const sim = await startMailSimulator({ ...options, ...(tls ? { tls } : {}) });
  return {
    sim,
    cert: tls?.cert ?? null,
    configure: async (stack, orgId, configureOptions = {}) => {
      const context = { store: stack.store, secretKey: stack.secretKey, actor: { name: 'test' } };
      const common = { domains: ['corp.example'], action: configureOptions.action };
      if (provider === 'microsoft365') {
        await configureEmailProvider(context, orgId, {
          kind: 'microsoft365',
          tenantId: sim.graphApp.tenantId,
          clientId: sim.graphApp.clientId,
          clientSecret: configureOptions.clientSecret ?? sim.graphApp.clientSecret,
          authorityUrl: sim.authorityUrl,
          graphBaseUrl: sim.graphBaseUrl,
          ...common,
        });
      } else {
        await configureEmailProvider(context, orgId, {
          kind: 'googleWorkspace',
          serviceAccountKeyJson: JSON.stringify(sim.googleServiceAccountKey),
          tokenUrl: sim.googleTokenUrl,
          rootUrl: sim.gmailRootUrl,
          ...common,
        });
      }
    },
  };
}

/** Creates a worker for the stack whose mail providers trust the simulators' certificates. */
export async function createRemediationWorker(
  env: TestWorkflowEnvironment,
  stack: TestStack,
  mail: ProviderRuntimeOptions = {},
): Promise<Worker> {
  return createTapMdrWorker({
    connection: env.nativeConnection,
    taskQueue: stack.taskQueue,
    workflowBundle: await workflowBundle(WORKFLOWS_PATH),
    dependencies: { store: stack.store, secretKey: stack.secretKey, tapTimeoutMs: 10_000, mail },
  });
}

/** Copies of `messageId` in a mailbox that are still live (not soft-deleted). */
export function liveCopies(sim: MailSimulator, address: string, messageId: string, softDeletedFolder: string) {
  return sim
    .listMessages(address)
    .filter((message) => message.internetMessageId === messageId && message.folder !== softDeletedFolder);
}
