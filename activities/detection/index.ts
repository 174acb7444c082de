/**
 * The detection strategy: a table of rules (rules.ts), a per-event verdict with tuning
 * (evaluate.ts), and the fold of verdicts into alert state (plan.ts). Every function here is
 * pure. The Workbench store runs them inside its ingest transaction, and `tap-mdr detect` runs
 * them on a saved TAP response with no store at all.
 */
import { createHash } from 'node:crypto';
import type { TuningRuleRecord } from '../store/types.ts';
import type { TapEvent } from '../tap/types.ts';
import { evaluateEvent, type EventDecision } from './evaluate.ts';
import { planAlerts, type AlertState, type DetectionPlan } from './plan.ts';

export * from './rules.ts';
export * from './evaluate.ts';
export * from './plan.ts';

/**
 * Returns the alert id for an alert key of a device: `alert_` and 24 hex digits of a SHA-256.
 * Deriving the id from the key means two writers that create the same alert at once collide on
 * the primary key instead of creating two alerts.
 */
export function alertIdFor(orgId: string, deviceId: string, alertKey: string): string {
  const digest = createHash('sha256').update(`${orgId}\u0000${deviceId}\u0000${alertKey}`).digest('hex');
  return `alert_${digest.slice(0, 24)}`;
}

/**
 * Runs detection on a batch of events, against existing alerts of one device (none by default)
 * and the falsePositive decisions of earlier batches that closed nothing (see {@link planAlerts}).
 */
export function detectEvents(
  events: readonly TapEvent[],
  options: {
    orgId?: string;
    deviceId?: string;
    tuning?: readonly TuningRuleRecord[];
    existing?: readonly AlertState[];
    earlierCloses?: readonly EventDecision[];
  } = {},
): DetectionPlan {
  const orgId = options.orgId ?? 'local';
  const deviceId = options.deviceId ?? 'local';
  const decisions = events.map((event) => evaluateEvent(event, options.tuning ?? []));
  const newAlertId = (key: string) => alertIdFor(orgId, deviceId, key);
  return planAlerts(options.existing ?? [], decisions, newAlertId, options.earlierCloses ?? []);
}
