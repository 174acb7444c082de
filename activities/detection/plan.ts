/**
 * Folds event decisions into alert state: one alert per delivered message GUID, one per
 * permitted click, and the changes later events make to them. Pure: the store loads the
 * existing alerts, calls {@link planAlerts}, and writes the result in the same transaction.
 */
import type { Severity } from '../store/types.ts';
import type { EventDecision } from './evaluate.ts';
import { severityRank } from './rules.ts';

/** Alert types this module creates. */
export type DetectionAlertType = 'delivered_message' | 'permitted_click';

/** The detection module's view of an alert, which {@link planAlerts} reads and writes. */
export interface AlertState {
  alertId: string;
  /** `message:<GUID>` or `click:<event key>`; unique per device. */
  alertKey: string;
  type: DetectionAlertType;
  severity: Severity;
  ruleId: string;
  reason: string;
  matched: Record<string, string>;
  guid: string | null;
  messageId: string | null;
  /** Lower-cased, in the order they were first seen. */
  recipients: string[];
  subject: string | null;
  threatUrl: string | null;
  /** Earliest event time of the alert's events, ISO-8601 UTC. */
  occurredAt: string;
  /** `threatTime` of the newest status applied to the alert; older statuses leave it alone. */
  statusTime: string;
  state: 'open' | 'closed';
  autoDeleteEligible: boolean;
  parentAlertId: string | null;
}

/**
 * The effect of one event on one alert, stored with the alert-event link.
 * `created`, `recipients` (added recipients), `status` (severity, state or rule changed),
 * `closed`, `raised` (a click raised its message alert), `linked` (no change) or `stale`
 * (a status older than the alert's, so only recipients were taken).
 */
export type LinkEffect = 'created' | 'recipients' | 'status' | 'closed' | 'raised' | 'linked' | 'stale';

/** One alert that the batch created or touched. */
export interface AlertChange {
  before: AlertState | null;
  after: AlertState;
  addedRecipients: string[];
}

/** The disposition of one event and the alerts it links to. */
export interface EventResult {
  decision: EventDecision;
  /** `alert` (linked to an alert), `closed`, `informational`, `suppressed` or `ignored`. */
  disposition: 'alert' | 'closed' | 'informational' | 'suppressed' | 'ignored';
  reason: string;
  /** The alert the event belongs to, or null. */
  alertId: string | null;
  links: { alertId: string; effect: LinkEffect }[];
}

/**
 * The outcome of a batch: touched alerts (in first-touch order), one result per event, and the
 * stored `close` events of earlier batches that closed an alert created by this batch.
 */
export interface DetectionPlan {
  alerts: AlertChange[];
  events: EventResult[];
  /** Earlier `close` decisions (from `earlierCloses`) and the alert each one closed. */
  lateCloses: LateClose[];
}

/** A stored falsePositive that closed an alert only when the alert's older event arrived. */
export interface LateClose {
  decision: EventDecision;
  alertId: string;
  /** The reason to store with the event, which no longer reads "nothing was closed". */
  reason: string;
}

/** Returns the alert key of a delivered message. */
export function messageAlertKey(guid: string): string {
  return `message:${guid}`;
}

/**
 * Returns the key of the alert an event belongs to. A message event without a GUID gets an
 * alert of its own, because an empty GUID would otherwise merge unrelated messages.
 */
export function alertKeyOf(event: EventDecision['event']): string {
  if (event.type === 'clicksPermitted' || event.type === 'clicksBlocked') return clickAlertKey(event.key);
  return event.guid === '' ? `message-event:${event.key}` : messageAlertKey(event.guid);
}

/** Returns the alert key of a permitted click. */
export function clickAlertKey(eventKey: string): string {
  return `click:${eventKey}`;
}

/** Returns the alert keys a batch may touch, so the store can load them before {@link planAlerts}. */
export function alertKeysFor(decisions: readonly EventDecision[]): string[] {
  const keys = new Set<string>();
  for (const { event } of decisions) {
    keys.add(alertKeyOf(event));
    if (event.guid !== '') keys.add(messageAlertKey(event.guid));
  }
  return [...keys];
}

