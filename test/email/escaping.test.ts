import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  gmailMessageIdQuery,
  graphMessageIdFilter,
  isInDomains,
  normalizeMessageId,
} from '../../activities/email/message-id.ts';
import { parseRetryAfter } from '../../activities/email/retry-after.ts';
import { redactSecret } from '../../activities/email/graph-token.ts';

describe('graphMessageIdFilter', () => {
  it('doubles quotes and encodes reserved characters', () => {
    const encoded = graphMessageIdFilter("<o'hara+1/2=3#4&5%26@x>");
    assert.equal(decodeURIComponent(encoded), "internetMessageId eq '<o''hara+1/2=3#4&5%26@x>'");
    for (const raw of ['+', '#', '&', '<', '>', ' ']) assert.ok(!encoded.includes(raw), `${raw} left unencoded`);
  });
});

describe('gmailMessageIdQuery', () => {
  it('leaves the id unencoded for googleapis', () => {
    assert.equal(gmailMessageIdQuery('<a+b@x>'), 'rfc822msgid:<a+b@x>');
  });
});

describe('normalizeMessageId', () => {
  it('wraps in one pair of brackets', () => {
    assert.equal(normalizeMessageId(' a@x '), '<a@x>');
    assert.equal(normalizeMessageId('<<a@x>>'), '<a@x>');
  });
});

describe('isInDomains', () => {
  it('compares domains case-insensitively', () => {
    assert.equal(isInDomains('A@Corp.Example', ['corp.example']), true);
    assert.equal(isInDomains('a@partner.example', ['corp.example']), false);
    assert.equal(isInDomains('a@anything.example', undefined), true);
  });
});

describe('parseRetryAfter', () => {
  it('reads whole and decimal seconds', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter('0.249'), 249);
  });

  it('reads an HTTP date', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
  });

  it('returns null for missing or bad values', () => {
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter(''), null);
    assert.equal(parseRetryAfter('soon'), null);
  });
});

describe('redactSecret', () => {
  it('removes plain and form-encoded secrets', () => {
    const secret = 'a+b/c=d&e f~';
    const echoed = `client_secret=${new URLSearchParams({ s: secret }).toString().slice(2)} raw=${secret} uri=${encodeURIComponent(secret)}`;
    const redacted = redactSecret(echoed, secret);
    assert.equal(redacted, 'client_secret=[secret] raw=[secret] uri=[secret]');
  });
});
