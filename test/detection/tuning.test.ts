import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateEvent } from '../../activities/detection/index.ts';
import type { SuppressionField, TuningRuleRecord } from '../../activities/store/types.ts';
import { click, message, threat } from './builders.ts';

function tuningRule(field: SuppressionField, value: string, ruleId = `tune-${field}`): TuningRuleRecord {
  return {
    ruleId,
    orgId: 'org',
    deviceId: 'dev',
    field,
    value,
    comment: '',
    createdBy: 'test',
    createdAt: '2025-06-01T00:00:00.000Z',
    suppressedEvents: 0,
  };
}

describe('tuning suppression', () => {
  it('sender domain suppresses', () => {
    const decision = evaluateEvent(message(), [tuningRule('senderDomain', 'invoices.example.net')]);
    assert.equal(decision.outcome, 'suppressed');
    assert.equal(decision.suppressedBy, 'tune-senderDomain');
    assert.equal(decision.rule?.id, 'delivered-phish');
  });

  it('sender domain covers subdomains', () => {
    const decision = evaluateEvent(message(), [tuningRule('senderDomain', 'EXAMPLE.net')]);
    assert.equal(decision.outcome, 'suppressed');
  });

  it('sender domain does not match a suffix', () => {
    const decision = evaluateEvent(message(), [tuningRule('senderDomain', 'ample.net')]);
    assert.equal(decision.outcome, 'alert');
  });

  it('classification suppresses', () => {
    const decision = evaluateEvent(click({ threat: threat({ classification: 'spam' }) }), [
      tuningRule('classification', 'spam'),
    ]);
    assert.equal(decision.outcome, 'suppressed');
    assert.equal(decision.rule?.id, 'permitted-click-spam');
  });

  it('threat id suppresses', () => {
    const decision = evaluateEvent(message(), [
      tuningRule('threatId', 'B79C2AF3626580908E65F3651CA00C04592D657809FFDF204689955F1FB7E51E'),
    ]);
    assert.equal(decision.outcome, 'suppressed');
  });

  it('recipient rule removes that recipient', () => {
    const event = message({ recipients: ['dana.lee@example.com', 'Phish-Reports@example.com'] });
    const decision = evaluateEvent(event, [tuningRule('recipient', 'phish-reports@example.com')]);
    assert.equal(decision.outcome, 'alert');
    assert.deepEqual(decision.recipients, ['dana.lee@example.com']);
    assert.deepEqual(decision.suppressedRecipients, ['phish-reports@example.com']);
  });

  it('recipient rule suppresses a sole recipient', () => {
    const decision = evaluateEvent(click(), [tuningRule('recipient', 'dana.lee@example.com')]);
    assert.equal(decision.outcome, 'suppressed');
    assert.equal(decision.suppressedBy, 'tune-recipient');
  });

  it('suppression never stops a false positive', () => {
    const event = message({ threats: [threat({ threatStatus: 'falsePositive' })] });
    const decision = evaluateEvent(event, [tuningRule('senderDomain', 'invoices.example.net')]);
    assert.equal(decision.outcome, 'close');
  });

  it('blocked events are not suppressed', () => {
    const event = message({ type: 'messagesBlocked' });
    const decision = evaluateEvent(event, [tuningRule('senderDomain', 'invoices.example.net')]);
    assert.equal(decision.outcome, 'informational');
  });
});
