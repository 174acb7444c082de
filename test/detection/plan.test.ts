import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  detectEvents,
  unmatchedCloses,
  type AlertState,
  type DetectionPlan,
  type EventDecision,
} from '../../activities/detection/index.ts';
import type { TapEvent } from '../../activities/tap/types.ts';
import { click, message, threat } from './builders.ts';

function alertsOf(plan: DetectionPlan): AlertState[] {
  return plan.alerts.map((change) => change.after);
}

/** Runs a first batch, then a second batch against the alerts the first produced. */
function twoPolls(first: Parameters<typeof detectEvents>[0], second: Parameters<typeof detectEvents>[0]) {
  const before = alertsOf(detectEvents(first));
  return { before, plan: detectEvents(second, { existing: before }) };
}

/**
 * Runs batches in turn and carries forward what the store keeps between them: the latest state of
 * each alert, and the falsePositive decisions that found no alert to close.
 */
function polls(...batches: TapEvent[][]): DetectionPlan[] {
  const alerts = new Map<string, AlertState>();
  const closes: EventDecision[] = [];
  return batches.map((batch) => {
    const plan = detectEvents(batch, { existing: [...alerts.values()], earlierCloses: closes });
    for (const { after } of plan.alerts) alerts.set(after.alertKey, after);
    closes.push(...unmatchedCloses(plan));
    return plan;
  });
}

const ACTIVE_TIME = '2025-06-04T08:30:00.000Z';
const FALSE_POSITIVE_TIME = '2025-06-04T10:31:12.000Z';

/** Builds the builder's message with its threat at `threatStatus`, reported at `threatTime`. */
function messageWith(threatStatus: 'active' | 'falsePositive', threatTime: string, id = 'id-1'): TapEvent {
  return message({ id, recipients: [`${id}@example.com`], threats: [threat({ threatStatus, threatTime })] });
}

/** Builds the builder's click with its threat at `threatStatus`, reported at `threatTime`. */
function clickWith(threatStatus: 'active' | 'falsePositive', threatTime: string): TapEvent {
  return click({ threat: threat({ threatType: '', threatStatus, threatTime }) });
}

