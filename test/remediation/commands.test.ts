/**
 * `tap-mdr email-provider`, `config set`, `remediate` and `remediation show`, run as the
 * operator runs them: `bin/tap-mdr.js` in a child process against a dev server, the stack's
 * embedded store and the mail simulator.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { AUTO_REMEDIATE_DELIVERED } from '../../activities/store/types.ts';
import { checkEmailProvider, configureEmailProvider } from '../../client/email-providers.ts';
import { seedFromTapEvents } from '../../simulators/mail/seed.ts';
import { startTapSimulator, type TapSimulator } from '../../simulators/tap/server.ts';
import { getStatusQuery } from '../../workflows/device.ts';
import { addTestDevice, startTestStack, type TestStack } from '../helpers/stack.ts';
import { eventually, startDevServer } from '../helpers/temporal.ts';
import { createRemediationWorker, phishEvents, startMail, tapEvents, type MailSetup } from './helpers.ts';

const CLI = fileURLToPath(new URL('../../bin/tap-mdr.js', import.meta.url));
const ORG = 'org-cli';

describe('remediation commands', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;
  let mail: MailSetup;
  let tap: TapSimulator;
  let worker: Worker;
  let running: Promise<void>;
  let certFile: string;

  before(async () => {
    env = await startDevServer();
    stack = await startTestStack();
    mail = await startMail('microsoft365');
    tap = await startTapSimulator({ host: '127.0.0.1', port: 0 });
    certFile = join(stack.dataDir, 'mail-sim.pem');
    writeFileSync(certFile, mail.cert!);
    worker = await createRemediationWorker(env, stack, { caCertificates: [mail.cert!] });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await tap?.close();
    await mail?.sim.close();
    await stack?.close();
    await env?.teardown();
  });

  /** Runs `tap-mdr` with `input` on standard input; the child process does not block the event loop. */
  function tapMdr(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TAP_MDR_TASK_QUEUE: stack.taskQueue,
        TAP_MDR_DATA_DIR: stack.dataDir,
        TAP_MDR_ACTOR: 'cli-test',
        DATABASE_URL: '',
        NODE_EXTRA_CA_CERTS: certFile,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(input);
    return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
  }

  function graphArgs(): string[] {
    return [
      'email-provider',
      'set',
      '--org',
      ORG,
      '--provider',
      'microsoft365',
      '--tenant-id',
      mail.sim.graphApp.tenantId,
      '--client-id',
      mail.sim.graphApp.clientId,
      '--authority-url',
      mail.sim.authorityUrl,
      '--graph-url',
      mail.sim.graphBaseUrl,
      '--domain',
      'corp.example',
    ];
  }

  it('email-provider set and check', async () => {
    mail.sim.addMailbox('check@corp.example');
    const set = await tapMdr(graphArgs(), `${mail.sim.graphApp.clientSecret}\n`);
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /microsoft365, action softDelete/);

    const stored = await stack.store.getEmailProvider(ORG);
    assert.equal(stored?.config.kind, 'microsoft365');
    const audit = JSON.stringify(await stack.store.listAudit(100));
    assert.ok(!audit.includes(mail.sim.graphApp.clientSecret), 'the secret reached the audit log');
    assert.ok(!JSON.stringify(stored).includes(mail.sim.graphApp.clientSecret), 'the secret is stored in clear');

    const check = await tapMdr(['email-provider', 'check', '--org', ORG, '--mailbox', 'check@corp.example']);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /succeeded/);
  });

  it('check explains a rejected secret', async () => {
    const set = await tapMdr([...graphArgs(), '--action', 'hardDelete'], 'not-the-secret\n');
    assert.equal(set.status, 0, set.stderr);

    const check = await tapMdr(['email-provider', 'check', '--org', ORG, '--mailbox', 'check@corp.example', '--json']);

    assert.equal(check.status, 1);
    const result = JSON.parse(check.stdout) as { ok: boolean; code: string; explanation: string };
    assert.equal(result.ok, false);
    assert.equal(result.code, 'credentials_rejected');
    assert.match(result.explanation, /rejected or has expired/);
    assert.doesNotMatch(check.stdout, /not-the-secret/);
  });

  it('check explains tenant and consent', async () => {
    mail.sim.addMailbox('check@corp.example');
    const context = { store: stack.store, secretKey: stack.secretKey, actor: { name: 'test' } };
    const base = {
      kind: 'microsoft365' as const,
      clientId: mail.sim.graphApp.clientId,
      clientSecret: mail.sim.graphApp.clientSecret,
      authorityUrl: mail.sim.authorityUrl,
      graphBaseUrl: mail.sim.graphBaseUrl,
      domains: [],
    };
    const check = () =>
      checkEmailProvider({ ...context, mail: { caCertificates: [mail.cert!] } }, 'org-explain', 'check@corp.example');

    await configureEmailProvider(context, 'org-explain', { ...base, tenantId: 'other-tenant' });
    const tenant = await check();
    assert.equal(tenant.code, 'tenant_not_found');
    assert.match(tenant.explanation ?? '', /^wrong tenant/);
    assert.match(tenant.explanation ?? '', /other-tenant/);

    await configureEmailProvider(context, 'org-explain', { ...base, tenantId: mail.sim.graphApp.tenantId });
    mail.sim.setGraphRoles([]);
    try {
      const consent = await check();
      assert.equal(consent.code, 'consent_missing', consent.explanation ?? '');
      assert.match(consent.explanation ?? '', /^consent missing: grant admin consent for the Mail.ReadWrite/);
    } finally {
      mail.sim.setGraphRoles(['Mail.ReadWrite']);
    }
    assert.deepEqual(await check(), { ok: true, code: null, explanation: null });
  });

  it('set rejects an unknown provider', async () => {
    const result = await tapMdr(['email-provider', 'set', '--org', ORG, '--provider', 'exchange2010']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /pass --provider microsoft365 or --provider google-workspace/);
  });

  it('config set signals a running device', async () => {
    const { workflowId } = await addTestDevice(env, stack, {
      orgId: ORG,
      deviceId: 'tap-cli',
      principal: tap.principal,
      secret: tap.secret,
      tapBaseUrl: tap.url,
    });
    await eventually('the device visible by org', async () => {
      const found = [];
      for await (const execution of env.client.workflow.list({ query: `TapMdrOrgId = '${ORG}'` }))
        found.push(execution);
      return found.length > 0 ? true : undefined;
    });

    const result = await tapMdr(['config', 'set', '--org', ORG, AUTO_REMEDIATE_DELIVERED, 'true']);

    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /signalled 1 running device workflows/);
    assert.equal(await stack.store.getOrgPreference(ORG, AUTO_REMEDIATE_DELIVERED), 'true');
    const status = await eventually('the preference applied', async () => {
      const current = await env.client.workflow.getHandle(workflowId).query(getStatusQuery);
      return current.preferences.autoRemediateDelivered ? current : undefined;
    });
    assert.equal(status.preferences.autoRemediateDelivered, true);
    const audit = await stack.store.listAudit(20);
    assert.ok(audit.some((entry) => entry.actor === 'cli-test' && entry.action === 'preference.set'));
  });

  it('config set rejects another key', async () => {
    const result = await tapMdr(['config', 'set', '--org', ORG, 'org.preference.other', 'true']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /the only one is org\.preference\.email\.auto_remediate_delivered/);
  });

  it('remediate by hand, then show', async () => {
    await tapMdr(graphArgs(), `${mail.sim.graphApp.clientSecret}\n`);
    const messageId = '<phish-cli@attacker.example>';
    const events = phishEvents(messageId, ['hand@corp.example']);
    seedFromTapEvents(mail.sim, events);
    const ingest = await stack.store.ingest(
      { orgId: ORG, deviceId: 'tap-cli', autoRemediateDelivered: false },
      tapEvents(events),
      [],
    );
    const [alertId] = ingest.alertsCreated;
    assert.ok(alertId);

    const started = await tapMdr(['remediate', alertId, '--action', 'quarantine']);
    assert.equal(started.status, 0, started.stderr);
    assert.match(started.stdout, /started: workflow tap-remediation:org-cli:/);
    await eventually('remediation done', async () =>
      (await stack.store.getAlert(alertId))?.remediationStatus === 'done' ? true : undefined,
    );

    const shown = await tapMdr(['remediation', 'show', alertId, '--json']);
    assert.equal(shown.status, 0, shown.stderr);
    const view = JSON.parse(shown.stdout) as { status: string; results: { recipient: string; outcome: string }[] };
    assert.equal(view.status, 'done');
    assert.deepEqual(
      view.results.map((result) => [result.recipient, result.outcome]),
      [['hand@corp.example', 'deleted']],
    );
    assert.deepEqual(
      mail.sim.listMessages('hand@corp.example').map((message) => message.folder),
      ['junkemail'],
    );

    const text = await tapMdr(['remediation', 'show', alertId]);
    assert.match(text.stdout, /status:\s+done \(quarantine: 1 deleted/);
  });

  it('remediate names an unknown alert', async () => {
    const result = await tapMdr(['remediate', 'alert_missing']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /alert "alert_missing" is not in the Workbench store/);
  });
});
