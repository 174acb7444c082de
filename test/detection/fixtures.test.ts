import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { detectEvents, type DetectionPlan } from '../../activities/detection/index.ts';
import { parseSiemResponse } from '../../activities/tap/parse.ts';

function detectFixture(name: string): DetectionPlan & { invalid: number } {
  const batch = parseSiemResponse(readFileSync(new URL(`../fixtures/tap/${name}`, import.meta.url), 'utf8'));
  return { ...detectEvents(batch.events), invalid: batch.invalid.length };
}

/** Returns the alert fields shown to an analyst, in a stable order. */
function alertSummary(plan: DetectionPlan) {
  const byId = new Map(plan.alerts.map((change) => [change.after.alertId, change.after]));
  return plan.alerts
    .map(({ after }) => ({
      type: after.type,
      severity: after.severity,
      rule: after.ruleId,
      guid: after.guid,
      messageId: after.messageId,
      recipients: [...after.recipients].sort(),
      autoDeleteEligible: after.autoDeleteEligible,
      state: after.state,
      parentGuid: after.parentAlertId ? (byId.get(after.parentAlertId)?.guid ?? null) : null,
    }))
    .sort((a, b) => `${a.type}${a.guid}${a.rule}`.localeCompare(`${b.type}${b.guid}${b.rule}`));
}

/** Dispositions of the events that raised no alert, by event type. */
function unalerted(plan: DetectionPlan): string[] {
  return plan.events
    .filter((entry) => entry.disposition !== 'alert')
    .map((entry) => `${entry.decision.event.type}:${entry.disposition}`)
    .sort();
}

