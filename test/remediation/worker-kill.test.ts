/**
 * A worker process killed with SIGKILL in the middle of a remediation: a second worker takes
 * the batch over after its heartbeat timeout, and no copy is removed twice.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startRemediation } from '../../client/remediations.ts';
import type { RemediationView } from '../../workflows/remediation-types.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { eventually, startDevServer } from '../helpers/temporal.ts';
import { createRemediationWorker, liveCopies, phishEvents, startMail, tapEvents, type MailSetup } from './helpers.ts';

const MESSAGE_ID = '<phish-kill@attacker.example>';

describe('remediation across a killed worker', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;
  let mail: MailSetup;

  before(async () => {
    env = await startDevServer();
    stack = await startTestStack();
    // Every request takes 150 ms, so the kill lands while deletions are in flight.
    mail = await startMail('microsoft365', { latencyMs: 150 });
  });
  after(async () => {
    await mail?.sim.close();
    await stack?.close();
    await env?.teardown();
  });

  function deletes(): { mailbox: string; at: number }[] {
    return mail.sim.requestLog
      .filter((entry) => entry.method === 'DELETE' && entry.status < 300 && entry.mailbox !== null)
      .map((entry) => ({ mailbox: entry.mailbox!, at: entry.at }));
  }

  it('resumes and deletes nothing twice', async () => {
    const orgId = 'org-kill';
    const recipients = Array.from({ length: 40 }, (_, i) => `kill${i}@corp.example`);
    await mail.configure(stack, orgId);
    for (const recipient of recipients) {
      mail.sim.addMessage(recipient, { internetMessageId: MESSAGE_ID, folder: 'inbox' });
      mail.sim.addMessage(recipient, { internetMessageId: MESSAGE_ID, folder: 'junkemail' });
    }
    const ingest = await stack.store.ingest(
      { orgId, deviceId: 'tap-1', autoRemediateDelivered: true },
      tapEvents(phishEvents(MESSAGE_ID, recipients)),
      [],
    );
    const alertId = ingest.remediationAlertIds[0]!;

    const { workflowId } = await startRemediation(env.client, stack.taskQueue, {
      orgId,
      alertId,
      settings: { batchSize: 40, chunkSize: 4, heartbeatTimeoutMs: 3000 },
    });
    const first = startWorkerProcess(env, stack, mail.cert!);
    await eventually('deletions by the first worker', async () => (deletes().length >= 8 ? true : undefined), 60_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const killedAt = Date.now();
    const deletedBeforeKill = deletes().length;
    assert.ok(deletedBeforeKill < recipients.length * 2, 'the first worker finished before the kill');

    const worker = await createRemediationWorker(env, stack, { caCertificates: [mail.cert!] });
    const view = await worker.runUntil(
      env.client.workflow.getHandle<() => Promise<RemediationView>>(workflowId).result(),
    );

    assert.equal(view.phase, 'done');
    assert.ok(
      deletes().some((entry) => entry.at > killedAt),
      'the second worker deleted nothing',
    );
    const perMailbox = new Map<string, number>();
    for (const entry of deletes()) perMailbox.set(entry.mailbox, (perMailbox.get(entry.mailbox) ?? 0) + 1);
    for (const recipient of recipients) {
      assert.equal(perMailbox.get(recipient), 2, `${recipient}: DELETE requests for its 2 copies`);
      assert.equal(liveCopies(mail.sim, recipient, MESSAGE_ID, 'recoverableitemsdeletions').length, 0);
    }

    const results = await stack.store.listRecipientResults(alertId);
    assert.equal(results.length, recipients.length);
    // NOTE: heartbeats are throttled, so copies removed shortly before the kill may be missing
    // from the last one. Such a recipient is reported not_found, although its copies are gone.
    assert.ok(results.every((result) => result.outcome === 'deleted' || result.outcome === 'not_found'));
    assert.ok(results.filter((result) => result.outcome === 'deleted').length >= recipients.length - 4);
    assert.equal((await stack.store.getAlert(alertId))?.remediationStatus, 'done');
  });
});

/** Runs `tap-mdr worker` on the stack's data directory, trusting the Graph simulator's certificate. */
function startWorkerProcess(env: TestWorkflowEnvironment, stack: TestStack, cert: string): ChildProcess {
  const certFile = join(stack.dataDir, 'mail-sim.pem');
  writeFileSync(certFile, cert);
  return spawn(process.execPath, ['bin/tap-mdr.js', 'worker', '--data-dir', stack.dataDir], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TAP_MDR_TASK_QUEUE: stack.taskQueue,
      DATABASE_URL: '',
      NODE_EXTRA_CA_CERTS: certFile,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
