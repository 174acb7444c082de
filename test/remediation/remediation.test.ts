/**
 * Remediation on the dev server with real activities: the Workbench store, the mail simulator
 * over real HTTP (Graph over HTTPS, Gmail over HTTP), and the TAP simulator for the device.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { AUTO_REMEDIATE_DELIVERED, type AlertRecord } from '../../activities/store/types.ts';
import { startRemediation } from '../../client/remediations.ts';
import { seedFromTapEvents } from '../../simulators/mail/seed.ts';
import { startTapSimulator, type TapSimulator } from '../../simulators/tap/server.ts';
import { decommissionSignal, getStatusQuery } from '../../workflows/device.ts';
import { remediationWorkflowId } from '../../workflows/device-remediation.ts';
import type { RemediationSettings, RemediationView } from '../../workflows/remediation-types.ts';
import { TRICKY_MESSAGE_ID } from '../email/provider-suite.ts';
import { addTestDevice, startTestStack, type TestStack } from '../helpers/stack.ts';
import { recordHistory } from '../helpers/histories.ts';
import { eventually, startDevServer } from '../helpers/temporal.ts';
import { createRemediationWorker, liveCopies, phishEvents, startMail, tapEvents, type MailSetup } from './helpers.ts';

const GRAPH_DELETED = 'recoverableitemsdeletions';
const GMAIL_DELETED = 'deleteditems';

let counter = 0;
/** Returns addresses unique to one test, in the organization's domain. */
function addresses(...names: string[]): string[] {
  counter += 1;
  return names.map((name) => `${name}.${counter}@corp.example`);
}

/** Number of successful removal requests (delete, trash, move) the simulator saw for a mailbox. */
function removals(mail: MailSetup, address: string): number {
  return mail.sim.requestLog.filter(
    (entry) =>
      entry.mailbox === address.toLowerCase() &&
      entry.status < 300 &&
      (entry.method === 'DELETE' || /\/(trash|move|permanentDelete)$/.test(entry.url.split('?')[0]!)),
  ).length;
}