/**
 * Applies decisions to existing alerts. Message events go first, so that a click in the same
 * batch finds its message alert; within each group events go in status-time order.
 *
 * A `close` decision (a falsePositive) that finds no alert is remembered for its alert key. An
 * `alert` or `lower` decision that would then create the alert, with a status no newer than that
 * falsePositive, creates it already closed, as if the events had come in status order. A closed
 * alert reopens only for a status strictly newer than the one that closed it, so at equal
 * `threatTime` the falsePositive wins.
 *
 * @param existing every alert whose key is in {@link alertKeysFor}, plus click alerts that share
 *   a GUID with a message in the batch (so a late message alert can adopt them)
 * @param newAlertId returns the id for a new alert key. The store derives it from the key, so two
 *   writers that create the same alert pick the same id.
 * @param earlierCloses `close` decisions of earlier batches that found no alert to close (see
 *   {@link unmatchedCloses}), for the keys in {@link alertKeysFor}
 */
export function planAlerts(
  existing: readonly AlertState[],
  decisions: readonly EventDecision[],
  newAlertId: (alertKey: string) => string,
  earlierCloses: readonly EventDecision[] = [],
): DetectionPlan {
  const planner = new Planner(existing, newAlertId, earlierCloses);
  for (const decision of orderForPlanning(decisions)) planner.apply(decision);
  return planner.result();
}

/**
 * Returns the `close` decisions of a plan that found no alert to close. A store keeps these
 * events and passes them to later {@link planAlerts} calls as `earlierCloses`.
 */
export function unmatchedCloses(plan: DetectionPlan): EventDecision[] {
  return plan.events
    .filter((entry) => entry.decision.outcome === 'close' && entry.alertId === null)
    .map((entry) => entry.decision);
}

function orderForPlanning(decisions: readonly EventDecision[]): EventDecision[] {
  const group = (decision: EventDecision): number => (decision.event.type.startsWith('messages') ? 0 : 1);
  return [...decisions].sort(
    (a, b) =>
      group(a) - group(b) ||
      a.statusTime.localeCompare(b.statusTime) ||
      a.event.eventTime.localeCompare(b.event.eventTime) ||
      a.event.key.localeCompare(b.event.key),
  );
}

class Planner {
  private readonly alerts = new Map<string, AlertState>();
  /** Keys of the click alerts per GUID, so a new message alert finds its clicks without a scan. */
  private readonly clickKeysByGuid = new Map<string, string[]>();
  private readonly before = new Map<string, AlertState | null>();
  private readonly added = new Map<string, string[]>();
  private readonly events: EventResult[] = [];
  private readonly newAlertId: (alertKey: string) => string;
  /** The newest `close` decision per alert key that found no alert to close. */
  private readonly unmatched = new Map<string, EventDecision>();
  /** Results of this batch's unmatched `close` events, to update when a later alert takes them. */
  private readonly unmatchedResults = new Map<EventDecision, EventResult>();
  private readonly lateCloses: LateClose[] = [];

  constructor(
    existing: readonly AlertState[],
    newAlertId: (alertKey: string) => string,
    earlierCloses: readonly EventDecision[],
  ) {
    for (const alert of existing) {
      this.alerts.set(alert.alertKey, alert);
      this.indexClick(alert);
    }
    this.newAlertId = newAlertId;
    for (const decision of earlierCloses) this.rememberUnmatched(decision);
  }

  apply(decision: EventDecision): void {
    const { outcome, rule } = decision;
    if (outcome === 'suppressed' || outcome === 'ignored' || outcome === 'informational') {
      this.record(decision, outcome, decision.reason, null, []);
      return;
    }
    if (!rule) throw new Error(`Event ${decision.event.key} has outcome ${outcome} but no rule.`);

    const isClick = decision.event.type === 'clicksPermitted';
    const key = alertKeyOf(decision.event);
    const alert = this.alerts.get(key);

    if (outcome === 'close') {
      this.close(decision, alert);
      return;
    }
    if (!alert) {
      this.create(decision, key, isClick);
      return;
    }
    this.update(decision, alert);
  }

  result(): DetectionPlan {
    const alerts: AlertChange[] = [];
    for (const [key, before] of this.before) {
      const after = this.alerts.get(key);
      if (after) alerts.push({ before, after, addedRecipients: this.added.get(key) ?? [] });
    }
    return { alerts, events: this.events, lateCloses: this.lateCloses };
  }

