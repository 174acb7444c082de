/**
 * Behaviour every mail provider must show, run once per provider against the mail simulator
 * over real HTTP on 127.0.0.1. Each test uses its own mailboxes, so one simulator serves the
 * whole suite.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { MailRetryLaterError, type MailProvider, type ProviderRuntimeOptions } from '../../activities/email/index.ts';
import type { MailSimulator } from '../../simulators/mail/index.ts';

/** What the suite needs from one provider. */
export interface ProviderHarness {
  sim: MailSimulator;
  /** `graph` or `gmail`: the API name in the simulator's request log and faults. */
  api: 'graph' | 'gmail';
  /** Folder a soft-deleted copy ends in: Recoverable Items for Graph, Trash for Gmail. */
  softDeletedFolder: string;
  /** Folder a quarantined copy ends in with the default configuration. */
  quarantineFolder: string;
  createProvider(options?: { runtime?: ProviderRuntimeOptions; domains?: string[] }): MailProvider;
  close(): Promise<void>;
}

/** A Message-ID with every character that breaks naive escaping: `' + / = # & % < >`. */
export const TRICKY_MESSAGE_ID = "<o'hara+1/2=3#4&5%26<x>@evil.example>";

let counter = 0;

/** Returns a new address for one test, so tests never share a mailbox. */
function mailbox(name: string): string {
  counter += 1;
  return `${name}.${counter}@corp.example`;
}

