import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  EmailProviderConfigError,
  type GoogleWorkspaceConfig,
  type ProviderRuntimeOptions,
} from '../../activities/email/index.ts';
import { GmailMailProvider } from '../../activities/email/gmail.ts';
import { startMailSimulator, type MailSimulator, type MailSimulatorOptions } from '../../simulators/mail/index.ts';
import { providerSuite } from './provider-suite.ts';

// Gmail runs over plain HTTP here; the Graph tests cover HTTPS.
async function startGmail(options: MailSimulatorOptions = {}) {
  const sim = await startMailSimulator(options);
  const create = (overrides: Partial<GoogleWorkspaceConfig> = {}, runtime: ProviderRuntimeOptions = {}) =>
    new GmailMailProvider(
      {
        kind: 'googleWorkspace',
        serviceAccountKeyRef: 'email/test',
        tokenUrl: sim.googleTokenUrl,
        rootUrl: sim.gmailRootUrl,
        ...overrides,
      },
      JSON.stringify(sim.googleServiceAccountKey),
      runtime,
    );
  return { sim, create };
}

providerSuite('Gmail', async () => {
  const { sim, create } = await startGmail();
  return {
    sim,
    api: 'gmail',
    softDeletedFolder: 'deleteditems',
    quarantineFolder: 'junkemail',
    createProvider: (options = {}) => create(options.domains ? { domains: options.domains } : {}, options.runtime),
    close: () => sim.close(),
  };
});

describe('Gmail provider specifics', () => {
  let sim: MailSimulator;
  let create: Awaited<ReturnType<typeof startGmail>>['create'];

  before(
    async () =>
      ({ sim, create } = await startGmail({ googleDelegatedScopes: ['https://www.googleapis.com/auth/gmail.modify'] })),
  );
  after(() => sim.close());

  it('names the scope when delegation is missing', async () => {
    sim.addMessage('hard@corp.example', { internetMessageId: '<hard@x>' });
    await assert.rejects(
      create().findAndRemove('hard@corp.example', '<hard@x>', 'hardDelete'),
      (err: unknown) =>
        err instanceof EmailProviderConfigError &&
        err.code === 'delegation_missing' &&
        err.message.includes('https://mail.google.com/'),
    );
  });

  it('lists with spam and trash included', async () => {
    sim.addMessage('trash@corp.example', { internetMessageId: '<in-trash@x>', folder: 'deleteditems' });
    const result = await create().findAndRemove('trash@corp.example', '<in-trash@x>', 'dryRun');
    assert.equal(result.found, 1);
    const list = sim.requestLog.find((entry) => entry.mailbox === 'trash@corp.example');
    assert.match(list?.url ?? '', /includeSpamTrash=true/);
    assert.match(list?.url ?? '', /q=rfc822msgid%3A%3Cin-trash%40x%3E/);
  });

  it('rejects a key that is not JSON', () => {
    assert.throws(
      () => new GmailMailProvider({ kind: 'googleWorkspace', serviceAccountKeyRef: 'k' }, 'not json'),
      (err: unknown) => err instanceof EmailProviderConfigError && err.code === 'invalid_config',
    );
  });
});