  private create(decision: EventDecision, key: string, isClick: boolean): void {
    const rule = decision.rule!;
    const { event } = decision;
    const alert: AlertState = {
      alertId: this.newAlertId(key),
      alertKey: key,
      type: isClick ? 'permitted_click' : 'delivered_message',
      severity: rule.severity,
      ruleId: rule.id,
      reason: rule.reason,
      matched: decision.matched,
      guid: event.guid === '' ? null : event.guid,
      messageId: event.messageId === '' ? null : event.messageId,
      recipients: [],
      subject: event.type === 'messagesDelivered' ? event.subject : null,
      threatUrl: decision.threat?.threatUrl ?? null,
      occurredAt: event.eventTime,
      statusTime: decision.statusTime,
      state: 'open',
      autoDeleteEligible: rule.autoDeleteEligible,
      parentAlertId: null,
    };
    this.touch(key, null, alert);
    this.addRecipients(alert, decision.recipients);
    const links: EventResult['links'] = [{ alertId: alert.alertId, effect: 'created' }];

    // A falsePositive applied before this older (or equally old) status closes the new alert.
    const earlier = this.unmatched.get(key);
    const closedEarlier = earlier !== undefined && decision.statusTime <= earlier.statusTime;
    if (closedEarlier) {
      this.addRecipients(alert, earlier.recipients);
      applyClose(alert, earlier);
      this.linkLateClose(earlier, alert);
    }

    if (isClick) {
      const parent = event.guid === '' ? undefined : this.alerts.get(messageAlertKey(event.guid));
      if (parent) links.push(...this.linkClick(alert, parent));
    } else {
      this.adoptClicks(alert);
    }

    if (!closedEarlier) {
      this.record(decision, 'alert', rule.reason, alert.alertId, links);
      return;
    }
    const reason =
      `${rule.reason} Closed by an earlier falsePositive event ${earlier.event.key} (threatTime ` +
      `${earlier.statusTime}), which is not older than this event's status (${decision.statusTime}).`;
    this.record(decision, 'closed', reason, alert.alertId, links);
  }

  private update(decision: EventDecision, current: AlertState): void {
    const rule = decision.rule!;
    const alert = this.touch(current.alertKey, current, { ...current, recipients: [...current.recipients] });
    const addedCount = this.addRecipients(alert, decision.recipients);
    if (decision.event.eventTime < alert.occurredAt) alert.occurredAt = decision.event.eventTime;

    // A closed alert reopens only for a strictly newer status, so a tie goes to the falsePositive.
    const stale =
      decision.statusTime < alert.statusTime || (alert.state === 'closed' && decision.statusTime === alert.statusTime);
    let effect: LinkEffect = addedCount > 0 ? 'recipients' : 'linked';
    if (stale) {
      effect = 'stale';
    } else {
      alert.statusTime = decision.statusTime;
      if (this.applyStatus(decision, alert)) effect = 'status';
    }

    const links: EventResult['links'] = [{ alertId: alert.alertId, effect }];
    if (alert.state === 'closed') {
      const reason =
        `${rule.reason} The alert stays closed, because the status that closed it (${alert.statusTime}) ` +
        `is not older than this event's (${decision.statusTime}).`;
      this.record(decision, 'closed', reason, alert.alertId, links);
      return;
    }
    this.record(decision, 'alert', rule.reason, alert.alertId, links);
  }

  /** Applies an `alert` or `lower` rule to an existing alert; returns whether anything changed. */
  private applyStatus(decision: EventDecision, alert: AlertState): boolean {
    const rule = decision.rule!;
    const reopen = alert.state === 'closed';
    const raise = severityRank(rule.severity) > severityRank(alert.severity);
    const lower = decision.outcome === 'lower' && severityRank(rule.severity) < severityRank(alert.severity);
    const eligibility = decision.outcome === 'lower' ? false : alert.autoDeleteEligible || rule.autoDeleteEligible;
    if (!reopen && !raise && !lower && eligibility === alert.autoDeleteEligible) return false;

    alert.state = 'open';
    if (reopen || raise || lower) alert.severity = rule.severity;
    alert.autoDeleteEligible = eligibility;
    alert.ruleId = rule.id;
    alert.reason = rule.reason;
    alert.matched = decision.matched;
    if (decision.threat?.threatUrl) alert.threatUrl = decision.threat.threatUrl;
    return true;
  }

