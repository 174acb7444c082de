import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatInterval, planWindows, type TapWindow } from '../../activities/tap/windows.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = new Date('2025-06-10T12:00:00.000Z');
const at = (offsetMs: number): string => new Date(NOW.getTime() + offsetMs).toISOString();
const lengthMs = (window: TapWindow): number => Date.parse(window.end) - Date.parse(window.start);

function assertContiguous(windows: TapWindow[]): void {
  for (let index = 1; index < windows.length; index++) {
    assert.equal(windows[index]!.start, windows[index - 1]!.end, `window ${index} starts where ${index - 1} ends`);
  }
  for (const window of windows) {
    assert.ok(lengthMs(window) >= 30_000, `${window.start}/${window.end} is at least 30 s`);
    assert.ok(lengthMs(window) <= HOUR, `${window.start}/${window.end} is at most 1 h`);
  }
}

describe('planWindows', () => {
  test('first start reads the last hour', () => {
    const plan = planWindows(null, NOW);
    assert.deepEqual(plan.windows, [{ start: at(-2 * MINUTE - HOUR), end: at(-2 * MINUTE) }]);
    assert.equal(plan.nextCursor, at(-2 * MINUTE));
    assert.equal(plan.gap, null);
    assert.equal(plan.truncated, false);
  });

  test('steady state re-reads the look-back', () => {
    const cursor = at(-3 * MINUTE);
    const plan = planWindows(cursor, NOW);
    assert.deepEqual(plan.windows, [{ start: at(-33 * MINUTE), end: at(-2 * MINUTE) }]);
    assert.equal(plan.nextCursor, at(-2 * MINUTE));
  });

  test('look-back skipped for a window fetched long after it ended', () => {
    // A catch-up window ending 5 hours ago, fetched a minute ago: TAP had indexed all of it.
    const cursor = at(-5 * HOUR);
    const plan = planWindows(cursor, NOW, { maxWindows: 1 }, { fetchedAt: at(-MINUTE) });
    assert.deepEqual(plan.windows, [{ start: cursor, end: at(-4 * HOUR) }]);
  });

  test('look-back keeps what the previous fetch could miss', () => {
    // Fetched 1 minute ago up to 3 minutes ago: events created in the 29 minutes before that
    // fetch may not have been indexed yet, so the next window starts there.
    const plan = planWindows(at(-3 * MINUTE), NOW, {}, { fetchedAt: at(-MINUTE) });
    assert.deepEqual(plan.windows, [{ start: at(-31 * MINUTE), end: at(-2 * MINUTE) }]);

    const unknown = planWindows(at(-3 * MINUTE), NOW, {}, { fetchedAt: null });
    assert.equal(unknown.windows[0]!.start, at(-33 * MINUTE), 'the full look-back without a fetch time');
  });

  test('less than 30 s of new time plans nothing', () => {
    const cursor = at(-2 * MINUTE - 29_000);
    const plan = planWindows(cursor, NOW);
    assert.deepEqual(plan.windows, []);
    assert.equal(plan.nextCursor, cursor, 'the cursor stays');
    assert.equal(plan.gap, null);

    const exactly30 = planWindows(at(-2 * MINUTE - 30_000), NOW);
    assert.equal(exactly30.windows.length, 1);
  });

  test('cursor ahead of now plans nothing', () => {
    assert.deepEqual(planWindows(at(5 * MINUTE), NOW).windows, []);
  });

  test('catch-up after 3 hours', () => {
    const plan = planWindows(at(-3 * HOUR), NOW);
    // 3 h minus the 2-minute safety lag plus the 30-minute look-back: 3 h 28 min.
    assert.equal(plan.windows.length, 4);
    assert.equal(plan.windows[0]!.start, at(-3 * HOUR - 30 * MINUTE));
    assert.equal(plan.windows.at(-1)!.end, at(-2 * MINUTE));
    assert.deepEqual(plan.windows.map(lengthMs), [HOUR, HOUR, HOUR, 28 * MINUTE]);
    assertContiguous(plan.windows);
    assert.equal(plan.gap, null);
    assert.equal(plan.nextCursor, at(-2 * MINUTE));
  });

  test('catch-up after 8 days reports the gap', () => {
    const cursor = at(-8 * DAY);
    const plan = planWindows(cursor, NOW, { maxWindows: 1000 });
    const earliest = at(-7 * DAY + 15 * MINUTE);

    assert.deepEqual(plan.gap, { start: cursor, end: earliest, durationMs: DAY + 15 * MINUTE });
    assert.equal(plan.windows[0]!.start, earliest, 'starts inside the 7-day limit');
    assert.equal(plan.windows.at(-1)!.end, at(-2 * MINUTE));
    assert.equal(plan.windows.length, 168);
    assertContiguous(plan.windows);
    assert.equal(plan.truncated, false);
  });

  test('maxWindows bounds one catch-up', () => {
    const plan = planWindows(at(-8 * DAY), NOW);
    assert.equal(plan.windows.length, 24);
    assert.equal(plan.truncated, true);
    assert.equal(plan.nextCursor, plan.windows.at(-1)!.end);
    assert.notEqual(plan.gap, null);

    // The next plan continues from the returned cursor, minus the look-back, without a new gap.
    const next = planWindows(plan.nextCursor, NOW);
    assert.equal(next.gap, null);
    assert.equal(next.windows[0]!.start, new Date(Date.parse(plan.nextCursor!) - 30 * MINUTE).toISOString());
  });

  test('look-back alone is clamped without a gap', () => {
    const cursor = at(-7 * DAY + 20 * MINUTE);
    const plan = planWindows(cursor, NOW, { maxWindows: 1000 });
    assert.equal(plan.gap, null);
    assert.equal(plan.windows[0]!.start, at(-7 * DAY + 15 * MINUTE));
  });

  test('remainder under 30 s waits for the next plan', () => {
    // Span after the look-back: 1 h 20 s, so the 20 s remainder is left out.
    const cursor = at(-2 * MINUTE - 30 * MINUTE - 20_000);
    const plan = planWindows(cursor, NOW, { lookBackMs: 30 * MINUTE });
    assert.equal(plan.windows.length, 1);
    assert.equal(lengthMs(plan.windows[0]!), HOUR);
    assert.equal(plan.nextCursor, at(-2 * MINUTE - 20_000));
  });

  test('times are floored to whole seconds', () => {
    const plan = planWindows('2025-06-10T11:50:00.750Z', new Date('2025-06-10T12:00:00.999Z'));
    for (const window of plan.windows) {
      assert.match(window.start, /\.000Z$/);
      assert.match(window.end, /\.000Z$/);
    }
  });

  test('invalid cursor throws RangeError', () => {
    assert.throws(() => planWindows('yesterday', NOW), RangeError);
  });
});

describe('formatInterval', () => {
  test('drops zero milliseconds', () => {
    assert.equal(
      formatInterval({ start: '2025-06-02T10:00:00.000Z', end: new Date('2025-06-02T11:00:00Z') }),
      '2025-06-02T10:00:00Z/2025-06-02T11:00:00Z',
    );
  });

  test('keeps non-zero milliseconds', () => {
    assert.equal(
      formatInterval({ start: '2025-06-02T10:00:00.250Z', end: '2025-06-02T11:00:00Z' }),
      '2025-06-02T10:00:00.250Z/2025-06-02T11:00:00Z',
    );
  });
});
