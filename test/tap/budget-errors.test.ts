import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TapCallBudget, poolForPath } from '../../activities/tap/budget.ts';
import {
  NON_RETRYABLE_TAP_ERROR_TYPES,
  REPLAN_TAP_ERROR_TYPES,
  TapAuthError,
  TapBadRequestError,
  TapError,
  TapForbiddenError,
  TapIntervalTooLongError,
  TapIntervalTooShortError,
  TapNetworkError,
  TapResponseError,
  TapServerError,
  TapStartTooOldError,
  TapThrottledError,
  TapTimeoutError,
  TapUnexpectedStatusError,
  errorForStatus,
  type FailedRequest,
} from '../../activities/tap/errors.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const T0 = Date.parse('2025-06-10T00:00:00Z');

describe('TapCallBudget', () => {
  test('pools are counted apart', () => {
    assert.equal(poolForPath('/v2/siem/clicks/permitted'), 'clicksPermitted');
    for (const path of ['/v2/siem/all', '/v2/siem/issues', '/v2/siem/clicks/blocked', '/v2/siem/messages/delivered']) {
      assert.equal(poolForPath(path), 'siem', path);
    }

    const budget = new TapCallBudget();
    budget.record('siem', T0);
    budget.record('siem', T0 + MINUTE);
    budget.record('clicksPermitted', T0);
    assert.equal(budget.used('siem', T0 + 2 * MINUTE), 2);
    assert.equal(budget.used('clicksPermitted', T0 + 2 * MINUTE), 1);
    assert.equal(budget.remaining('siem', T0 + 2 * MINUTE), 1_798);
  });

  test('calls age out after 24 hours', () => {
    const budget = new TapCallBudget();
    budget.record('siem', T0);
    assert.equal(budget.used('siem', T0 + DAY - MINUTE), 1);
    assert.equal(budget.used('siem', T0 + DAY + 5 * MINUTE), 0, 'gone one bucket after 24 h');
  });

  test('state survives serialisation', () => {
    const budget = new TapCallBudget();
    for (let minute = 0; minute < 600; minute++) budget.record('siem', T0 + minute * MINUTE);
    const state = JSON.parse(JSON.stringify(budget)) as ReturnType<TapCallBudget['toJSON']>;
    assert.ok(state.pools.siem.length <= 289, 'at most one bucket per 5 minutes');

    const restored = new TapCallBudget(state);
    assert.equal(restored.used('siem', T0 + 600 * MINUTE), 600);
    assert.deepEqual(restored.toJSON(), budget.toJSON());
  });

  test('out-of-order record is counted', () => {
    const budget = new TapCallBudget();
    budget.record('siem', T0 + 30 * MINUTE);
    budget.record('siem', T0);
    budget.record('siem', T0 + 1_000);
    assert.equal(budget.used('siem', T0 + 31 * MINUTE), 3);
    assert.deepEqual(
      budget.toJSON().pools.siem.map(([start]) => start),
      [T0, T0 + 30 * MINUTE],
    );
  });

  test('waitMs tells when a call frees up', () => {
    const budget = new TapCallBudget(undefined, 3);
    budget.record('siem', T0);
    budget.record('siem', T0 + 10 * MINUTE);
    assert.equal(budget.waitMs('siem', T0 + 11 * MINUTE), 0);

    budget.record('siem', T0 + 20 * MINUTE);
    assert.equal(budget.remaining('siem', T0 + 21 * MINUTE), 0);
    // The oldest bucket [T0, T0+5min) counts until T0 + 5 min + 24 h.
    assert.equal(budget.waitMs('siem', T0 + 21 * MINUTE), DAY + 5 * MINUTE - 21 * MINUTE);
  });
});

const request: FailedRequest = {
  url: 'https://tap.example/v2/siem/all?format=json&interval=x',
  interval: '2025-06-02T10:00:00Z/2025-06-02T10:00:07Z',
  principal: 'principal-1',
  pool: 'siem',
};