  private close(decision: EventDecision, current: AlertState | undefined): void {
    const rule = decision.rule!;
    if (!current) {
      this.rememberUnmatched(decision);
      const result = this.record(
        decision,
        'ignored',
        `${rule.reason} No alert exists for it, so nothing was closed.`,
        null,
        [],
      );
      this.unmatchedResults.set(decision, result);
      return;
    }

    const alert = this.touch(current.alertKey, current, { ...current, recipients: [...current.recipients] });
    this.addRecipients(alert, decision.recipients);
    if (decision.statusTime < alert.statusTime) {
      this.record(decision, 'alert', rule.reason, alert.alertId, [{ alertId: alert.alertId, effect: 'stale' }]);
      return;
    }

    applyClose(alert, decision);
    this.record(decision, 'closed', rule.reason, alert.alertId, [{ alertId: alert.alertId, effect: 'closed' }]);
  }

  /**
   * Links a `close` event that found no alert to the alert it closed once the alert's older event
   * arrived. A close from this batch gets its result updated, and a stored one becomes a
   * {@link LateClose}.
   */
  private linkLateClose(close: EventDecision, alert: AlertState): void {
    const reason = `${close.rule!.reason} It closed alert ${alert.alertId}, whose older event arrived after it.`;
    const result = this.unmatchedResults.get(close);
    if (result === undefined) {
      this.lateCloses.push({ decision: close, alertId: alert.alertId, reason });
      return;
    }
    result.disposition = 'closed';
    result.reason = reason;
    result.alertId = alert.alertId;
    result.links = [{ alertId: alert.alertId, effect: 'closed' }];
  }

  /** Keeps the newest unmatched `close` decision of each alert key. */
  private rememberUnmatched(decision: EventDecision): void {
    const key = alertKeyOf(decision.event);
    const known = this.unmatched.get(key);
    if (known === undefined || known.statusTime <= decision.statusTime) this.unmatched.set(key, decision);
  }

  /** Links a click alert to its message alert and raises the message alert to the click's severity. */
  private linkClick(click: AlertState, parent: AlertState): EventResult['links'] {
    click.parentAlertId = parent.alertId;
    if (parent.state !== 'open' || severityRank(click.severity) <= severityRank(parent.severity)) return [];

    const raised = this.touch(parent.alertKey, parent, { ...parent, recipients: [...parent.recipients] });
    raised.severity = click.severity;
    return [{ alertId: raised.alertId, effect: 'raised' }];
  }

  /** Gives a new message alert the click alerts that arrived before it (clicks in earlier polls). */
  private adoptClicks(message: AlertState): void {
    if (message.guid === null) return;
    for (const key of this.clickKeysByGuid.get(message.guid) ?? []) {
      const alert = this.alerts.get(key)!;
      if (alert.parentAlertId) continue;
      const click = this.touch(alert.alertKey, alert, { ...alert, recipients: [...alert.recipients] });
      this.linkClick(click, this.alerts.get(message.alertKey)!);
    }
  }

  private indexClick(alert: AlertState): void {
    if (alert.type !== 'permitted_click' || alert.guid === null) return;
    const keys = this.clickKeysByGuid.get(alert.guid) ?? [];
    keys.push(alert.alertKey);
    this.clickKeysByGuid.set(alert.guid, keys);
  }

  /** Registers an alert as touched by the batch, keeping its state before the batch; returns the live copy. */
  private touch(key: string, before: AlertState | null, copy: AlertState): AlertState {
    if (!this.before.has(key)) {
      this.before.set(key, before);
      this.alerts.set(key, copy);
      if (before === null) this.indexClick(copy);
      return copy;
    }
    return this.alerts.get(key)!;
  }

  private addRecipients(alert: AlertState, recipients: readonly string[]): number {
    const added = this.added.get(alert.alertKey) ?? [];
    let count = 0;
    for (const recipient of recipients) {
      if (alert.recipients.includes(recipient)) continue;
      alert.recipients.push(recipient);
      added.push(recipient);
      count += 1;
    }
    this.added.set(alert.alertKey, added);
    return count;
  }

  private record(
    decision: EventDecision,
    disposition: EventResult['disposition'],
    reason: string,
    alertId: string | null,
    links: EventResult['links'],
  ): EventResult {
    const result: EventResult = { decision, disposition, reason, alertId, links };
    this.events.push(result);
    return result;
  }
}

/** Closes `alert` with the status of a `close` decision (a falsePositive), in place. */
function applyClose(alert: AlertState, decision: EventDecision): void {
  const rule = decision.rule!;
  alert.statusTime = decision.statusTime;
  alert.state = 'closed';
  alert.severity = rule.severity;
  alert.autoDeleteEligible = false;
  alert.ruleId = rule.id;
  alert.reason = rule.reason;
  alert.matched = decision.matched;
}