describe('alert planning', () => {
  it('one alert per GUID gathers recipients', () => {
    const plan = detectEvents([
      message({ id: 'a', recipients: ['a@example.com'] }),
      message({ id: 'b', recipients: ['B@example.com', 'c@example.com'] }),
    ]);
    assert.equal(plan.alerts.length, 1);
    assert.deepEqual(plan.alerts[0]?.after.recipients, ['a@example.com', 'b@example.com', 'c@example.com']);
  });

  it('later poll adds recipients', () => {
    const { before, plan } = twoPolls(
      [message({ id: 'a', recipients: ['a@example.com'] })],
      [message({ id: 'b', recipients: ['b@example.com'] })],
    );
    const change = plan.alerts[0];
    assert.equal(change?.before?.alertId, before[0]?.alertId);
    assert.deepEqual(change?.addedRecipients, ['b@example.com']);
    assert.deepEqual(change?.after.recipients, ['a@example.com', 'b@example.com']);
    assert.equal(plan.events[0]?.links[0]?.effect, 'recipients');
  });

  it('click links to message and raises it', () => {
    const plan = detectEvents([click(), message()]);
    const [messageAlert, clickAlert] = alertsOf(plan);
    assert.equal(messageAlert?.type, 'delivered_message');
    assert.equal(messageAlert?.severity, 'critical');
    assert.equal(messageAlert?.ruleId, 'delivered-phish');
    assert.equal(clickAlert?.type, 'permitted_click');
    assert.equal(clickAlert?.parentAlertId, messageAlert?.alertId);
    assert.deepEqual(
      plan.events[1]?.links.map((link) => link.effect),
      ['created', 'raised'],
    );
  });

  it('spam click does not raise', () => {
    const plan = detectEvents([message(), click({ threat: threat({ classification: 'spam' }) })]);
    assert.equal(alertsOf(plan)[0]?.severity, 'high');
    assert.equal(alertsOf(plan)[1]?.parentAlertId, alertsOf(plan)[0]?.alertId);
  });

  it('late message adopts earlier click', () => {
    const { plan } = twoPolls([click()], [message()]);
    const messageAlert = plan.alerts.find((change) => change.after.type === 'delivered_message')?.after;
    const clickAlert = plan.alerts.find((change) => change.after.type === 'permitted_click')?.after;
    assert.equal(messageAlert?.severity, 'critical');
    assert.equal(clickAlert?.parentAlertId, messageAlert?.alertId);
  });

  it('cleared lowers an alert', () => {
    const cleared = message({
      id: 'b',
      threats: [threat({ threatStatus: 'cleared', threatTime: '2025-06-03T00:00:00.000Z' })],
    });
    const { plan } = twoPolls([message()], [cleared]);
    const alert = plan.alerts[0]?.after;
    assert.equal(alert?.severity, 'low');
    assert.equal(alert?.ruleId, 'delivered-cleared');
    assert.equal(alert?.autoDeleteEligible, false);
    assert.equal(alert?.state, 'open');
  });

  it('older cleared status is stale', () => {
    const cleared = message({
      id: 'b',
      threats: [threat({ threatStatus: 'cleared', threatTime: '2025-06-01T00:00:00.000Z' })],
    });
    const { plan } = twoPolls([message()], [cleared]);
    assert.equal(plan.alerts[0]?.after.severity, 'high');
    assert.equal(plan.events[0]?.links[0]?.effect, 'stale');
  });

  it('false positive closes an alert', () => {
    const falsePositive = message({
      threats: [threat({ threatStatus: 'falsePositive', threatTime: '2025-06-04T10:31:12.000Z' })],
    });
    const { before, plan } = twoPolls([message()], [falsePositive]);
    const alert = plan.alerts[0]?.after;
    assert.equal(alert?.alertId, before[0]?.alertId);
    assert.equal(alert?.state, 'closed');
    assert.equal(alert?.severity, 'informational');
    assert.equal(alert?.ruleId, 'delivered-false-positive');
    assert.equal(alert?.autoDeleteEligible, false);
    assert.equal(plan.events[0]?.disposition, 'closed');
  });

  it('false positive without alert is ignored', () => {
    const plan = detectEvents([message({ threats: [threat({ threatStatus: 'falsePositive' })] })]);
    assert.equal(plan.alerts.length, 0);
    assert.equal(plan.events[0]?.disposition, 'ignored');
    assert.match(plan.events[0]?.reason ?? '', /nothing was closed/);
  });

  it('newer active status reopens', () => {
    const closed = alertsOf(
      detectEvents([message({ threats: [threat({ threatStatus: 'falsePositive' })] })], {
        existing: alertsOf(detectEvents([message()])),
      }),
    );
    const reactivated = message({ id: 'c', threats: [threat({ threatTime: '2025-06-09T00:00:00.000Z' })] });
    const alert = alertsOf(detectEvents([reactivated], { existing: closed }))[0];
    assert.equal(closed[0]?.state, 'closed');
    assert.equal(alert?.state, 'open');
    assert.equal(alert?.severity, 'high');
    assert.equal(alert?.autoDeleteEligible, true);
  });

  it('blocked events create no alert', () => {
    const plan = detectEvents([message({ type: 'messagesBlocked' }), click({ type: 'clicksBlocked' })]);
    assert.equal(plan.alerts.length, 0);
    assert.deepEqual(
      plan.events.map((entry) => entry.disposition),
      ['informational', 'informational'],
    );
  });

  it('message without GUID gets its own alert', () => {
    const plan = detectEvents([message({ guid: '', id: 'x' }), message({ guid: '', id: 'y' })]);
    assert.equal(plan.alerts.length, 2);
    assert.equal(plan.alerts[0]?.after.guid, null);
  });

  it('occurredAt is the earliest event time', () => {
    const { plan } = twoPolls(
      [message({ eventTime: '2025-06-02T10:00:00.000Z' })],
      [message({ id: 'b', eventTime: '2025-06-02T09:00:00.000Z' })],
    );
    assert.equal(plan.alerts[0]?.after.occurredAt, '2025-06-02T09:00:00.000Z');
  });

  it('spam upgraded to phish becomes eligible', () => {
    const spam = message({ threats: [threat({ classification: 'spam', threatTime: '2025-06-01T00:00:00.000Z' })] });
    const { plan } = twoPolls([spam], [message({ id: 'b' })]);
    const alert = plan.alerts[0]?.after;
    assert.equal(alert?.severity, 'high');
    assert.equal(alert?.ruleId, 'delivered-phish');
    assert.equal(alert?.autoDeleteEligible, true);
  });

  it('alert ids are stable per key', () => {
    const first = alertsOf(detectEvents([message()], { orgId: 'o', deviceId: 'd' }))[0];
    const second = alertsOf(detectEvents([message({ id: 'other' })], { orgId: 'o', deviceId: 'd' }))[0];
    const otherDevice = alertsOf(detectEvents([message()], { orgId: 'o', deviceId: 'e' }))[0];
    assert.match(first?.alertId ?? '', /^alert_[0-9a-f]{24}$/);
    assert.equal(first?.alertId, second?.alertId);
    assert.notEqual(first?.alertId, otherDevice?.alertId);
  });
});

