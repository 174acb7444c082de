/**
 * Judges one TAP event on its own: which rule matches, which fields matched, and whether a
 * tuning rule suppresses it. Alert state is not consulted here; see plan.ts for that.
 */
import type { TuningRuleRecord } from '../store/types.ts';
import type { TapEvent, TapMessageEvent, TapThreat } from '../tap/types.ts';
import { DETECTION_RULES, ruleAcceptsThreat, type DetectionRule, type RuleEffect } from './rules.ts';

/** The effect of an event judged alone, before alert state is considered. */
export type EventOutcome = RuleEffect | 'suppressed' | 'ignored';

/** The verdict on one event. */
export interface EventDecision {
  event: TapEvent;
  /** The rule that matched, or null when none did (a message without threats). */
  rule: DetectionRule | null;
  /** The threat the rule matched. */
  threat: TapThreat | null;
  /** Rule id and the event fields the rule tested, as stored on the alert. */
  matched: Record<string, string>;
  outcome: EventOutcome;
  reason: string;
  /** Recipients that still count after recipient suppression. */
  recipients: string[];
  /** Recipients removed by `recipient` tuning rules. */
  suppressedRecipients: string[];
  /** Id of the tuning rule that suppressed the event, or null. */
  suppressedBy: string | null;
  /**
   * When TAP assigned the matched threat's status (`threatTime`), else the event time. A status
   * older than the one an alert already has does not change that alert.
   */
  statusTime: string;
}

/** Returns whether the event is a message event (`messagesDelivered` or `messagesBlocked`). */
export function isMessageEvent(event: TapEvent): event is TapMessageEvent {
  return event.type === 'messagesDelivered' || event.type === 'messagesBlocked';
}

/** Returns the threats of an event: `threatsInfoMap` for messages, the single threat of a click. */
export function threatsOf(event: TapEvent): TapThreat[] {
  return isMessageEvent(event) ? event.threats : [event.threat];
}

/** Returns the recipients of an event: the `recipient` array of a message, or the clicking user. */
export function recipientsOf(event: TapEvent): string[] {
  return isMessageEvent(event) ? event.recipients : [event.recipient];
}

/** Returns the first rule of the table that matches the event, with the threat it matched. */
export function findRule(event: TapEvent): { rule: DetectionRule; threat: TapThreat } | null {
  const threats = threatsOf(event);
  for (const rule of DETECTION_RULES) {
    if (rule.eventType !== event.type) continue;
    const threat = threats.find((candidate) => ruleAcceptsThreat(rule, candidate));
    if (threat) return { rule, threat };
  }
  return null;
}

/** Judges one event against the rule table and the device's tuning rules. */
export function evaluateEvent(event: TapEvent, tuning: readonly TuningRuleRecord[] = []): EventDecision {
  const found = findRule(event);
  const recipients = uniqueLowerCase(recipientsOf(event));

  if (!found) {
    return {
      event,
      rule: null,
      threat: null,
      matched: {},
      outcome: 'ignored',
      reason: noRuleReason(event),
      recipients,
      suppressedRecipients: [],
      suppressedBy: null,
      statusTime: event.eventTime,
    };
  }

  const { rule, threat } = found;
  const decision: EventDecision = {
    event,
    rule,
    threat,
    matched: matchedFields(rule, event, threat),
    outcome: rule.effect,
    reason: rule.reason,
    recipients,
    suppressedRecipients: [],
    suppressedBy: null,
    statusTime: threat.threatTime ?? event.eventTime,
  };

  // Suppression silences alerts; it never stops a falsePositive from closing one.
  if (decision.outcome === 'alert' || decision.outcome === 'lower') applyTuning(decision, tuning);
  return decision;
}

function noRuleReason(event: TapEvent): string {
  const threats = threatsOf(event);
  if (threats.length === 0) return `${event.type} event has no threat in threatsInfoMap; no rule applies.`;
  const seen = threats.map((threat) => `${threat.classification}/${threat.threatStatus}`).join(', ');
  return `No detection rule for ${event.type} with classification/threatStatus ${seen}.`;
}

function matchedFields(rule: DetectionRule, event: TapEvent, threat: TapThreat): Record<string, string> {
  const matched: Record<string, string> = {
    rule: rule.id,
    eventType: event.type,
    classification: threat.classification,
    threatStatus: threat.threatStatus,
    threatId: threat.threatId,
  };
  if (threat.threatType !== '') matched.threatType = threat.threatType;
  if (threat.threat !== '') matched.threat = threat.threat;
  return matched;
}

/** Applies the device's suppression rules to an alerting decision, in place. */
function applyTuning(decision: EventDecision, tuning: readonly TuningRuleRecord[]): void {
  const threat = decision.threat;
  const senderDomain = domainOf(decision.event.sender);

  for (const rule of tuning) {
    const value = rule.value.toLowerCase();
    const hit =
      (rule.field === 'senderDomain' && senderDomain !== '' && isSameOrSubdomain(senderDomain, value)) ||
      (rule.field === 'classification' && threat?.classification === value) ||
      (rule.field === 'threatId' && threat?.threatId.toLowerCase() === value);
    if (hit) {
      suppress(decision, rule, `Suppressed by tuning rule ${rule.ruleId} (${rule.field} = ${rule.value}).`);
      return;
    }
  }

  for (const rule of tuning) {
    if (rule.field !== 'recipient') continue;
    const value = rule.value.toLowerCase();
    if (!decision.recipients.includes(value)) continue;
    decision.recipients = decision.recipients.filter((recipient) => recipient !== value);
    decision.suppressedRecipients.push(value);
    if (decision.recipients.length === 0) {
      suppress(decision, rule, `Suppressed by tuning rule ${rule.ruleId}: every recipient is suppressed.`);
      return;
    }
  }
}

function suppress(decision: EventDecision, rule: TuningRuleRecord, reason: string): void {
  decision.outcome = 'suppressed';
  decision.suppressedBy = rule.ruleId;
  decision.reason = reason;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).toLowerCase();
}

function isSameOrSubdomain(domain: string, parent: string): boolean {
  return domain === parent || domain.endsWith(`.${parent}`);
}

function uniqueLowerCase(values: readonly string[]): string[] {
  return [...new Set(values.map((value) => value.trim().toLowerCase()).filter((value) => value !== ''))];
}
