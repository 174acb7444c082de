/**
 * The detection rule table: which TAP events become alerts, at what severity, and why.
 *
 * For each event the first rule (in table order) whose `eventType` matches and whose condition
 * accepts one of the event's threats decides. The order is the precedence: an event that carries
 * an active phish URL and a cleared attachment is judged by the phish rule.
 */
import type { Severity } from '../store/types.ts';
import type { Classification, TapEventType, TapThreat, ThreatStatus } from '../tap/types.ts';

/** Severity ladder, lowest first; the index is the rank used for "raise" and "lower". */
export const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** Rank of a severity on {@link SEVERITIES}: 0 for informational, 4 for critical. */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

/** Returns whether `value` is one of the five severities. */
export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/**
 * The effect of a matching rule on the event.
 * - `alert`: create the alert, or add recipients to an existing one and raise its severity.
 * - `lower`: create the alert, or lower an existing one to the rule's severity (TAP cleared the threat).
 * - `informational`: store the event and count it, but queue no alert.
 * - `close`: close the existing alert. With none to close, the event is only stored, and an alert
 *   that an older (or equally old) status creates later starts closed.
 */
export type RuleEffect = 'alert' | 'lower' | 'informational' | 'close';

/** One row of the rule table. */
export interface DetectionRule {
  /** Stable id, stored on alerts and events; tests and tuning refer to it. */
  id: string;
  eventType: TapEventType;
  /** Threat classifications the rule accepts. */
  classifications: readonly Classification[];
  /** Threat statuses the rule accepts. */
  threatStatuses: readonly ThreatStatus[];
  effect: RuleEffect;
  severity: Severity;
  reason: string;
  /** Whether the alert's message may be deleted automatically when the org opted in. */
  autoDeleteEligible: boolean;
}

const ALL_CLASSIFICATIONS: readonly Classification[] = ['malware', 'phish', 'spam', 'impostor', 'unknown'];
const ALL_STATUSES: readonly ThreatStatus[] = ['active', 'cleared', 'falsePositive', 'expired', 'unknown'];

/** Threats still considered live: `active`, or no status at all (older payload dialect). */
const LIVE: readonly ThreatStatus[] = ['active', 'unknown'];

/** No longer a threat according to TAP, but not a mistake either. */
const INACTIVE: readonly ThreatStatus[] = ['cleared', 'expired'];

/** The rule table, in precedence order. */
export const DETECTION_RULES: readonly DetectionRule[] = [
  {
    id: 'delivered-malware',
    eventType: 'messagesDelivered',
    classifications: ['malware'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'high',
    reason: 'A message with an active malware threat was delivered to the mailbox.',
    autoDeleteEligible: true,
  },
  {
    id: 'delivered-phish',
    eventType: 'messagesDelivered',
    classifications: ['phish'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'high',
    reason: 'A message with an active phishing threat was delivered to the mailbox.',
    autoDeleteEligible: true,
  },
  {
    // NOTE: impostor (business email compromise) messages are never deleted automatically,
    // because a false match deletes a real business email; no preference turns this on yet.
    id: 'delivered-impostor',
    eventType: 'messagesDelivered',
    classifications: ['impostor'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'high',
    reason: 'An impostor (business email compromise) message was delivered to the mailbox.',
    autoDeleteEligible: false,
  },
  {
    id: 'delivered-unknown-classification',
    eventType: 'messagesDelivered',
    classifications: ['unknown'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'medium',
    reason: 'A message with an active threat of a classification tap-mdr does not know was delivered.',
    autoDeleteEligible: false,
  },
  {
    id: 'delivered-spam',
    eventType: 'messagesDelivered',
    classifications: ['spam'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'low',
    reason: 'A message that TAP classifies as spam was delivered to the mailbox.',
    autoDeleteEligible: false,
  },
  {
    id: 'delivered-cleared',
    eventType: 'messagesDelivered',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: INACTIVE,
    effect: 'lower',
    severity: 'low',
    reason: 'A delivered message carries a threat that TAP has since cleared or expired.',
    autoDeleteEligible: false,
  },
  {
    id: 'delivered-false-positive',
    eventType: 'messagesDelivered',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: ['falsePositive'],
    effect: 'close',
    severity: 'informational',
    reason: 'TAP reclassified the threat of this message as a false positive.',
    autoDeleteEligible: false,
  },
  {
    id: 'blocked-message',
    eventType: 'messagesBlocked',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: ALL_STATUSES,
    effect: 'informational',
    severity: 'informational',
    reason: 'TAP blocked the message before delivery; nothing to remediate.',
    autoDeleteEligible: false,
  },
  {
    id: 'permitted-click',
    eventType: 'clicksPermitted',
    classifications: ['malware', 'phish', 'impostor', 'unknown'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'critical',
    reason: 'A user clicked through to an active threat and TAP permitted the click.',
    autoDeleteEligible: false,
  },
  {
    id: 'permitted-click-spam',
    eventType: 'clicksPermitted',
    classifications: ['spam'],
    threatStatuses: LIVE,
    effect: 'alert',
    severity: 'low',
    reason: 'A user clicked a link that TAP classifies as spam and TAP permitted the click.',
    autoDeleteEligible: false,
  },
  {
    id: 'permitted-click-cleared',
    eventType: 'clicksPermitted',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: INACTIVE,
    effect: 'lower',
    severity: 'low',
    reason: 'A user clicked a link whose threat TAP has since cleared or expired.',
    autoDeleteEligible: false,
  },
  {
    id: 'permitted-click-false-positive',
    eventType: 'clicksPermitted',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: ['falsePositive'],
    effect: 'close',
    severity: 'informational',
    reason: 'TAP reclassified the threat of this click as a false positive.',
    autoDeleteEligible: false,
  },
  {
    id: 'blocked-click',
    eventType: 'clicksBlocked',
    classifications: ALL_CLASSIFICATIONS,
    threatStatuses: ALL_STATUSES,
    effect: 'informational',
    severity: 'informational',
    reason: 'TAP blocked the click; the user did not reach the threat.',
    autoDeleteEligible: false,
  },
];

/** Returns whether `rule` accepts `threat` (its classification and status). */
export function ruleAcceptsThreat(rule: DetectionRule, threat: TapThreat): boolean {
  return rule.classifications.includes(threat.classification) && rule.threatStatuses.includes(threat.threatStatus);
}