describe('falsePositive before active', () => {
  /** Asserts that `alert` is the closed, ineligible alert a falsePositive leaves behind. */
  function assertClosedByFalsePositive(alert: AlertState | undefined, ruleId: string): void {
    assert.equal(alert?.state, 'closed');
    assert.equal(alert?.severity, 'informational');
    assert.equal(alert?.ruleId, ruleId);
    assert.equal(alert?.autoDeleteEligible, false);
    assert.equal(alert?.matched.threatStatus, 'falsePositive');
  }

  it('later poll creates message alert closed', () => {
    const [first, second] = polls(
      [messageWith('falsePositive', FALSE_POSITIVE_TIME)],
      [messageWith('active', ACTIVE_TIME)],
    );
    assert.equal(first?.events[0]?.disposition, 'ignored');
    assert.equal(second?.alerts.length, 1);
    assertClosedByFalsePositive(second?.alerts[0]?.after, 'delivered-false-positive');
    assert.equal(second?.alerts[0]?.after.statusTime, FALSE_POSITIVE_TIME);
    assert.deepEqual(second?.alerts[0]?.after.recipients, ['id-1@example.com']);
    assert.equal(second?.events[0]?.disposition, 'closed');
    assert.match(second?.events[0]?.reason ?? '', /earlier falsePositive event messagesDelivered:GUID-1:id-1/);
    assert.deepEqual(second?.events[0]?.links, [{ alertId: second?.alerts[0]?.after.alertId, effect: 'created' }]);
  });

  it('later poll creates click alert closed', () => {
    const [, second] = polls([clickWith('falsePositive', FALSE_POSITIVE_TIME)], [clickWith('active', ACTIVE_TIME)]);
    assert.equal(second?.alerts.length, 1);
    assert.equal(second?.alerts[0]?.after.type, 'permitted_click');
    assertClosedByFalsePositive(second?.alerts[0]?.after, 'permitted-click-false-positive');
    assert.equal(second?.events[0]?.disposition, 'closed');
  });

  it('other recipient of closed GUID', () => {
    const [, second] = polls(
      [messageWith('falsePositive', FALSE_POSITIVE_TIME, 'a')],
      [messageWith('active', ACTIVE_TIME, 'b')],
    );
    assertClosedByFalsePositive(second?.alerts[0]?.after, 'delivered-false-positive');
    assert.deepEqual(second?.alerts[0]?.after.recipients, ['b@example.com', 'a@example.com']);
  });

  it('closed click does not raise message', () => {
    const [, second] = polls(
      [clickWith('falsePositive', FALSE_POSITIVE_TIME)],
      [clickWith('active', ACTIVE_TIME), messageWith('active', ACTIVE_TIME)],
    );
    const messageAlert = second?.alerts.find((change) => change.after.type === 'delivered_message')?.after;
    const clickAlert = second?.alerts.find((change) => change.after.type === 'permitted_click')?.after;
    assert.equal(messageAlert?.state, 'open');
    assert.equal(messageAlert?.severity, 'high');
    assert.equal(clickAlert?.state, 'closed');
    assert.equal(clickAlert?.parentAlertId, messageAlert?.alertId);
  });

  it('same batch, either order', () => {
    for (const threatTime of [FALSE_POSITIVE_TIME, ACTIVE_TIME]) {
      const falsePositive = messageWith('falsePositive', threatTime);
      const active = messageWith('active', ACTIVE_TIME);
      for (const batch of [
        [falsePositive, active],
        [active, falsePositive],
      ]) {
        const plan = detectEvents(batch);
        const label = `falsePositive at ${threatTime}, ${batch[0] === active ? 'active' : 'falsePositive'} first`;
        assert.equal(plan.alerts.length, 1, label);
        assert.equal(plan.alerts[0]?.after.state, 'closed', label);
        assertClosedByFalsePositive(plan.alerts[0]?.after, 'delivered-false-positive');
      }
    }
  });

  it('same-time active does not reopen', () => {
    const [, , third] = polls(
      [messageWith('active', ACTIVE_TIME, 'a')],
      [messageWith('falsePositive', ACTIVE_TIME, 'a')],
      [messageWith('active', ACTIVE_TIME, 'b')],
    );
    assertClosedByFalsePositive(third?.alerts[0]?.after, 'delivered-false-positive');
    assert.deepEqual(third?.alerts[0]?.addedRecipients, ['b@example.com']);
    assert.equal(third?.events[0]?.links[0]?.effect, 'stale');
    assert.equal(third?.events[0]?.disposition, 'closed');
    assert.match(third?.events[0]?.reason ?? '', /stays closed/);
  });

  it('newer active status opens', () => {
    const [, second] = polls([messageWith('falsePositive', ACTIVE_TIME)], [messageWith('active', FALSE_POSITIVE_TIME)]);
    const alert = second?.alerts[0]?.after;
    assert.equal(alert?.state, 'open');
    assert.equal(alert?.ruleId, 'delivered-phish');
    assert.equal(alert?.autoDeleteEligible, true);
    assert.equal(second?.events[0]?.disposition, 'alert');
  });
});