describe('remediation workflow (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;
  let graph: MailSetup;
  let gmail: MailSetup;
  let worker: Worker;
  let running: Promise<void>;
  const taps: TapSimulator[] = [];

  before(async () => {
    env = await startDevServer();
    stack = await startTestStack();
    graph = await startMail('microsoft365');
    gmail = await startMail('googleWorkspace');
    // A Retry-After above 500 ms defers the recipient to the activity's next attempt.
    worker = await createRemediationWorker(env, stack, { caCertificates: [graph.cert!], maxInlineDelayMs: 500 });
    running = worker.run();
  });
  afterEach(() => {
    graph.sim.clearFaults();
    gmail.sim.clearFaults();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    for (const tap of taps) await tap.close();
    await graph?.sim.close();
    await gmail?.sim.close();
    await stack?.close();
    await env?.teardown();
  });

  /** Stores a delivered phish for `orgId` and puts it in the recipients' mailboxes; returns the alert id. */
  async function ingestPhish(mail: MailSetup, orgId: string, messageId: string, recipients: string[]): Promise<string> {
    const events = phishEvents(messageId, recipients);
    seedFromTapEvents(mail.sim, events);
    const result = await stack.store.ingest(
      { orgId, deviceId: 'tap-1', autoRemediateDelivered: true },
      tapEvents(events),
      [],
    );
    const alertId = result.remediationAlertIds[0];
    assert.ok(alertId, 'the phish made no alert eligible for remediation');
    return alertId;
  }

  /** Runs a remediation to its end; returns the view, or the failure of a `failed` one. */
  async function remediate(
    orgId: string,
    alertId: string,
    options: { action?: 'dryRun'; settings?: Partial<RemediationSettings> } = {},
  ): Promise<{ view: RemediationView | null; failure: Error | null; alert: AlertRecord }> {
    const { workflowId } = await startRemediation(env.client, stack.taskQueue, { orgId, alertId, ...options });
    let view: RemediationView | null = null;
    let failure: Error | null = null;
    try {
      view = await env.client.workflow.getHandle<() => Promise<RemediationView>>(workflowId).result();
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      failure = err;
    }
    return { view, failure, alert: (await stack.store.getAlert(alertId))! };
  }

  async function outcomes(alertId: string): Promise<[string, string, number][]> {
    const results = await stack.store.listRecipientResults(alertId);
    return results.map((result) => [result.recipient, result.outcome, result.copies]);
  }

  async function startDevice(orgId: string, events: ReturnType<typeof phishEvents>, pollIntervalMs = 1000) {
    const tap = await startTapSimulator({ host: '127.0.0.1', port: 0, events });
    taps.push(tap);
    return addTestDevice(env, stack, {
      orgId,
      deviceId: 'tap-1',
      principal: tap.principal,
      secret: tap.secret,
      tapBaseUrl: tap.url,
      settings: { pollIntervalMs },
    });
  }

  it('device deletes a delivered phish', async () => {
    const orgId = 'org-auto-on';
    const messageId = '<phish-device@attacker.example>';
    const recipients = addresses('alice', 'bob', 'carol');
    const [bystander] = addresses('dave');
    const events = phishEvents(messageId, recipients);
    seedFromTapEvents(graph.sim, events);
    graph.sim.addMessage(bystander!, { internetMessageId: messageId });
    graph.sim.addMessage(recipients[0]!, { internetMessageId: '<lunch@partner.example>' });
    await stack.store.setOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED, 'true', { name: 'test' });
    await graph.configure(stack, orgId);

    // A 1-hour poll interval: deletion must start right after the poll, not an interval later.
    const { workflowId } = await startDevice(orgId, events, 60 * 60_000);
    const alert = await eventually(
      'the alert remediated',
      async () => {
        const [found] = await stack.store.listAlerts({ orgId, type: 'delivered_message' });
        return found?.remediationStatus === 'done' ? found : undefined;
      },
      60_000,
    );
    await env.client.workflow.getHandle(workflowId).signal(decommissionSignal, { reason: 'test over' });
    await env.client.workflow.getHandle(workflowId).result();
    await recordHistory(env.client, workflowId, 'device-starts-remediation');
    await recordHistory(env.client, remediationWorkflowId(orgId, alert.alertId), 'remediation-done');

    assert.equal(alert.state, 'open', 'the alert left the queue');
    assert.deepEqual(
      await outcomes(alert.alertId),
      recipients.map((recipient) => [recipient, 'deleted', 1]),
    );
    for (const address of recipients) {
      assert.equal(liveCopies(graph.sim, address, messageId, GRAPH_DELETED).length, 0, `${address} kept the phish`);
      assert.equal(removals(graph, address), 1, `${address}: removal requests`);
    }
    assert.equal(liveCopies(graph.sim, bystander!, messageId, GRAPH_DELETED).length, 1, 'the bystander lost its copy');
    assert.equal(removals(graph, bystander!), 0);
    assert.equal(liveCopies(graph.sim, recipients[0]!, '<lunch@partner.example>', GRAPH_DELETED).length, 1);
  });

  it('preference off deletes nothing', async () => {
    const orgId = 'org-auto-off';
    const messageId = '<phish-off@attacker.example>';
    const recipients = addresses('erin', 'frank', 'grace');
    const events = phishEvents(messageId, recipients);
    seedFromTapEvents(graph.sim, events);
    await graph.configure(stack, orgId);

    const { workflowId } = await startDevice(orgId, events);
    const handle = env.client.workflow.getHandle(workflowId);
    const alert = await eventually('the alert stored', async () => {
      const [found] = await stack.store.listAlerts({ orgId, type: 'delivered_message' });
      return found;
    });
    // Two more polls, each followed by the remediation step of the device loop.
    const polls = (await handle.query(getStatusQuery)).counters.polls;
    await eventually('two more polls', async () =>
      (await handle.query(getStatusQuery)).counters.polls >= polls + 2 ? true : undefined,
    );
    await handle.signal(decommissionSignal, { reason: 'test over' });

    const stored = (await stack.store.getAlert(alert.alertId))!;
    assert.equal(stored.state, 'open');
    assert.equal(stored.remediationStatus, 'none');
    assert.deepEqual(await stack.store.listRecipientResults(alert.alertId), []);
    for (const address of recipients) {
      assert.equal(liveCopies(graph.sim, address, messageId, GRAPH_DELETED).length, 1, `${address} lost the message`);
      assert.equal(graph.sim.requestLog.filter((entry) => entry.mailbox === address).length, 0);
    }
    await assert.rejects(
      env.client.workflow.getHandle(remediationWorkflowId(orgId, alert.alertId)).describe(),
      WorkflowNotFoundError,
    );
  });

  it('Gmail deletes from three mailboxes', async () => {
    const orgId = 'org-gmail';
    const messageId = '<phish-gmail@attacker.example>';
    const recipients = addresses('hana', 'ivan', 'judy');
    const [bystander] = addresses('karl');
    await gmail.configure(stack, orgId);
    const alertId = await ingestPhish(gmail, orgId, messageId, recipients);
    gmail.sim.addMessage(bystander!, { internetMessageId: messageId });

    const { view, alert } = await remediate(orgId, alertId);

    assert.equal(alert.remediationStatus, 'done');
    assert.equal(view?.phase, 'done');
    assert.equal(view?.action, 'softDelete');
    assert.deepEqual(
      await outcomes(alertId),
      recipients.map((recipient) => [recipient, 'deleted', 1]),
    );
    for (const address of recipients) {
      assert.equal(liveCopies(gmail.sim, address, messageId, GMAIL_DELETED).length, 0, `${address} kept the phish`);
    }
    assert.equal(liveCopies(gmail.sim, bystander!, messageId, GMAIL_DELETED).length, 1);
  });

  it('special-character Message-ID deletes one message', async () => {
    const orgId = 'org-tricky';
    const recipients = addresses('liam');
    const decoys = ["<o'hara 1/2=3#4&5%26<x>@evil.example>", "<o'hara+1/2=3>", "<o'hara+1/2=3#4&5&<x>@evil.example>"];
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, TRICKY_MESSAGE_ID, recipients);
    for (const decoy of decoys) graph.sim.addMessage(recipients[0]!, { internetMessageId: decoy });

    const { alert } = await remediate(orgId, alertId);

    assert.equal(alert.messageId, TRICKY_MESSAGE_ID);
    assert.equal(alert.remediationStatus, 'done');
    assert.deepEqual(await outcomes(alertId), [[recipients[0]!, 'deleted', 1]]);
    assert.equal(liveCopies(graph.sim, recipients[0]!, TRICKY_MESSAGE_ID, GRAPH_DELETED).length, 0);
    for (const decoy of decoys) {
      assert.equal(liveCopies(graph.sim, recipients[0]!, decoy, GRAPH_DELETED).length, 1, `decoy ${decoy} removed`);
    }
  });

  it('dry run reports and deletes nothing', async () => {
    const orgId = 'org-dry';
    const messageId = '<phish-dry@attacker.example>';
    const recipients = addresses('mia', 'nina');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);

    const { alert } = await remediate(orgId, alertId, { action: 'dryRun' });

    assert.equal(alert.remediationStatus, 'done');
    assert.match(alert.remediationReason ?? '', /^dryRun: /);
    const results = await stack.store.listRecipientResults(alertId);
    assert.deepEqual(
      results.map((result) => [result.outcome, result.reason]),
      recipients.map(() => ['skipped', 'dry run: 1 copies would be removed']),
    );
    for (const address of recipients) {
      assert.equal(liveCopies(graph.sim, address, messageId, GRAPH_DELETED).length, 1);
      assert.equal(removals(graph, address), 0);
    }
  });

  it('Retry-After sets the next attempt', async () => {
    const orgId = 'org-retry-after';
    const messageId = '<phish-retry-after@attacker.example>';
    const recipients = addresses('oscar', 'peggy', 'quinn');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);
    graph.sim.setFault({ kind: 'throttle', api: 'graph', mailbox: recipients[0]!, times: 1, retryAfter: '2' });

    const { alert } = await remediate(orgId, alertId);

    assert.equal(alert.remediationStatus, 'done');
    assert.deepEqual(
      await outcomes(alertId),
      recipients.map((recipient) => [recipient, 'deleted', 1]),
    );
    const log = graph.sim.requestLog.filter((entry) => entry.mailbox === recipients[0]);
    const throttled = log.findIndex((entry) => entry.status === 429);
    assert.ok(throttled >= 0, 'the fault did not fire');
    const next = log[throttled + 1];
    assert.ok(next, 'no request after the 429');
    assert.ok(next.at - log[throttled]!.at >= 2000, 'the retry came before Retry-After');

    const history = await env.client.workflow.getHandle(remediationWorkflowId(orgId, alertId)).fetchHistory();
    const attempts = (history.events ?? [])
      .map((event) => event.activityTaskStartedEventAttributes?.attempt)
      .filter((attempt): attempt is number => typeof attempt === 'number');
    assert.ok(Math.max(...attempts) >= 2, 'the batch was not retried by Temporal');
  });

  it('throttling past the retry limit ends partial', async () => {
    const orgId = 'org-throttled';
    const messageId = '<phish-throttled@attacker.example>';
    const recipients = addresses('rita', 'sam', 'tom');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);
    graph.sim.setFault({ kind: 'throttle', api: 'graph', mailbox: recipients[2]!, retryAfter: '1' });

    const first = await remediate(orgId, alertId, { settings: { retryTimeoutMs: 5000 } });

    assert.equal(first.alert.remediationStatus, 'partial');
    assert.match(first.alert.remediationReason ?? '', /gave up after retrying/);
    assert.match(first.alert.remediationReason ?? '', /throttled/);
    assert.match(first.alert.remediationReason ?? '', /1 of 3 recipients not handled/);
    assert.deepEqual(await outcomes(alertId), [
      [recipients[0]!, 'deleted', 1],
      [recipients[1]!, 'deleted', 1],
    ]);

    // Once the API recovers, a second run under the same id handles only the recipient left.
    graph.sim.clearFaults();
    const requestsBefore = graph.sim.requestLog.length;
    const second = await remediate(orgId, alertId);

    assert.equal(second.alert.remediationStatus, 'done');
    assert.equal(second.view?.counters.handled, 1);
    const mailboxes = new Set(graph.sim.requestLog.slice(requestsBefore).map((entry) => entry.mailbox));
    mailboxes.delete(null);
    assert.deepEqual([...mailboxes], [recipients[2]!]);
    assert.equal(removals(graph, recipients[0]!), 1);
  });

  it('missing permission on one mailbox ends partial', async () => {
    const orgId = 'org-permission';
    const messageId = '<phish-403@attacker.example>';
    const recipients = addresses('uma', 'vic', 'wes');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);
    graph.sim.setFault({ kind: 'permissionMissing', api: 'graph', mailbox: recipients[1]! });

    const { alert, view } = await remediate(orgId, alertId);

    assert.equal(alert.remediationStatus, 'partial');
    assert.equal(view?.phase, 'partial');
    assert.match(alert.remediationReason ?? '', /1 failed/);
    assert.match(alert.remediationReason ?? '', /access denied/);
    assert.deepEqual(await outcomes(alertId), [
      [recipients[0]!, 'deleted', 1],
      [recipients[1]!, 'failed', 0],
      [recipients[2]!, 'deleted', 1],
    ]);
    assert.equal(liveCopies(graph.sim, recipients[1]!, messageId, GRAPH_DELETED).length, 1);
  });

  it('consent missing ends failed', async () => {
    const orgId = 'org-consent';
    const messageId = '<phish-consent@attacker.example>';
    const recipients = addresses('xena', 'yuri');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);
    graph.sim.setGraphRoles([]);
    let outcome;
    try {
      outcome = await remediate(orgId, alertId);
    } finally {
      graph.sim.setGraphRoles(['Mail.ReadWrite']);
    }

    assert.equal(outcome.alert.remediationStatus, 'failed');
    assert.match(outcome.alert.remediationReason ?? '', /2 failed/);
    assert.ok(outcome.failure, 'a failed remediation must fail its workflow');
    for (const address of recipients) assert.equal(liveCopies(graph.sim, address, messageId, GRAPH_DELETED).length, 1);
  });

  it('rejected secret fails fast', async () => {
    const orgId = 'org-bad-secret';
    const recipients = addresses('zoe');
    await graph.configure(stack, orgId, { clientSecret: 'wrong-secret' });
    const alertId = await ingestPhish(graph, orgId, '<phish-secret@attacker.example>', recipients);

    const { alert, failure } = await remediate(orgId, alertId);

    assert.equal(alert.remediationStatus, 'failed');
    assert.match(alert.remediationReason ?? '', /client secret of application .* was rejected/);
    assert.doesNotMatch(alert.remediationReason ?? '', /wrong-secret/);
    assert.ok(failure);
    const history = await env.client.workflow.getHandle(remediationWorkflowId(orgId, alertId)).fetchHistory();
    const attempts = (history.events ?? []).filter((event) => event.activityTaskStartedEventAttributes);
    assert.ok(
      attempts.every((event) => event.activityTaskStartedEventAttributes?.attempt === 1),
      'a configuration error was retried',
    );
  });

  it('no provider fails with a plain reason', async () => {
    const orgId = 'org-no-provider';
    const alertId = await ingestPhish(graph, orgId, '<phish-none@attacker.example>', addresses('abe'));

    const { alert } = await remediate(orgId, alertId);

    assert.equal(alert.remediationStatus, 'failed');
    assert.match(alert.remediationReason ?? '', /no email provider is configured for organization org-no-provider/);
  });

  it('recipients added later are handled once', async () => {
    const orgId = 'org-added';
    const messageId = '<phish-added@attacker.example>';
    const [first, second, third, fourth] = addresses('bea', 'cal', 'dan', 'eve');
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, [first!, second!]);
    // Holds the first batch in Temporal's retry for 3 s, so the new recipient arrives mid-run.
    graph.sim.setFault({ kind: 'throttle', api: 'graph', mailbox: first!, times: 1, retryAfter: '3' });

    const started = await startRemediation(env.client, stack.taskQueue, { orgId, alertId });
    await eventually('the first batch deferred', async () =>
      graph.sim.requestLog.some((entry) => entry.mailbox === first && entry.status === 429) ? true : undefined,
    );
    // A later poll: a per-recipient event of the same message, as the device workflow then signals.
    await ingestMore(orgId, messageId, [third!]);
    const signalled = await startRemediation(env.client, stack.taskQueue, { orgId, alertId });
    const view = await env.client.workflow.getHandle<() => Promise<RemediationView>>(started.workflowId).result();

    assert.equal(started.started, true);
    assert.equal(signalled.started, false, 'a running remediation was started twice');
    assert.equal(view.counters.handled, 3);
    for (const address of [first!, second!, third!]) assert.equal(removals(graph, address), 1, address);

    // After it closed: a new recipient starts it again under the same id, for that recipient only.
    await ingestMore(orgId, messageId, [fourth!]);
    const again = await remediate(orgId, alertId);
    assert.equal(again.alert.remediationStatus, 'done');
    assert.equal(again.view?.counters.handled, 1);
    assert.deepEqual(
      (await outcomes(alertId)).map(([recipient, outcome]) => [recipient, outcome]),
      [first!, second!, third!, fourth!].map((recipient) => [recipient, 'deleted']),
    );
    for (const address of [first!, second!, third!, fourth!]) assert.equal(removals(graph, address), 1, address);

    async function ingestMore(org: string, id: string, recipients: string[]) {
      const alert = (await stack.store.getAlert(alertId))!;
      const events = phishEvents(id, recipients).map((entry) => ({
        ...entry,
        event: { ...entry.event, GUID: alert.guid },
      }));
      seedFromTapEvents(graph.sim, events);
      const result = await stack.store.ingest(
        { orgId: org, deviceId: 'tap-1', autoRemediateDelivered: true },
        tapEvents(events),
        [],
      );
      assert.deepEqual(result.remediationAlertIds, [alertId], 'the new recipient did not reach the same alert');
    }
  });

  it('continue-as-new keeps each recipient once', async () => {
    const orgId = 'org-long';
    const messageId = '<phish-long@attacker.example>';
    const recipients = addresses(...Array.from({ length: 24 }, (_, i) => `user${i}`));
    await graph.configure(stack, orgId);
    const alertId = await ingestPhish(graph, orgId, messageId, recipients);

    const { view, alert } = await remediate(orgId, alertId, {
      settings: { batchSize: 3, chunkSize: 2, maxHistoryLength: 20 },
    });

    assert.equal(alert.remediationStatus, 'done');
    assert.ok((view?.counters.continuedAsNew ?? 0) >= 2, `continued as new ${view?.counters.continuedAsNew} times`);
    assert.equal(view?.counters.handled, 24);
    assert.equal(view?.counters.copies, 24);
    for (const address of recipients) assert.equal(removals(graph, address), 1, address);
  });
});
