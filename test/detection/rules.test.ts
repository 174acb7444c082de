import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DETECTION_RULES, evaluateEvent, findRule } from '../../activities/detection/index.ts';
import type { TapEvent } from '../../activities/tap/types.ts';
import { click, message, threat } from './builders.ts';

/** One event per rule, with the verdict the rule must give; written out so a rule change fails here. */
const RULE_CASES: { rule: string; event: TapEvent; outcome: string; severity: string; autoDelete: boolean }[] = [
  {
    rule: 'delivered-malware',
    event: message({ threats: [threat({ classification: 'malware', threatType: 'attachment' })] }),
    outcome: 'alert',
    severity: 'high',
    autoDelete: true,
  },
  {
    rule: 'delivered-phish',
    event: message(),
    outcome: 'alert',
    severity: 'high',
    autoDelete: true,
  },
  {
    rule: 'delivered-impostor',
    event: message({ threats: [threat({ classification: 'impostor', threatType: 'message' })] }),
    outcome: 'alert',
    severity: 'high',
    autoDelete: false,
  },
  {
    rule: 'delivered-unknown-classification',
    event: message({ threats: [threat({ classification: 'unknown' })] }),
    outcome: 'alert',
    severity: 'medium',
    autoDelete: false,
  },
  {
    rule: 'delivered-spam',
    event: message({ threats: [threat({ classification: 'spam' })] }),
    outcome: 'alert',
    severity: 'low',
    autoDelete: false,
  },
  {
    rule: 'delivered-cleared',
    event: message({ threats: [threat({ classification: 'malware', threatStatus: 'cleared' })] }),
    outcome: 'lower',
    severity: 'low',
    autoDelete: false,
  },
  {
    rule: 'delivered-false-positive',
    event: message({ threats: [threat({ threatStatus: 'falsePositive' })] }),
    outcome: 'close',
    severity: 'informational',
    autoDelete: false,
  },
  {
    rule: 'blocked-message',
    event: message({ type: 'messagesBlocked', threats: [threat({ classification: 'malware' })] }),
    outcome: 'informational',
    severity: 'informational',
    autoDelete: false,
  },
  {
    rule: 'permitted-click',
    event: click(),
    outcome: 'alert',
    severity: 'critical',
    autoDelete: false,
  },
  {
    rule: 'permitted-click-spam',
    event: click({ threat: threat({ classification: 'spam' }) }),
    outcome: 'alert',
    severity: 'low',
    autoDelete: false,
  },
  {
    rule: 'permitted-click-cleared',
    event: click({ threat: threat({ threatStatus: 'cleared' }) }),
    outcome: 'lower',
    severity: 'low',
    autoDelete: false,
  },
  {
    rule: 'permitted-click-false-positive',
    event: click({ threat: threat({ threatStatus: 'falsePositive' }) }),
    outcome: 'close',
    severity: 'informational',
    autoDelete: false,
  },
  {
    rule: 'blocked-click',
    event: click({ type: 'clicksBlocked' }),
    outcome: 'informational',
    severity: 'informational',
    autoDelete: false,
  },
];

describe('detection rules', () => {
  for (const expected of RULE_CASES) {
    it(`${expected.rule} verdict`, () => {
      const decision = evaluateEvent(expected.event);
      assert.equal(decision.rule?.id, expected.rule);
      assert.equal(decision.outcome, expected.outcome);
      assert.equal(decision.rule?.severity, expected.severity);
      assert.equal(decision.rule?.autoDeleteEligible, expected.autoDelete);
      assert.equal(decision.matched.rule, expected.rule);
    });
  }

  it('every rule has a case', () => {
    const covered = RULE_CASES.map((entry) => entry.rule).sort();
    assert.deepEqual(covered, DETECTION_RULES.map((rule) => rule.id).sort());
  });

  it('expired status counts as cleared', () => {
    const found = findRule(message({ threats: [threat({ threatStatus: 'expired' })] }));
    assert.equal(found?.rule.id, 'delivered-cleared');
  });

  it('threat without status counts as live', () => {
    const found = findRule(message({ threats: [threat({ threatStatus: 'unknown' })] }));
    assert.equal(found?.rule.id, 'delivered-phish');
  });

  it('active threat outranks cleared one', () => {
    const event = message({
      threats: [
        threat({ classification: 'malware', threatStatus: 'cleared', threatId: 'a'.repeat(64) }),
        threat({ classification: 'phish', threatStatus: 'active', threatId: 'b'.repeat(64) }),
      ],
    });
    const decision = evaluateEvent(event);
    assert.equal(decision.rule?.id, 'delivered-phish');
    assert.equal(decision.threat?.threatId, 'b'.repeat(64));
  });

  it('message without threats is ignored', () => {
    const decision = evaluateEvent(message({ threats: [] }));
    assert.equal(decision.rule, null);
    assert.equal(decision.outcome, 'ignored');
    assert.match(decision.reason, /no threat in threatsInfoMap/);
  });

  it('matched fields name the threat', () => {
    const decision = evaluateEvent(message());
    assert.deepEqual(decision.matched, {
      rule: 'delivered-phish',
      eventType: 'messagesDelivered',
      classification: 'phish',
      threatStatus: 'active',
      threatId: 'b79c2af3626580908e65f3651ca00c04592d657809ffdf204689955f1fb7e51e',
      threatType: 'url',
      threat: 'https://login-verify.example.net/o365/auth?id=7781',
    });
  });

  it('status time is the threat time', () => {
    const decision = evaluateEvent(message({ threats: [threat({ threatTime: '2025-06-03T00:00:00.000Z' })] }));
    assert.equal(decision.statusTime, '2025-06-03T00:00:00.000Z');
  });

  it('status time falls back to event time', () => {
    const decision = evaluateEvent(message({ threats: [threat({ threatTime: null })] }));
    assert.equal(decision.statusTime, '2025-06-02T09:15:14.000Z');
  });
});