/** Registers the shared behavioural tests for the provider that `setup` builds. */
export function providerSuite(name: string, setup: () => Promise<ProviderHarness>): void {
  describe(`${name} provider`, () => {
    let harness: ProviderHarness;
    let provider: MailProvider;

    before(async () => {
      harness = await setup();
      provider = harness.createProvider();
    });
    afterEach(() => harness.sim.clearFaults());
    after(() => harness.close());

    const live = (address: string, messageId: string) =>
      harness.sim
        .listMessages(address)
        .filter((m) => m.internetMessageId === messageId && m.folder !== harness.softDeletedFolder);

    it('deletes from the recipients and no other mailbox', async () => {
      const { sim } = harness;
      const messageId = '<phish-1@attacker.example>';
      const recipients = [mailbox('alice'), mailbox('bob'), mailbox('carol')];
      const bystander = mailbox('dave');
      for (const address of [...recipients, bystander])
        sim.addMessage(address, { internetMessageId: messageId, subject: 'Invoice' });
      sim.addMessage(recipients[0]!, { internetMessageId: '<legit@partner.example>', subject: 'Lunch' });

      const { results, deferred } = await provider.findAndRemoveMany(recipients, messageId, 'softDelete');

      assert.deepEqual(deferred, []);
      assert.deepEqual(
        results.map((r) => [r.recipient, r.outcome, r.copies]).sort(),
        recipients.map((r) => [r, 'deleted', 1]).sort(),
      );
      for (const address of recipients)
        assert.equal(live(address, messageId).length, 0, `${address} still has the message`);
      assert.equal(live(bystander, messageId).length, 1, 'the bystander lost its copy');
      assert.equal(live(recipients[0]!, '<legit@partner.example>').length, 1, 'another message was removed');
    });

    it('removes every copy in one mailbox', async () => {
      const { sim } = harness;
      const messageId = '<phish-copies@attacker.example>';
      const address = mailbox('erin');
      for (const folder of ['inbox', 'junkemail', 'inbox'])
        sim.addMessage(address, { internetMessageId: messageId, folder });

      const result = await provider.findAndRemove(address, messageId, 'softDelete');

      assert.equal(result.outcome, 'deleted');
      assert.equal(result.copies, 3);
      assert.equal(result.found, 3);
      assert.equal(live(address, messageId).length, 0);
    });

    it('matches a Message-ID with special characters exactly', async () => {
      const { sim } = harness;
      const address = mailbox('frank');
      // Decoys are what a wrongly encoded filter would match: `+` read as space, `#` ending the URL, `%26` decoded.
      const decoys = [
        "<o'hara 1/2=3#4&5%26<x>@evil.example>",
        "<o'hara+1/2=3>",
        "<o'hara+1/2=3#4&5&<x>@evil.example>",
        "<o'hara+1/2=3#4&5%26<x>@evil.example.org>",
      ];
      sim.addMessage(address, { internetMessageId: TRICKY_MESSAGE_ID });
      for (const decoy of decoys) sim.addMessage(address, { internetMessageId: decoy });

      const result = await provider.findAndRemove(address, TRICKY_MESSAGE_ID, 'softDelete');

      assert.equal(result.outcome, 'deleted');
      assert.equal(result.copies, 1);
      assert.equal(live(address, TRICKY_MESSAGE_ID).length, 0);
      for (const decoy of decoys) assert.equal(live(address, decoy).length, 1, `decoy ${decoy} was removed`);
    });

    it('retries after a decimal Retry-After', async () => {
      const { sim, api } = harness;
      const messageId = '<phish-throttle@attacker.example>';
      const address = mailbox('grace');
      sim.addMessage(address, { internetMessageId: messageId });
      sim.setFault({ kind: 'throttle', api, mailbox: address, times: 2, retryAfter: '0.3' });
      const started = Date.now();

      const result = await provider.findAndRemove(address, messageId, 'softDelete');

      assert.equal(result.outcome, 'deleted');
      const throttled = sim.requestLog.filter((entry) => entry.mailbox === address && entry.status === 429);
      assert.equal(throttled.length, 2);
      assert.ok(Date.now() - started >= 600, 'the provider did not wait for Retry-After');
    });

    it('defers a recipient when Retry-After is long', async () => {
      const { sim, api } = harness;
      const messageId = '<phish-long-throttle@attacker.example>';
      const address = mailbox('heidi');
      sim.addMessage(address, { internetMessageId: messageId });
      sim.setFault({ kind: 'throttle', api, mailbox: address, retryAfter: '120' });

      const { results, deferred } = await provider.findAndRemoveMany([address], messageId, 'softDelete');
      assert.deepEqual(results, []);
      assert.equal(deferred[0]?.code, 'throttled');
      assert.equal(deferred[0]?.retryAfterMs, 120_000);

      await assert.rejects(
        provider.findAndRemove(address, messageId, 'softDelete'),
        (err: unknown) => err instanceof MailRetryLaterError && err.retryAfterMs === 120_000,
      );
      assert.equal(live(address, messageId).length, 1);
    });

    it('fails a recipient without permission', async () => {
      const { sim, api } = harness;
      const messageId = '<phish-403@attacker.example>';
      const address = mailbox('ivan');
      sim.addMessage(address, { internetMessageId: messageId });
      sim.setFault({ kind: 'permissionMissing', api, mailbox: address });

      const result = await provider.findAndRemove(address, messageId, 'softDelete');

      assert.equal(result.outcome, 'failed');
      assert.equal(result.code, 'permission_missing');
      assert.match(result.reason ?? '', /access denied/);
      assert.equal(live(address, messageId).length, 1);
    });

    it('skips an unknown user', async () => {
      const result = await provider.findAndRemove(mailbox('nobody'), '<phish-404@attacker.example>', 'softDelete');

      assert.equal(result.outcome, 'skipped');
      assert.equal(result.code, 'mailbox_not_found');
    });

    it('skips a mailbox not enabled for the API', async () => {
      const address = mailbox('judy');
      harness.sim.addMailbox(address, { enabled: false });

      const result = await provider.findAndRemove(address, '<phish-disabled@attacker.example>', 'softDelete');

      assert.equal(result.outcome, 'skipped');
      assert.equal(result.code, 'mailbox_not_enabled');
    });

    it('skips recipients outside the organization domains', async () => {
      const external = 'victim@partner.example';
      harness.sim.addMessage(external, { internetMessageId: '<phish-ext@attacker.example>' });
      const scoped = harness.createProvider({ domains: ['corp.example'] });

      const result = await scoped.findAndRemove(external, '<phish-ext@attacker.example>', 'softDelete');

      assert.equal(result.outcome, 'skipped');
      assert.equal(result.code, 'external_domain');
      assert.equal(live(external, '<phish-ext@attacker.example>').length, 1);
    });

    it('dry run changes nothing', async () => {
      const { sim } = harness;
      const messageId = '<phish-dry@attacker.example>';
      const address = mailbox('karl');
      sim.addMessage(address, { internetMessageId: messageId });
      sim.addMessage(address, { internetMessageId: messageId, folder: 'junkemail' });
      const before = sim.listMessages(address);

      const result = await provider.findAndRemove(address, messageId, 'dryRun');

      assert.equal(result.outcome, 'skipped');
      assert.equal(result.code, 'dry_run');
      assert.equal(result.found, 2);
      assert.equal(result.copies, 0);
      assert.deepEqual(sim.listMessages(address), before);
    });

    it('counts copies removed by an earlier attempt', async () => {
      const address = mailbox('liam');
      const other = mailbox('mia');
      const messageId = '<phish-retry@attacker.example>';
      harness.sim.addMailbox(address);
      harness.sim.addMailbox(other);

      const result = await provider.findAndRemove(address, messageId, 'hardDelete', {
        copiesRemovedEarlier: { [address]: 2 },
      });
      const untouched = await provider.findAndRemove(other, messageId, 'hardDelete');

      assert.equal(result.outcome, 'deleted');
      assert.equal(result.copies, 2);
      assert.equal(untouched.outcome, 'not_found');
    });

    it('hard delete removes the message for good', async () => {
      const { sim } = harness;
      const messageId = '<phish-hard@attacker.example>';
      const address = mailbox('nina');
      sim.addMessage(address, { internetMessageId: messageId });
      sim.addMessage(address, { internetMessageId: messageId, folder: 'deleteditems' });

      const result = await provider.findAndRemove(address, messageId, 'hardDelete');

      assert.equal(result.outcome, 'deleted');
      assert.equal(result.copies, 2);
      assert.deepEqual(sim.listMessages(address), []);
    });

    it('quarantine moves each copy once', async () => {
      const { sim } = harness;
      const messageId = '<phish-quarantine@attacker.example>';
      const address = mailbox('oscar');
      sim.addMessage(address, { internetMessageId: messageId });

      const first = await provider.findAndRemove(address, messageId, 'quarantine');
      const second = await provider.findAndRemove(address, messageId, 'quarantine');

      assert.equal(first.outcome, 'deleted');
      assert.equal(first.copies, 1);
      assert.equal(second.outcome, 'deleted', 'a copy already in quarantine counts as removed');
      assert.deepEqual(
        sim.listMessages(address).map((m) => m.folder),
        [harness.quarantineFolder],
      );
    });

    it('stays within the mailbox concurrency limit', async () => {
      const { sim, api } = harness;
      const messageId = '<phish-many-copies@attacker.example>';
      const address = mailbox('peggy');
      for (let i = 0; i < 30; i++) sim.addMessage(address, { internetMessageId: messageId });

      const result = await provider.findAndRemove(address, messageId, 'softDelete');

      assert.equal(result.outcome, 'deleted');
      assert.equal(result.copies, 30);
      assert.ok((sim.peakConcurrency.get(`${api}:${address}`) ?? 0) <= 4);
      assert.equal(sim.requestLog.filter((entry) => entry.mailbox === address && entry.status === 429).length, 0);
    });
  });
}
