/**
 * Benchmark: from a delivered-phish alert in the queue to the deletion of its last recipient's
 * copy, through the remediation workflow, its activities and the Graph provider, against the
 * mail simulator over HTTPS.
 *
 * The simulator adds `latencyMs` to every request and `$batch` sub-request and allows 4
 * in-flight requests per mailbox. The floor is requests x latency / 4: the time the requests
 * the run made would take at 4 in flight.
 */
import type { Client } from '@temporalio/client';
import { parseSiemResponse } from '../../activities/tap/parse.ts';
import { configureEmailProvider } from '../../client/email-providers.ts';
import { startRemediation } from '../../client/remediations.ts';
import { startMailSimulator } from '../../simulators/mail/index.ts';
import { seedFromTapEvents } from '../../simulators/mail/seed.ts';
import { createSelfSignedCertificate } from '../../simulators/mail/tls.ts';
import { median } from './support.ts';
import { phishMessage, startBenchStack } from './stack.ts';

/** Requests in flight per mailbox that the simulator allows, as Exchange Online does. */
const CONCURRENCY = 4;

/** Figures of one recipient count; times in milliseconds. */
export interface DeleteFigures {
  recipients: number;
  runs: number;
  /** Median from the start of the remediation to the last copy's deletion. */
  medianMs: number;
  /** Median from the start to the workflow's completion (final status stored). */
  workflowMs: number;
  /** Mailbox requests of the last run, `$batch` sub-requests counted one by one. */
  requests: number;
  floorMs: number;
  ratio: number;
}

/** Runs `runs` remediations for each recipient count. */
export async function benchTimeToDelete(options: {
  recipientCounts: readonly number[];
  runs: number;
  latencyMs: number;
}): Promise<DeleteFigures[]> {
  const tls = await createSelfSignedCertificate();
  const mail = await startMailSimulator({ tls, latencyMs: options.latencyMs, maxConcurrentPerMailbox: CONCURRENCY });
  const stack = await startBenchStack({ mail: { caCertificates: [tls.cert] } });
  const orgId = 'org-bench-delete';
  try {
    const context = { store: stack.store, secretKey: stack.secretKey, actor: { name: 'bench' } };
    await configureEmailProvider(context, orgId, {
      kind: 'microsoft365',
      tenantId: mail.graphApp.tenantId,
      clientId: mail.graphApp.clientId,
      clientSecret: mail.graphApp.clientSecret,
      authorityUrl: mail.authorityUrl,
      graphBaseUrl: mail.graphBaseUrl,
      domains: ['bench.example'],
    });

    const figures: DeleteFigures[] = [];
    let run = 0;
    for (const count of options.recipientCounts) {
      const samples = [];
      for (let index = 0; index < options.runs; index++) {
        run += 1;
        const recipients = Array.from({ length: count }, (_, n) => `user${n}.run${run}@bench.example`);
        samples.push(await deleteOnce(stack.env.client, stack, mail, orgId, recipients));
      }
      const medianMs = median(samples.map((sample) => sample.lastDeletionMs));
      const requests = samples.at(-1)!.requests;
      const floorMs = (requests * options.latencyMs) / CONCURRENCY;
      figures.push({
        recipients: count,
        runs: options.runs,
        medianMs,
        workflowMs: median(samples.map((sample) => sample.workflowMs)),
        requests,
        floorMs,
        ratio: medianMs / floorMs,
      });
    }
    return figures;
  } finally {
    await stack.close();
    await mail.close();
  }
}

/** Stores one phish alert for `recipients`, seeds their mailboxes, and times its remediation. */
async function deleteOnce(
  client: Client,
  stack: Awaited<ReturnType<typeof startBenchStack>>,
  mail: Awaited<ReturnType<typeof startMailSimulator>>,
  orgId: string,
  recipients: string[],
) {
  const events = phishMessage(recipients, new Date(Date.now() - 5 * 60_000));
  seedFromTapEvents(mail, events);
  const batch = parseSiemResponse({
    queryEndTime: new Date().toISOString(),
    messagesDelivered: events.map((entry) => entry.event),
  });
  const ingest = await stack.store.ingest(
    { orgId, deviceId: 'tap-bench', autoRemediateDelivered: true },
    batch.events,
    [],
  );
  const alertId = ingest.alertsCreated[0];
  if (!alertId) throw new Error('the phish events created no alert; check the detection rules');

  const mailboxes = new Set(recipients);
  const logStart = mail.requestLog.length;
  const startedMs = Date.now();
  const { workflowId } = await startRemediation(client, stack.taskQueue, { orgId, alertId });
  await client.workflow.getHandle(workflowId).result();
  const workflowMs = Date.now() - startedMs;

  const entries = mail.requestLog.slice(logStart).filter((entry) => entry.mailbox && mailboxes.has(entry.mailbox));
  const removals = entries.filter(
    (entry) =>
      entry.status < 300 && (entry.method === 'DELETE' || /\/(move|permanentDelete)$/.test(entry.url.split('?')[0]!)),
  );
  if (removals.length < recipients.length) {
    throw new Error(
      `only ${removals.length} of ${recipients.length} copies were removed; see the workflow ${workflowId}`,
    );
  }
  // The Graph routes log a request once it has been served, after the latency, so `at` is the
  // moment the copy was gone.
  const lastDeletionMs = Math.max(...removals.map((entry) => entry.at)) - startedMs;
  return { lastDeletionMs, workflowMs, requests: entries.length };
}