describe('fixture alerts', () => {
  it('01 all mixed', () => {
    const plan = detectFixture('01-all-mixed.json');
    assert.deepEqual(alertSummary(plan), [
      {
        type: 'delivered_message',
        severity: 'critical',
        rule: 'delivered-phish',
        guid: 'Qm3xT9vKp2LrW8zA4cYdN6hJ0sFbE1uG',
        messageId: '<20250602091512.4471.ap@invoices.example.net>',
        recipients: ['dana.lee@example.com'],
        autoDeleteEligible: true,
        state: 'open',
        parentGuid: null,
      },
      {
        type: 'permitted_click',
        severity: 'critical',
        rule: 'permitted-click',
        guid: 'Qm3xT9vKp2LrW8zA4cYdN6hJ0sFbE1uG',
        messageId: '<20250602091512.4471.ap@invoices.example.net>',
        recipients: ['dana.lee@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: 'Qm3xT9vKp2LrW8zA4cYdN6hJ0sFbE1uG',
      },
    ]);
    assert.deepEqual(unalerted(plan), ['clicksBlocked:informational', 'messagesBlocked:informational']);
  });

  it('01 threat URL and occurred time', () => {
    const alert = detectFixture('01-all-mixed.json').alerts[0]?.after;
    assert.equal(
      alert?.threatUrl,
      'https://threatinsight.proofpoint.com/0d2b7c1e-5a3f-4c8e-9b61-7f3e2a9c4d10/threat/email/b79c2af3626580908e65f3651ca00c04592d657809ffdf204689955f1fb7e51e',
    );
    assert.equal(alert?.occurredAt, '2025-06-02T09:15:14.000Z');
    assert.equal(alert?.subject, 'Invoice #88213 overdue - action required');
  });

  for (const name of ['02-all-empty.json', '02b-clicks-blocked-empty.json']) {
    it(`${name.slice(0, 3)} empty window`, () => {
      const plan = detectFixture(name);
      assert.deepEqual(plan.alerts, []);
      assert.deepEqual(plan.events, []);
      assert.equal(plan.invalid, 0);
    });
  }

  it('03 multi-recipient phish', () => {
    assert.deepEqual(alertSummary(detectFixture('03-delivered-phish-multi-recipient.json')), [
      {
        type: 'delivered_message',
        severity: 'high',
        rule: 'delivered-phish',
        guid: 'Vb2Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Ye',
        messageId: '<DS.20250602140319.77abf1@docs-share.example.net>',
        recipients: ['alex.kim@example.com', 'jo.berg@example.com', 'lee.chan@example.com', 'priya.nair@example.com'],
        autoDeleteEligible: true,
        state: 'open',
        parentGuid: null,
      },
    ]);
  });

  it('04 cleared malware', () => {
    assert.deepEqual(alertSummary(detectFixture('04-delivered-malware-attachment-cleared.json')), [
      {
        type: 'delivered_message',
        severity: 'low',
        rule: 'delivered-cleared',
        guid: 'Kp7Wd3Zs9Fn1Tq5Hx0Lc8Mv2Bg6Rj4Ya',
        messageId: '<0100018fd2a1b3c4-statement-may@bank-notices.example.org>',
        recipients: ['morgan.fry@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: null,
      },
    ]);
  });

  it('05 false positives alone', () => {
    const plan = detectFixture('05-false-positive.json');
    assert.deepEqual(alertSummary(plan), []);
    assert.deepEqual(unalerted(plan), ['clicksPermitted:ignored', 'messagesDelivered:ignored']);
  });

  it('05 false positives close earlier alerts', () => {
    const batch = parseSiemResponse(
      readFileSync(new URL('../fixtures/tap/05-false-positive.json', import.meta.url), 'utf8'),
    );
    // The same message and click as TAP would have sent them while the threat was active.
    const active = batch.events.map((event) =>
      event.type === 'clicksPermitted'
        ? {
            ...event,
            threat: { ...event.threat, threatStatus: 'active' as const, threatTime: '2025-06-04T08:30:00.000Z' },
          }
        : event.type === 'messagesDelivered'
          ? {
              ...event,
              threats: event.threats.map((t) => ({
                ...t,
                threatStatus: 'active' as const,
                threatTime: '2025-06-04T08:30:00.000Z',
              })),
            }
          : event,
    );
    const existing = detectEvents(active).alerts.map((change) => change.after);
    const plan = detectEvents(batch.events, { existing });
    assert.deepEqual(plan.alerts.map(({ after }) => [after.type, after.state, after.ruleId]).sort(), [
      ['delivered_message', 'closed', 'delivered-false-positive'],
      ['permitted_click', 'closed', 'permitted-click-false-positive'],
    ]);
  });

  it('06 clicks only', () => {
    const plan = detectFixture('06-clicks-permitted-and-blocked.json');
    assert.deepEqual(alertSummary(plan), [
      {
        type: 'permitted_click',
        severity: 'critical',
        rule: 'permitted-click',
        guid: 'Lw9Hc3Tx7Nb1Qv5Kz0Pm4Rd8Fj2Gs6Ea',
        messageId: '<redelivery.55102@mailer.example.net>',
        recipients: ['robin.diaz@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: null,
      },
      {
        type: 'permitted_click',
        severity: 'low',
        rule: 'permitted-click-spam',
        guid: 'Pq2Mv6Zc0Hx4Lb8Ts1Nk5Wd9Rj3Fg7Ya',
        messageId: '<summer.deals@promo.example.org>',
        recipients: ['casey.wu@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: null,
      },
    ]);
    assert.deepEqual(unalerted(plan), ['clicksBlocked:informational', 'clicksBlocked:informational']);
  });

  it('20 older dialect', () => {
    assert.deepEqual(alertSummary(detectFixture('20-older-dialect.json')), [
      {
        type: 'delivered_message',
        severity: 'critical',
        rule: 'delivered-malware',
        guid: 'c26dbea0-80d5-463b-b93c-4e8b708219ce',
        messageId: '<20160624211145.62086.mail@evil.zz>',
        recipients: ['clark.kent@pharmtech.zz', 'diana.prince@pharmtech.zz'],
        autoDeleteEligible: true,
        state: 'open',
        parentGuid: null,
      },
      {
        type: 'permitted_click',
        severity: 'critical',
        rule: 'permitted-click',
        guid: 'c26dbea0-80d5-463b-b93c-4e8b708219ce',
        messageId: '<8c6cfedd-3050-4d65-8c09-c5f65c38da81>',
        recipients: ['clark.kent@pharmtech.zz'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: 'c26dbea0-80d5-463b-b93c-4e8b708219ce',
      },
    ]);
  });

  it('21 odd cases', () => {
    const plan = detectFixture('21-odd-cases.json');
    assert.deepEqual(alertSummary(plan), [
      {
        // An expired threat of a classification TAP may add later ('bulk'), raised by an active click.
        type: 'delivered_message',
        severity: 'critical',
        rule: 'delivered-cleared',
        guid: 'Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa',
        messageId: null,
        recipients: ['single.string@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: null,
      },
      {
        type: 'permitted_click',
        severity: 'critical',
        rule: 'permitted-click',
        guid: 'Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa',
        messageId: null,
        recipients: ['array.clicker@example.com'],
        autoDeleteEligible: false,
        state: 'open',
        parentGuid: 'Od1Nc8Mx4Qz6Lw0Pt3Ks7Hd1Jf9Rg5Aa',
      },
    ]);
    assert.deepEqual(unalerted(plan), ['messagesDelivered:ignored', 'messagesDelivered:ignored']);
    assert.equal(plan.invalid, 5);
  });
});
