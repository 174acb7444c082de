import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TapResponseError } from '../../activities/tap/errors.ts';
import {
  canonicalJson,
  normalizeMessageId,
  normalizeTimestamp,
  parseSiemResponse,
} from '../../activities/tap/parse.ts';
import type { TapClickEvent, TapEvent, TapMessageEvent } from '../../activities/tap/types.ts';

const fixtures = new URL('../fixtures/tap/', import.meta.url);
const readFixture = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8');

function messages(events: TapEvent[]): TapMessageEvent[] {
  return events.filter((event): event is TapMessageEvent => event.type.startsWith('messages'));
}

function clicks(events: TapEvent[]): TapClickEvent[] {
  return events.filter((event): event is TapClickEvent => event.type.startsWith('clicks'));
}

describe('parseSiemResponse on every response fixture', () => {
  const responseFiles = readdirSync(fixtures).filter((file) => file.endsWith('.json') && !file.startsWith('10-'));

  for (const file of responseFiles) {
    test(`${file} keeps every event`, () => {
      const text = readFixture(file);
      const raw = JSON.parse(text) as Record<string, unknown>;
      const batch = parseSiemResponse(text);

      let rawCount = 0;
      for (const type of ['messagesDelivered', 'messagesBlocked', 'clicksPermitted', 'clicksBlocked']) {
        const list = raw[type];
        if (Array.isArray(list)) rawCount += list.length;
        else if (list !== null && list !== undefined) rawCount += 1;
      }
      assert.equal(batch.events.length + batch.invalid.length, rawCount);
      assert.equal(batch.queryEndTime, new Date(raw.queryEndTime as string).toISOString());

      const keys = batch.events.map((event) => event.key);
      assert.equal(new Set(keys).size, keys.length, 'idempotency keys are unique');
      for (const event of batch.events) {
        assert.match(event.eventTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        assert.ok(event.messageId === '' || /^<[^<>]/.test(event.messageId), `messageId ${event.messageId}`);
      }
    });
  }

  test('parsed Buffer equals parsed string and object', () => {
    const text = readFixture('01-all-mixed.json');
    const fromString = parseSiemResponse(text);
    assert.deepEqual(parseSiemResponse(Buffer.from(text)), fromString);
    assert.deepEqual(parseSiemResponse(JSON.parse(text)), fromString);
  });
});

describe('real v2 dialect', () => {
  test('01-all-mixed fields', () => {
    const batch = parseSiemResponse(readFixture('01-all-mixed.json'));
    assert.equal(batch.invalid.length, 0);
    assert.deepEqual(
      batch.events.map((event) => event.type),
      ['messagesDelivered', 'messagesBlocked', 'clicksPermitted', 'clicksBlocked'].filter((type) =>
        batch.events.some((event) => event.type === type),
      ),
    );

    const delivered = messages(batch.events).find((event) => event.type === 'messagesDelivered')!;
    assert.equal(
      delivered.key,
      'messagesDelivered:Qm3xT9vKp2LrW8zA4cYdN6hJ0sFbE1uG:3f6c1a2e-8b4d-4e7f-a1c9-2d5e6f7a8b90',
    );
    assert.equal(delivered.messageId, '<20250602091512.4471.ap@invoices.example.net>');
    assert.deepEqual(delivered.recipients, ['dana.lee@example.com']);
    assert.equal(delivered.eventTime, '2025-06-02T09:15:14.000Z');
    assert.equal(delivered.cluster, 'examplecorp_hosted');
    assert.equal(delivered.qid, '45HKL2Xa019872');
    assert.equal(delivered.senderIp, '198.51.100.23');
    assert.deepEqual(delivered.warnings, []);
    assert.equal(delivered.threats.length, 1);
    assert.equal(delivered.threats[0]!.classification, 'phish');
    assert.equal(delivered.threats[0]!.threatStatus, 'active');
    assert.equal(delivered.threats[0]!.threatTime, '2025-06-02T09:41:07.000Z');
    assert.equal(delivered.raw.completelyRewritten, true, 'fields outside the type stay in raw');

    const blocked = messages(batch.events).find((event) => event.type === 'messagesBlocked')!;
    assert.equal(blocked.quarantineFolder, 'Attachment Defense');
    assert.equal(blocked.threats[0]!.threatType, 'attachment');
    assert.equal(blocked.threats[0]!.campaignId, '6b1f0c2d-93a4-4e57-8f20-1c3d5e7a9b42');

    const click = clicks(batch.events).find((event) => event.type === 'clicksPermitted')!;
    assert.equal(click.key, `clicksPermitted:${click.id}`);
    assert.equal(click.guid, delivered.guid);
    assert.equal(click.threat.threat, click.url);
    assert.match(click.threat.threatUrl ?? '', /^https:\/\/threatinsight\.proofpoint\.com\//);
  });

  test('multi-recipient message yields distinct events', () => {
    const batch = parseSiemResponse(readFixture('03-delivered-phish-multi-recipient.json'));
    const events = messages(batch.events);
    assert.ok(events.length >= 2);
    assert.equal(new Set(events.map((event) => event.guid)).size, 1, 'one GUID');
    assert.equal(new Set(events.map((event) => event.key)).size, events.length, 'one key per event');
    assert.equal(new Set(events.map((event) => event.messageId)).size, 1);
    assert.ok(
      events.some((event) => event.recipients.length === 2),
      'an event may name two recipients',
    );
    assert.deepEqual(events[0]!.ccAddresses, ['team-leads@example.com', 'jo.berg@example.com']);
    assert.deepEqual(events[0]!.replyToAddress, ['hr-desk@example.org']);
  });

  test('cleared and falsePositive statuses', () => {
    const cleared = messages(parseSiemResponse(readFixture('04-delivered-malware-attachment-cleared.json')).events);
    assert.equal(cleared[0]!.threats[0]!.threatStatus, 'cleared');

    const falsePositive = parseSiemResponse(readFixture('05-false-positive.json')).events;
    assert.deepEqual(
      falsePositive.map(
        (event) =>
          (event.type.startsWith('clicks') ? (event as TapClickEvent).threat : (event as TapMessageEvent).threats[0]!)
            .threatStatus,
      ),
      ['falsePositive', 'falsePositive'],
    );
  });

  test('IPv6 clickIP and per-endpoint body', () => {
    const batch = parseSiemResponse(readFixture('06-clicks-permitted-and-blocked.json'));
    assert.equal(clicks(batch.events)[0]!.clickIp, '2001:db8:4f1::2a');
    assert.equal(batch.events.length, 4);

    const perEndpoint = parseSiemResponse(readFixture('02b-clicks-blocked-empty.json'));
    assert.deepEqual(perEndpoint, { queryEndTime: '2025-06-02T11:00:00.000Z', events: [], invalid: [] });
  });
});

describe('older documentation dialect', () => {
  const batch = parseSiemResponse(readFixture('20-older-dialect.json'));
  const message = messages(batch.events)[0]!;
  const click = clicks(batch.events)[0]!;

  test('renamed fields map to one shape', () => {
    assert.equal(batch.invalid.length, 0);
    assert.equal(message.cluster, 'pharmtech_hosted', 'clusterId');
    assert.deepEqual(message.fromAddress, ['badguy@evil.zz'], 'fromAddress as a string');
    assert.equal(message.threats[0]!.threatId, '2fab740f143fc1aa4c1cd0146d334c5593b1428f6d062b2c406e5efe8abe95ca');
    assert.equal(message.threats[0]!.campaignId, '46e01b8a-c899-404d-bcd9-189bb393d1a7');
    assert.deepEqual(message.recipients, ['clark.kent@pharmtech.zz', 'diana.prince@pharmtech.zz']);
    assert.equal(message.raw.completelyRewritten, 'true', 'the string stays as sent in raw');
    assert.ok('headerTo' in message.raw, 'fields of the older dialect stay in raw');
  });

  test('upper-case enumerations are lower-cased', () => {
    assert.equal(message.threats[0]!.classification, 'malware');
    assert.equal(message.threats[0]!.threatStatus, 'active');
    assert.equal(message.threats[0]!.threatType, 'attachment');
    assert.equal(message.threats[1]!.threatType, 'url');
    assert.equal(click.threat.classification, 'malware');
  });

  test('threat without threatStatus is unknown', () => {
    assert.equal(message.threats[1]!.threatStatus, 'unknown');
    assert.ok(message.warnings.some((warning) => warning.includes('threatStatus')));
    assert.equal(click.threat.threatStatus, 'unknown');
  });

  test('timestamps without milliseconds and bare messageID', () => {
    assert.equal(message.eventTime, '2016-06-24T21:18:38.000Z');
    assert.equal(message.threats[0]!.threatTime, '2016-06-24T21:18:38.000Z');
    assert.equal(message.messageId, '<20160624211145.62086.mail@evil.zz>');
    assert.equal(click.threat.threatUrl, click.raw.threatURL);
    assert.equal(click.recipient, 'clark.kent@pharmtech.zz');
  });
});

describe('odd cases', () => {
  const batch = parseSiemResponse(readFixture('21-odd-cases.json'));
  const byGuid = (guid: string) => batch.events.filter((event) => event.guid === guid);

  test('invalid events are kept with reasons', () => {
    const reasons = batch.invalid.map((invalid) => `${invalid.type}: ${invalid.reason}`);
    assert.deepEqual(reasons, [
      'messagesDelivered: GUID is missing or empty',
      'messagesDelivered: messageTime "yesterday" is not an ISO-8601 timestamp',
      'messagesDelivered: event is a number, not an object',
      'messagesDelivered: event is null, not an object',
      'clicksBlocked: clicksBlocked is an object, not an array',
    ]);
    assert.equal(batch.invalid[2]!.raw, 42);
  });

  test('nulls become empty values', () => {
    const [event] = byGuid('Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa').filter(
      (e) => e.type === 'messagesDelivered',
    ) as TapMessageEvent[];
    assert.ok(event);
    assert.equal(event.qid, null);
    assert.equal(event.sender, '');
    assert.equal(event.senderIp, '');
    assert.deepEqual(event.toAddresses, []);
    assert.deepEqual(event.fromAddress, []);
    assert.deepEqual(event.policyRoutes, []);
    assert.equal(event.cluster, null);
    assert.equal(event.phishScore, null);
    assert.equal(event.spamScore, 17, 'numeric string read as a number');
    assert.equal(event.impostorScore, 0);
    assert.deepEqual(event.recipients, ['single.string@example.com'], 'recipient as a string in a message');
    assert.equal(event.eventTime, '2025-06-06T11:02:03.123Z', 'offset and microseconds');
    assert.deepEqual(event.raw.futureField, { nested: [1, 2, 3] });
  });

  test('empty messageID is flagged', () => {
    const [event] = byGuid('Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa');
    assert.equal(event!.messageId, '');
    assert.ok(event!.warnings.includes('messageID is empty'));
  });

  test('unknown classification and expired status', () => {
    const [event] = byGuid('Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa') as TapMessageEvent[];
    assert.equal(event!.threats.length, 1, 'a non-object threat is skipped');
    assert.equal(event!.threats[0]!.classification, 'unknown');
    assert.equal(event!.threats[0]!.threatStatus, 'expired');
    assert.equal(event!.threats[0]!.threatTime, null);
    assert.ok(event!.warnings.some((warning) => warning.startsWith('threatsInfoMap[1] is a string')));
  });

  test('events without id get distinct hash keys', () => {
    const events = byGuid('Od2Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Bb') as TapMessageEvent[];
    assert.equal(events.length, 2);
    for (const event of events) {
      assert.equal(event.id, null);
      assert.match(event.key, /^messagesDelivered:sha256:[0-9a-f]{64}$/);
      assert.equal(event.messageId, '<double.brackets@example.net>');
    }
    assert.notEqual(events[0]!.key, events[1]!.key);
    assert.equal(events[0]!.threats[0]!.threatStatus, 'falsePositive');
    assert.equal(events[0]!.threats[0]!.threatTime, '2025-06-06T11:06:00.500Z');
    assert.ok(events[1]!.warnings.includes('message has no threats in threatsInfoMap'));
  });

  test('hash key ignores key order and messageParts order', () => {
    const event = { GUID: 'g', messageTime: '2025-06-06T11:05:00Z', messageParts: [{ a: 1, b: 2 }, { c: 3 }] };
    const reordered = { messageParts: [{ c: 3 }, { b: 2, a: 1 }], messageTime: '2025-06-06T11:05:00Z', GUID: 'g' };
    const first = parseSiemResponse({ messagesDelivered: [event] }).events[0]!;
    const second = parseSiemResponse({ messagesDelivered: [reordered] }).events[0]!;
    assert.equal(first.key, second.key);
    assert.equal(canonicalJson(event), canonicalJson(reordered));
  });

  test('click with array recipient and mixed-case fields', () => {
    const click = clicks(batch.events)[0]!;
    assert.equal(click.recipient, 'array.clicker@example.com');
    assert.ok(click.warnings.some((warning) => warning.startsWith('recipient has 2 entries')));
    assert.equal(click.messageId, '');
    assert.equal(click.threat.threatId, 'aa11000000000000000000000000000000000000000000000000000000000001');
    assert.equal(click.threat.threatStatus, 'active');
    assert.equal(click.threat.classification, 'phish');
    assert.equal(click.threat.campaignId, 'c0000000-0000-4000-a000-000000000001');
    assert.equal(click.clickIp, '');
    assert.equal(click.userAgent, '');
  });

  test('messagesBlocked null reads as empty', () => {
    assert.equal(batch.events.filter((event) => event.type === 'messagesBlocked').length, 0);
    assert.ok(!batch.invalid.some((invalid) => invalid.type === 'messagesBlocked'));
  });
});

describe('whole-body cases', () => {
  test('empty body is a quiet window', () => {
    for (const body of ['', '  \n', Buffer.alloc(0)]) {
      assert.deepEqual(parseSiemResponse(body), { queryEndTime: null, events: [], invalid: [] });
    }
  });

  test('non-JSON body throws TapResponseError', () => {
    assert.throws(() => parseSiemResponse('<html>maintenance</html>'), TapResponseError);
    assert.throws(() => parseSiemResponse('{"queryEndTime":"2025-06-02T10:00:00Z","messagesDelivered":[{"GU'), {
      name: 'TapResponseError',
      code: 'TAP_INVALID_RESPONSE',
    });
  });

  test('JSON that is not an object throws', () => {
    assert.throws(() => parseSiemResponse('[]'), /an array where an object/);
    assert.throws(() => parseSiemResponse('null'), TapResponseError);
  });

  test('invalid queryEndTime is reported', () => {
    const batch = parseSiemResponse({ queryEndTime: 'soon', messagesDelivered: [] });
    assert.equal(batch.queryEndTime, null);
    assert.equal(batch.invalid.length, 1);
  });
});

describe('normalizeMessageId', () => {
  const cases: Array<[unknown, string]> = [
    ['<a@b>', '<a@b>'],
    ['a@b', '<a@b>'],
    ['  <a@b>  ', '<a@b>'],
    ['<<a@b>>', '<a@b>'],
    ['< a@b >', '<a@b>'],
    ['<a@b', '<a@b>'],
    ['', ''],
    ['   ', ''],
    ['<>', ''],
    [null, ''],
    [undefined, ''],
    [42, ''],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input) ?? 'undefined'} becomes ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizeMessageId(input), expected);
    });
  }
});

describe('normalizeTimestamp', () => {
  const cases: Array<[unknown, string | null]> = [
    ['2025-06-02T10:00:00Z', '2025-06-02T10:00:00.000Z'],
    ['2025-06-02T10:00:00.020Z', '2025-06-02T10:00:00.020Z'],
    ['2025-06-02T10:00:00.1234567Z', '2025-06-02T10:00:00.123Z'],
    ['2016-05-01T05:00:00-0700', '2016-05-01T12:00:00.000Z'],
    ['2016-05-01T05:00:00+02:00', '2016-05-01T03:00:00.000Z'],
    ['2025-06-02T10:00:00', '2025-06-02T10:00:00.000Z'],
    ['2025-13-02T10:00:00Z', null],
    ['June 2', null],
    [1717322400000, null],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)}`, () => assert.equal(normalizeTimestamp(input), expected));
  }
});
