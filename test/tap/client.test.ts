/**
 * The TAP client against the TAP simulator over real HTTP on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TapClient } from '../../activities/tap/client.ts';
import { TapCallBudget } from '../../activities/tap/budget.ts';
import { TapError } from '../../activities/tap/errors.ts';
import { planWindows } from '../../activities/tap/windows.ts';
import { eventsOfResponse } from '../../simulators/tap/scenario.ts';
import { startTapSimulator, type TapSimulator } from '../../simulators/tap/server.ts';
import type { SimulatorEvent } from '../../simulators/tap/generator.ts';

const MINUTE = 60_000;
const NOW = new Date('2025-06-02T12:00:00.000Z');
const window = (startOffsetMin: number, endOffsetMin: number) => ({
  start: new Date(NOW.getTime() + startOffsetMin * MINUTE),
  end: new Date(NOW.getTime() + endOffsetMin * MINUTE),
});

const fixtureEvents = (name: string): SimulatorEvent[] =>
  eventsOfResponse(
    JSON.parse(readFileSync(new URL(`../fixtures/tap/${name}`, import.meta.url), 'utf8')) as unknown,
    name,
  );

async function rejectsWith(promise: Promise<unknown>, name: string, code: string): Promise<TapError> {
  const error = await promise.then(
    () => assert.fail(`expected ${name}`),
    (err: unknown) => err,
  );
  assert.ok(error instanceof TapError, `expected a TapError, got ${String(error)}`);
  assert.equal(error.name, name);
  assert.equal(error.code, code);
  return error;
}

describe('TapClient against the simulator', () => {
  let simulator: TapSimulator;
  let client: TapClient;

  before(async () => {
    simulator = await startTapSimulator({
      now: () => NOW,
      events: fixtureEvents('01-all-mixed.json'),
      forbidden: { principal: 'no-access', secret: 'valid-secret' },
    });
    client = new TapClient({
      baseUrl: simulator.url,
      principal: simulator.principal,
      secret: simulator.secret,
      now: () => NOW,
    });
  });
  after(() => simulator.close());

  test('fetchAll returns the window by creation time', async () => {
    // The delivered phish has messageTime 09:15 and threatTime 09:41, so it is created at 09:41.
    const early = await client.fetchAll(window(-170, -139));
    assert.deepEqual(
      early.events.map((event) => event.type),
      ['messagesBlocked'],
      '09:10 to 09:41 holds only the blocked message (created 09:22:51)',
    );

    const later = await client.fetchAll(window(-139, -120));
    assert.deepEqual(
      later.events.map((event) => event.type).sort(),
      ['clicksBlocked', 'clicksPermitted', 'messagesDelivered'].sort(),
    );
    assert.equal(later.queryEndTime, '2025-06-02T10:00:00.000Z');
    assert.equal(later.invalid.length, 0);
  });

  test('quiet window returns no events', async () => {
    const batch = await client.fetchAll(window(-30, -2));
    assert.deepEqual(batch.events, []);
    assert.equal(batch.queryEndTime, '2025-06-02T11:58:00.000Z');
  });

  test('fetchSiem reads one endpoint', async () => {
    const batch = await client.fetchSiem('clicks/permitted', window(-170, -120));
    assert.deepEqual(
      batch.events.map((event) => event.type),
      ['clicksPermitted'],
    );
    const issues = await client.fetchSiem('issues', window(-170, -120));
    assert.deepEqual(issues.events.map((event) => event.type).sort(), ['clicksPermitted', 'messagesDelivered']);
  });

  test('planned windows are accepted by the simulator', async () => {
    const plan = planWindows(new Date(NOW.getTime() - 3 * 60 * MINUTE), NOW);
    const keys = new Set<string>();
    for (const planned of plan.windows) {
      for (const event of (await client.fetchAll(planned)).events) keys.add(event.key);
    }
    assert.equal(keys.size, 4, 'every fixture event once');
  });

  test('checkCredentials succeeds', async () => {
    const result = await client.checkCredentials();
    assert.equal(result.interval, '2025-06-02T11:57:00Z/2025-06-02T11:58:00Z');
    assert.equal(result.events, 0);
  });

  test('wrong secret is TapAuthError', async () => {
    const bad = new TapClient({ baseUrl: simulator.url, principal: simulator.principal, secret: 'wrong-secret-value' });
    const error = await rejectsWith(bad.checkCredentials(), 'TapAuthError', 'TAP_AUTH_FAILED');
    assert.equal(error.retryable, false);
    assert.ok(!error.message.includes('wrong-secret-value'), 'the secret is not in the message');
  });

  test('principal without access is TapForbiddenError', async () => {
    const forbidden = new TapClient({ baseUrl: simulator.url, principal: 'no-access', secret: 'valid-secret' });
    await rejectsWith(forbidden.checkCredentials(), 'TapForbiddenError', 'TAP_FORBIDDEN');
  });

  test('window over 7 days old is TapStartTooOldError', async () => {
    const old = window(-8 * 24 * 60, -8 * 24 * 60 + 60);
    await rejectsWith(client.fetchAll(old), 'TapStartTooOldError', 'TAP_START_TOO_OLD');
  });

  test('short and long windows are not sent', async () => {
    const before = simulator.callCount('siem');
    await rejectsWith(
      client.fetchAll({ start: NOW, end: new Date(NOW.getTime() + 7_000) }),
      'TapIntervalTooShortError',
      'TAP_INTERVAL_TOO_SHORT',
    );
    await rejectsWith(client.fetchAll(window(-121, -0)), 'TapIntervalTooLongError', 'TAP_INTERVAL_TOO_LONG');
    assert.equal(simulator.callCount('siem'), before, 'no request reached the simulator');
  });

  test('client budget counts every call', async () => {
    const budget = new TapCallBudget();
    const counted = new TapClient({
      baseUrl: simulator.url,
      principal: simulator.principal,
      secret: simulator.secret,
      budget,
      now: () => NOW,
    });
    const before = simulator.callCount('siem');
    await counted.fetchAll(window(-30, -2));
    await counted.fetchSiem('clicks/permitted', window(-30, -2));
    assert.equal(budget.used('siem', NOW), 1);
    assert.equal(budget.used('clicksPermitted', NOW), 1);
    assert.equal(simulator.callCount('siem'), before + 1);
  });
});

describe('simulator faults', () => {
  let simulator: TapSimulator;
  let client: TapClient;
  const quiet = window(-30, -2);

  before(async () => {
    simulator = await startTapSimulator({ now: () => NOW, events: fixtureEvents('01-all-mixed.json') });
    client = new TapClient({
      baseUrl: simulator.url,
      principal: simulator.principal,
      secret: simulator.secret,
      timeoutMs: 1_000,
      now: () => NOW,
    });
  });
  after(() => simulator.close());

  const cases: Array<[string, string, string]> = [
    ['status,code=500,times=1', 'TapServerError', 'TAP_SERVER_ERROR'],
    ['status,code=503,times=1', 'TapServerError', 'TAP_SERVER_ERROR'],
    ['reset,times=1', 'TapNetworkError', 'TAP_NETWORK_ERROR'],
    ['truncate,times=1', 'TapResponseError', 'TAP_INVALID_RESPONSE'],
    ['non-json,times=1', 'TapResponseError', 'TAP_INVALID_RESPONSE'],
    ['throttle,times=1', 'TapThrottledError', 'TAP_THROTTLED'],
    ['latency,ms=1500,times=1', 'TapTimeoutError', 'TAP_TIMEOUT'],
  ];
  for (const [spec, name, code] of cases) {
    test(`${spec} is ${name}, then recovers`, async () => {
      simulator.setFault(spec);
      const error = await rejectsWith(client.fetchAll(window(-170, -120)), name, code);
      assert.equal(error.retryable, true);

      const retried = await client.fetchAll(window(-170, -120));
      assert.equal(retried.events.length, 4, 'the retry returns the whole window');
      simulator.clearFaults();
    });
  }

  test('throttle suggests minutes of backoff', async () => {
    simulator.setFault('throttle,times=1');
    const error = await rejectsWith(client.fetchAll(quiet), 'TapThrottledError', 'TAP_THROTTLED');
    assert.ok((error as unknown as { retryAfterMs: number }).retryAfterMs >= 5 * MINUTE);
    simulator.clearFaults();
  });

  test('204 and empty 200 are quiet windows', async () => {
    simulator.setFault('no-content,times=1');
    assert.deepEqual(await client.fetchAll(quiet), { queryEndTime: null, events: [], invalid: [] });
    simulator.setFault('empty,times=1');
    assert.deepEqual(await client.fetchAll(quiet), { queryEndTime: null, events: [], invalid: [] });
    simulator.clearFaults();
  });

  test('revoked credentials stay 401', async () => {
    simulator.setFault('revoke');
    await rejectsWith(client.fetchAll(quiet), 'TapAuthError', 'TAP_AUTH_FAILED');
    await rejectsWith(client.fetchAll(quiet), 'TapAuthError', 'TAP_AUTH_FAILED');
    simulator.clearFaults();
    assert.deepEqual((await client.fetchAll(quiet)).events, []);
  });

  test('admin endpoint sets and clears faults', async () => {
    const response = await fetch(`${simulator.url}/__admin/faults`, {
      method: 'POST',
      body: JSON.stringify({ spec: 'status,code=502,times=1' }),
    });
    assert.equal(response.status, 201);
    await rejectsWith(client.fetchAll(quiet), 'TapServerError', 'TAP_SERVER_ERROR');
    assert.deepEqual((await client.fetchAll(quiet)).events, []);

    await fetch(`${simulator.url}/__admin/faults`, { method: 'POST', body: JSON.stringify({ kind: 'throttle' }) });
    await rejectsWith(client.fetchAll(quiet), 'TapThrottledError', 'TAP_THROTTLED');
    assert.equal((await fetch(`${simulator.url}/__admin/faults`, { method: 'DELETE' })).status, 204);
    assert.deepEqual((await client.fetchAll(quiet)).events, []);
  });

  test('unreachable server is TapNetworkError', async () => {
    const closed = await startTapSimulator();
    const url = closed.url;
    await closed.close();
    const unreachable = new TapClient({ baseUrl: url, principal: 'p', secret: 's' });
    await rejectsWith(unreachable.fetchAll(quiet), 'TapNetworkError', 'TAP_NETWORK_ERROR');
  });

  test('caller abort is not a TapError', async () => {
    simulator.setFault('latency,ms=500,times=1');
    const controller = new AbortController();
    const pending = client.fetchAll(quiet, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending, (err: unknown) => !(err instanceof TapError));
    simulator.clearFaults();
  });

  test('wrong base URL is TapUnexpectedStatusError', async () => {
    const wrong = new TapClient({
      baseUrl: `${simulator.url}/proxy`,
      principal: simulator.principal,
      secret: simulator.secret,
    });
    await rejectsWith(wrong.fetchAll(quiet), 'TapUnexpectedStatusError', 'TAP_UNEXPECTED_STATUS');
  });
});

describe('simulator rolling budget', () => {
  test('429 once the pool is spent, clicks/permitted apart', async () => {
    let nowMs = NOW.getTime();
    const simulator = await startTapSimulator({ now: () => new Date(nowMs), callsPerDay: 3 });
    try {
      const client = new TapClient({
        baseUrl: simulator.url,
        principal: simulator.principal,
        secret: simulator.secret,
      });
      const quiet = { start: new Date(nowMs - 30 * MINUTE), end: new Date(nowMs - 2 * MINUTE) };
      for (let call = 0; call < 3; call++) await client.fetchAll(quiet);
      await rejectsWith(client.fetchAll(quiet), 'TapThrottledError', 'TAP_THROTTLED');
      await rejectsWith(client.fetchSiem('messages/delivered', quiet), 'TapThrottledError', 'TAP_THROTTLED');
      assert.deepEqual((await client.fetchSiem('clicks/permitted', quiet)).events, [], 'own pool');
      assert.equal(simulator.callCount('siem'), 3, '429 answers are not counted');

      nowMs += 24 * 60 * MINUTE + 1;
      const later = { start: new Date(nowMs - 30 * MINUTE), end: new Date(nowMs - 2 * MINUTE) };
      assert.deepEqual((await client.fetchAll(later)).events, [], 'calls age out after 24 hours');
    } finally {
      await simulator.close();
    }
  });
});

describe('selection by creation time and indexing lag', () => {
  test('message condemned later appears in a later window', async () => {
    let nowMs = Date.parse('2025-06-02T10:00:00Z');
    const simulator = await startTapSimulator({ now: () => new Date(nowMs), indexingLagMs: 10 * MINUTE });
    try {
      const client = new TapClient({
        baseUrl: simulator.url,
        principal: simulator.principal,
        secret: simulator.secret,
      });
      // Delivered at 09:00, condemned at 09:50: created at 09:50, visible from 10:00 with a 10-minute lag.
      const [delivered] = fixtureEvents('01-all-mixed.json').filter((event) => event.type === 'messagesDelivered');
      const event = structuredClone(delivered!);
      event.event.messageTime = '2025-06-02T09:00:00.000Z';
      (event.event.threatsInfoMap as Array<Record<string, unknown>>)[0]!.threatTime = '2025-06-02T09:50:00.000Z';
      nowMs = Date.parse('2025-06-02T09:55:00Z');
      simulator.addEvents([event]);

      const byMessageTime = { start: '2025-06-02T08:30:00Z', end: '2025-06-02T09:30:00Z' };
      const byCreation = { start: '2025-06-02T09:30:00Z', end: '2025-06-02T09:54:00Z' };
      assert.equal((await client.fetchAll(byMessageTime)).events.length, 0, 'not in the window of its messageTime');
      assert.equal((await client.fetchAll(byCreation)).events.length, 0, 'not yet indexed at 09:55');

      nowMs = Date.parse('2025-06-02T10:00:00Z');
      assert.equal((await client.fetchAll(byCreation)).events.length, 1, 'visible 10 minutes after creation');
    } finally {
      await simulator.close();
    }
  });
});

describe('TapClient threatStatus', () => {
  test('requests falsePositive verdicts too', async () => {
    // TAP leaves falsePositive out unless asked; both fixture events turned falsePositive at 10:31:12.
    const now = () => new Date('2025-06-04T12:00:00Z');
    const simulator = await startTapSimulator({ events: fixtureEvents('05-false-positive.json'), now });
    try {
      const client = new TapClient({
        baseUrl: simulator.url,
        principal: simulator.principal,
        secret: simulator.secret,
        now,
      });
      const batch = await client.fetchAll({ start: '2025-06-04T10:30:00Z', end: '2025-06-04T11:00:00Z' });

      assert.deepEqual(batch.events.map((event) => event.type).sort(), ['clicksPermitted', 'messagesDelivered']);
      for (const event of batch.events) {
        const statuses = 'threats' in event ? event.threats.map((t) => t.threatStatus) : [event.threat.threatStatus];
        assert.deepEqual(statuses, ['falsePositive']);
      }
    } finally {
      await simulator.close();
    }
  });
});

describe('TapClient redaction', () => {
  test('removes an echoed credential from errors', async () => {
    // A server that echoes the request headers in its error body.
    const server = createServer((request, response) => {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end(`bad request; authorization=${request.headers.authorization}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new TapClient({
        baseUrl: `http://127.0.0.1:${port}`,
        principal: 'echo-principal',
        secret: 'echo-secret-42',
      });
      const error = await client
        .fetchAll({ start: new Date(Date.now() - 10 * MINUTE), end: new Date(Date.now() - 5 * MINUTE) })
        .then(
          () => assert.fail('expected an error'),
          (err: unknown) => err as Error,
        );
      const basic = Buffer.from('echo-principal:echo-secret-42').toString('base64');
      assert.match(error.message, /\[credentials\]/);
      assert.ok(!error.message.includes(basic), 'no Basic credential');
      assert.ok(!error.message.includes('echo-secret-42'), 'no secret');
    } finally {
      server.close();
    }
  });
});