describe('errorForStatus', () => {
  const statusFixtures = (
    JSON.parse(readFileSync(new URL('../fixtures/tap/10-http-status-fixtures.json', import.meta.url), 'utf8')) as {
      fixtures: Array<{ name: string; status: number; body: unknown }>;
    }
  ).fixtures;
  const expectedByName: Record<string, string | null> = {
    ok_empty_json: null,
    no_content_syslog: null,
    interval_too_short: 'TapIntervalTooShortError',
    start_too_far_in_past: 'TapStartTooOldError',
    interval_too_long: 'TapIntervalTooLongError',
    unauthorized: 'TapAuthError',
    forbidden: 'TapForbiddenError',
    throttled: 'TapThrottledError',
    server_error: 'TapServerError',
  };

  for (const fixture of statusFixtures) {
    test(`status fixture ${fixture.name}`, () => {
      const expected = expectedByName[fixture.name];
      assert.notEqual(expected, undefined, `fixture ${fixture.name} has an expectation`);
      if (expected === null) {
        assert.ok(fixture.status >= 200, `${fixture.status} is a success status`);
        assert.ok(fixture.status < 300, `${fixture.status} is a success status`);
        return;
      }
      const error = errorForStatus(fixture.status, typeof fixture.body === 'string' ? fixture.body : '', request);
      assert.equal(error.name, expected);
      assert.equal(error.status, fixture.status);
    });
  }

  const table: Array<[number, string, new (...args: never[]) => TapError, string, boolean]> = [
    [401, '', TapAuthError, 'TAP_AUTH_FAILED', false],
    [403, '', TapForbiddenError, 'TAP_FORBIDDEN', false],
    [
      400,
      'The requested interval is too short. Requests must be for at least 30.00s of data',
      TapIntervalTooShortError,
      'TAP_INTERVAL_TOO_SHORT',
      false,
    ],
    [
      400,
      'The requested start time is too far into the past. Requests for information up to 7.00d are accepted',
      TapStartTooOldError,
      'TAP_START_TOO_OLD',
      false,
    ],
    [400, 'The requested interval is too long.', TapIntervalTooLongError, 'TAP_INTERVAL_TOO_LONG', false],
    [400, 'missing parameter', TapBadRequestError, 'TAP_BAD_REQUEST', false],
    [429, '', TapThrottledError, 'TAP_THROTTLED', true],
    [500, '', TapServerError, 'TAP_SERVER_ERROR', true],
    [503, 'busy', TapServerError, 'TAP_SERVER_ERROR', true],
    [404, 'Not Found', TapUnexpectedStatusError, 'TAP_UNEXPECTED_STATUS', false],
    [302, '', TapUnexpectedStatusError, 'TAP_UNEXPECTED_STATUS', false],
  ];
  for (const [status, body, errorClass, code, retryable] of table) {
    test(`HTTP ${status} ${body.slice(0, 30)} is ${errorClass.name}`, () => {
      const error = errorForStatus(status, body, request);
      assert.ok(error instanceof errorClass);
      assert.ok(error instanceof TapError);
      assert.equal(error.name, errorClass.name, 'name is the class name Temporal matches on');
      assert.equal(error.constructor.name, errorClass.name);
      assert.equal(error.code, code);
      assert.equal(error.retryable, retryable);
      assert.equal(NON_RETRYABLE_TAP_ERROR_TYPES.includes(errorClass.name), !retryable);
    });
  }

  test('replan types are non-retryable', () => {
    assert.deepEqual(REPLAN_TAP_ERROR_TYPES, [
      'TapIntervalTooShortError',
      'TapIntervalTooLongError',
      'TapStartTooOldError',
    ]);
    for (const name of REPLAN_TAP_ERROR_TYPES) assert.ok(NON_RETRYABLE_TAP_ERROR_TYPES.includes(name));
  });

  test('messages name the value and the fix', () => {
    const auth = errorForStatus(401, '', request);
    assert.match(auth.message, /principal-1/);
    assert.match(auth.message, /Retrying will not help/);
    const short = errorForStatus(400, 'The requested interval is too short.', request);
    assert.match(short.message, /2025-06-02T10:00:00Z\/2025-06-02T10:00:07Z/);
    assert.match(short.message, /re-plan/);
  });

  test('throttle backoff is in minutes', () => {
    const throttled = errorForStatus(429, '', { ...request, throttleRetryAfterMs: 20 * MINUTE }) as TapThrottledError;
    assert.equal(throttled.retryAfterMs, 20 * MINUTE);
    assert.match(throttled.message, /Wait 20 minutes/);
    assert.equal(new TapThrottledError('siem').retryAfterMs, 5 * MINUTE);
  });
});

describe('errors without a status', () => {
  test('network, timeout and response errors are retryable', () => {
    const cause = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const cases: Array<[TapError, string, string]> = [
      [new TapNetworkError('http://127.0.0.1:1/v2/siem/all', cause), 'TapNetworkError', 'TAP_NETWORK_ERROR'],
      [new TapTimeoutError('http://127.0.0.1:1/v2/siem/all', 5_000), 'TapTimeoutError', 'TAP_TIMEOUT'],
      [new TapResponseError('not JSON'), 'TapResponseError', 'TAP_INVALID_RESPONSE'],
    ];
    for (const [error, name, code] of cases) {
      assert.equal(error.name, name);
      assert.equal(error.code, code);
      assert.equal(error.retryable, true);
      assert.ok(!NON_RETRYABLE_TAP_ERROR_TYPES.includes(name));
    }
    assert.match(cases[0]![0].message, /ECONNRESET: socket hang up/);
    assert.equal(cases[0]![0].cause, cause);
    assert.equal(cases[0]![0].status, null);
  });
});
