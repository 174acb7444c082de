/**
 * TAP simulator rules over raw HTTP on 127.0.0.1, the generator's shapes, and a 50,000-event
 * window fetched by the client.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TapClient } from '../../activities/tap/client.ts';
import type { TapClickEvent, TapMessageEvent } from '../../activities/tap/types.ts';
import { generateTapEvents } from '../../simulators/tap/generator.ts';
import { startTapSimulator, type TapSimulator } from '../../simulators/tap/server.ts';

const NOW = new Date('2025-06-05T09:00:00.000Z');
const fixture = (name: string) => new URL(`../fixtures/tap/${name}`, import.meta.url).pathname;

describe('simulator request rules', () => {
  let simulator: TapSimulator;
  let folder: string;
  const get = (query: string, path = '/v2/siem/all', auth?: string) =>
    fetch(`${simulator.url}${path}?${query}`, {
      headers: { authorization: auth ?? `Basic ${Buffer.from('scenario-user:scenario-secret').toString('base64')}` },
    });

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tap-scenario-'));
    copyFileSync(fixture('05-false-positive.json'), join(folder, '05.json'));
    copyFileSync(fixture('06-clicks-permitted-and-blocked.json'), join(folder, '06.json'));
    writeFileSync(
      join(folder, 'scenario.json'),
      JSON.stringify({ principal: 'scenario-user', secret: 'scenario-secret' }),
    );
    writeFileSync(
      join(folder, 'extra.jsonl'),
      '# one click, created 08:30\n' +
        JSON.stringify({
          type: 'clicksPermitted',
          event: { GUID: 'g1', id: 'i1', clickTime: '2025-06-05T08:30:00Z', threatStatus: 'active' },
        }) +
        '\n',
    );
    simulator = await startTapSimulator({ scenarioPath: folder, now: () => NOW });
  });
  after(async () => {
    await simulator.close();
    rmSync(folder, { recursive: true });
  });

  test('scenario folder sets credentials and events', async () => {
    assert.equal(simulator.principal, 'scenario-user');
    assert.equal(simulator.eventCount(), 7);
    const wrong = await get(
      'format=json&sinceSeconds=60',
      '/v2/siem/all',
      `Basic ${Buffer.from('tap-sim-principal:tap-sim-secret').toString('base64')}`,
    );
    assert.equal(wrong.status, 401);
  });

  test('format defaults to syslog', async () => {
    const quiet = await get('sinceSeconds=60');
    assert.equal(quiet.status, 204);
    const busy = await get('interval=2025-06-05T07:00:00Z/2025-06-05T08:00:00Z');
    assert.equal(busy.status, 200);
    const text = await busy.text();
    assert.match(text, /^clicksPermitted \{/m, 'one line per event');
    assert.throws(() => JSON.parse(text) as unknown, SyntaxError);
  });

  test('JSON quiet window has empty arrays', async () => {
    const response = await get('format=JSON&interval=2025-06-05T05:00:00Z/2025-06-05T05:30:00Z');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      queryEndTime: '2025-06-05T05:30:00Z',
      messagesDelivered: [],
      messagesBlocked: [],
      clicksPermitted: [],
      clicksBlocked: [],
    });
  });

  test('per-endpoint arrays', async () => {
    const window = 'format=json&interval=2025-06-05T07:00:00Z/2025-06-05T08:00:00Z';
    const expected: Record<string, string[]> = {
      '/v2/siem/clicks/blocked': ['queryEndTime', 'clicksBlocked'],
      '/v2/siem/clicks/permitted': ['queryEndTime', 'clicksPermitted'],
      '/v2/siem/messages/blocked': ['queryEndTime', 'messagesBlocked'],
      '/v2/siem/messages/delivered': ['queryEndTime', 'messagesDelivered'],
      '/v2/siem/issues': ['queryEndTime', 'messagesDelivered', 'clicksPermitted'],
    };
    for (const [path, keys] of Object.entries(expected)) {
      const body = (await (await get(window, path)).json()) as Record<string, unknown[]>;
      assert.deepEqual(Object.keys(body), keys, path);
    }
    const blocked = (await (await get(window, '/v2/siem/clicks/blocked')).json()) as { clicksBlocked: unknown[] };
    assert.equal(blocked.clicksBlocked.length, 2);
  });

  test('exactly one time selector', async () => {
    assert.equal((await get('format=json')).status, 400);
    const both = await get('format=json&sinceSeconds=60&sinceTime=2025-06-05T08:00:00Z');
    assert.equal(both.status, 400);
    assert.match(await both.text(), /Exactly one of interval, sinceTime or sinceSeconds/);
  });

  test('interval limits use TAP texts', async () => {
    const short = await get('format=json&interval=2025-06-05T08:00:00Z/2025-06-05T08:00:07Z');
    assert.equal(short.status, 400);
    assert.equal(
      await short.text(),
      'The requested interval is too short. Requests must be for at least 30.00s of data',
    );
    const long = await get('format=json&interval=2025-06-05T06:00:00Z/2025-06-05T08:00:00Z');
    assert.equal(long.status, 400);
    assert.match(await long.text(), /too long/);
    const old = await get('format=json&interval=2025-05-28T08:00:00Z/2025-05-28T09:00:00Z');
    assert.equal(
      await old.text(),
      'The requested start time is too far into the past. Requests for information up to 7.00d are accepted',
    );
    assert.equal((await get('format=json&interval=PT30M/2025-06-05T08:00:00Z')).status, 200);
    assert.equal((await get('format=json&interval=2025-06-05T00:00:00-0700/PT30M')).status, 200);
  });

  test('sinceTime ends at the rounded server time', async () => {
    const body = (await (await get('format=json&sinceTime=2025-06-05T08:20:00Z')).json()) as Record<string, unknown[]>;
    assert.equal(body.queryEndTime, '2025-06-05T09:00:00Z');
    assert.equal(body.clicksPermitted!.length, 1, 'the click of the JSON-lines stream');
  });

  test('falsePositive only when asked', async () => {
    const window = 'format=json&interval=2025-06-04T10:00:00Z/2025-06-04T11:00:00Z';
    const byDefault = (await (await get(window)).json()) as Record<string, unknown[]>;
    assert.equal(byDefault.messagesDelivered!.length, 0);
    const asked = (await (await get(`${window}&threatStatus=falsePositive`)).json()) as Record<string, unknown[]>;
    assert.equal(asked.messagesDelivered!.length, 1);
    assert.equal(asked.clicksPermitted!.length, 1);
  });

  test('admin endpoint adds events', async () => {
    const line = JSON.stringify({
      type: 'clicksBlocked',
      event: { GUID: 'g2', id: 'i2', clickTime: '2025-06-05T08:40:00Z', threatStatus: 'active' },
    });
    const response = await fetch(`${simulator.url}/__admin/events`, { method: 'POST', body: line });
    assert.equal(response.status, 201);
    const state = (await (await fetch(`${simulator.url}/__admin/state`)).json()) as { events: number };
    assert.equal(state.events, 8);
  });

  test('unknown path and method', async () => {
    assert.equal((await get('format=json&sinceSeconds=60', '/v2/siem/everything')).status, 404);
    const post = await fetch(`${simulator.url}/v2/siem/all?sinceSeconds=60`, { method: 'POST' });
    assert.equal(post.status, 405);
  });
});

describe('generator', () => {
  const end = new Date('2025-06-05T09:00:00Z');
  const start = new Date('2025-06-05T08:00:00Z');

  test('same seed gives the same events', () => {
    assert.deepEqual(
      generateTapEvents({ count: 300, seed: 7, start, end }),
      generateTapEvents({ count: 300, seed: 7, start, end }),
    );
    assert.notDeepEqual(
      generateTapEvents({ count: 300, seed: 7, start, end }),
      generateTapEvents({ count: 300, seed: 8, start, end }),
    );
  });

  test('realistic shapes', () => {
    const events = generateTapEvents({ count: 5_000, seed: 3, start, end });
    assert.equal(events.length, 5_000);

    const guidCounts = new Map<string, number>();
    for (const { type, event } of events) {
      if (type.startsWith('messages'))
        guidCounts.set(String(event.GUID), (guidCounts.get(String(event.GUID)) ?? 0) + 1);
    }
    assert.ok(
      [...guidCounts.values()].some((count) => count > 1),
      'messages to several recipients share a GUID',
    );

    const delivered = new Set(events.filter((e) => e.type === 'messagesDelivered').map((e) => String(e.event.GUID)));
    const clickEvents = events.filter((e) => e.type.startsWith('clicks'));
    assert.ok(clickEvents.length > 0);
    assert.ok(
      clickEvents.every((click) => delivered.has(String(click.event.GUID))),
      'clicks are on delivered messages',
    );
    assert.ok(events.some((e) => e.type === 'clicksPermitted') && events.some((e) => e.type === 'clicksBlocked'));

    const campaigns = new Set(
      events.map((e) =>
        e.type.startsWith('clicks')
          ? e.event.campaignId
          : (e.event.threatsInfoMap as Array<Record<string, unknown>>)[0]!.campaignID,
      ),
    );
    assert.ok(campaigns.size > 1, 'more than one campaign');
    assert.ok(campaigns.size < 100, 'events group into few campaigns');

    let condemnedLater = 0;
    for (const { type, event } of events) {
      const threatTime = Date.parse(
        type.startsWith('clicks')
          ? String(event.threatTime)
          : String((event.threatsInfoMap as Array<Record<string, unknown>>)[0]!.threatTime),
      );
      const eventTime = Date.parse(String(type.startsWith('clicks') ? event.clickTime : event.messageTime));
      const created = Math.max(threatTime, eventTime);
      assert.ok(created >= start.getTime(), 'created at or after start');
      assert.ok(created < end.getTime(), 'created before end');
      if (type === 'messagesDelivered' && threatTime > eventTime) condemnedLater += 1;
    }
    assert.ok(condemnedLater > 0, 'some delivered messages are condemned later');
  });
});

describe('50,000-event window', () => {
  test('client fetches every event once', async () => {
    const end = new Date('2025-06-05T08:55:00Z');
    const start = new Date('2025-06-05T07:55:00Z');
    const simulator = await startTapSimulator({ now: () => NOW, generate: { count: 50_000, seed: 42, start, end } });
    try {
      const client = new TapClient({
        baseUrl: simulator.url,
        principal: simulator.principal,
        secret: simulator.secret,
      });
      const batch = await client.fetchAll({ start, end });

      assert.equal(batch.invalid.length, 0);
      assert.equal(batch.events.length, 50_000);
      assert.equal(new Set(batch.events.map((event) => event.key)).size, 50_000, 'every key is distinct');
      assert.equal(batch.queryEndTime, end.toISOString());

      const messages = batch.events.filter((event): event is TapMessageEvent => event.type.startsWith('messages'));
      const clicks = batch.events.filter((event): event is TapClickEvent => event.type.startsWith('clicks'));
      assert.ok(messages.every((event) => event.recipients.length === 1 && /^<.+>$/.test(event.messageId)));
      assert.ok(clicks.length > 0);
    } finally {
      await simulator.close();
    }
  });
});
