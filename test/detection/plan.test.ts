import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectEvents, type AlertState, type DetectionPlan } from '../../activities/detection/index.ts';
import { click, message, threat } from './builders.ts';

function alertsOf(plan: DetectionPlan): AlertState[] {
  return plan.alerts.map((change) => change.after);
}

/** Runs a first batch, then a second batch against the alerts the first produced. */
function twoPolls(first: Parameters<typeof detectEvents>[0], second: Parameters<typeof detectEvents>[0]) {
  const before = alertsOf(detectEvents(first));
  return { before, plan: detectEvents(second, { existing: before }) };
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
