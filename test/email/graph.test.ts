import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EmailProviderConfigError,
  type Microsoft365Config,
  type ProviderRuntimeOptions,
} from '../../activities/email/index.ts';
import { GraphMailProvider } from '../../activities/email/graph.ts';
import { startMailSimulator, type MailSimulator } from '../../simulators/mail/index.ts';
import { createSelfSignedCertificate } from '../../simulators/mail/tls.ts';
import { providerSuite } from './provider-suite.ts';

// Graph runs over HTTPS: the Graph client attaches the token only to https URLs.
async function startGraph(options: { latencyMs?: number } = {}) {
  const tls = await createSelfSignedCertificate();
  const sim = await startMailSimulator({ tls, ...options });
  const config = (overrides: Partial<Microsoft365Config> = {}): Microsoft365Config => ({
    kind: 'microsoft365',
    tenantId: sim.graphApp.tenantId,
    clientId: sim.graphApp.clientId,
    secretRef: 'email/test',
    authorityUrl: sim.authorityUrl,
    graphBaseUrl: sim.graphBaseUrl,
    ...overrides,
  });
  const create = (
    overrides: Partial<Microsoft365Config> = {},
    runtime: ProviderRuntimeOptions = {},
    secret = sim.graphApp.clientSecret,
  ) => new GraphMailProvider(config(overrides), secret, { caCertificates: [tls.cert], ...runtime });
  return { sim, create };
}

providerSuite('Microsoft Graph', async () => {
  const { sim, create } = await startGraph();
  return {
    sim,
    api: 'graph',
    softDeletedFolder: 'recoverableitemsdeletions',
    quarantineFolder: 'junkemail',
    createProvider: (options = {}) => create(options.domains ? { domains: options.domains } : {}, options.runtime),
    close: () => sim.close(),
  };
});

describe('Microsoft Graph provider specifics', () => {
  let sim: MailSimulator;
  let create: Awaited<ReturnType<typeof startGraph>>['create'];

  before(async () => ({ sim, create } = await startGraph()));
  after(() => sim.close());

  it('percent-encodes the $filter value', async () => {
    sim.addMessage('enc@corp.example', { internetMessageId: "<a'b+c@x>" });
    await create().findAndRemove('enc@corp.example', "<a'b+c@x>", 'dryRun');
    const lookup = sim.requestLog.find((entry) => entry.mailbox === 'enc@corp.example');
    assert.match(lookup?.url ?? '', /\$filter=internetMessageId%20eq%20'%3Ca''b%2Bc%40x%3E'/);
  });

  it('retries throttled $batch sub-requests', async () => {
    const messageId = '<batch-throttle@attacker.example>';
    const recipients = Array.from({ length: 25 }, (_, i) => `batch${i}@corp.example`);
    for (const r of recipients) sim.addMessage(r, { internetMessageId: messageId });
    sim.setFault({ kind: 'throttle', api: 'graph', inBatchOnly: true, times: 5, retryAfter: '1' });

    const { results, deferred } = await create().findAndRemoveMany(recipients, messageId, 'softDelete');

    assert.deepEqual(deferred, []);
    assert.equal(results.filter((r) => r.outcome === 'deleted').length, 25);
    assert.equal(sim.requestLog.filter((e) => e.inBatch && e.status === 429).length, 5);
  });

  it('rejects a wrong client secret with a configuration error', async () => {
    await assert.rejects(
      create({}, {}, 'wrong-secret').findAndRemove('x@corp.example', '<m@x>', 'softDelete'),
      (err: unknown) => err instanceof EmailProviderConfigError && err.code === 'credentials_rejected',
    );
  });

  it('names an unknown tenant', async () => {
    await assert.rejects(
      create({ tenantId: 'other-tenant' }).findAndRemove('x@corp.example', '<m@x>', 'softDelete'),
      (err: unknown) =>
        err instanceof EmailProviderConfigError &&
        err.code === 'tenant_not_found' &&
        err.message.includes('other-tenant'),
    );
  });

  it('fails every recipient when consent is missing', async () => {
    sim.addMessage('consent@corp.example', { internetMessageId: '<consent@x>' });
    sim.setGraphRoles([]);
    try {
      const result = await create().findAndRemove('consent@corp.example', '<consent@x>', 'softDelete');
      assert.equal(result.outcome, 'failed');
      assert.equal(result.code, 'permission_missing');
    } finally {
      sim.setGraphRoles(['Mail.ReadWrite']);
    }
  });

  it('rejects an http Graph URL', () => {
    assert.throws(
      () =>
        new GraphMailProvider(
          { kind: 'microsoft365', tenantId: 't', clientId: 'c', secretRef: 's', graphBaseUrl: 'http://127.0.0.1:1/' },
          'x',
        ),
      EmailProviderConfigError,
    );
  });

  it('move gives the copy a new id', async () => {
    const [copy] = [sim.addMessage('mover@corp.example', { internetMessageId: '<move@x>' })];
    await create().findAndRemove('mover@corp.example', '<move@x>', 'quarantine');
    const [moved] = sim.listMessages('mover@corp.example');
    assert.equal(moved?.folder, 'junkemail');
    assert.notEqual(moved?.graphId, copy?.graphId);
  });
});
