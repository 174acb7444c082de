/**
 * Loads the stored falsePositive events that closed nothing, so that `planAlerts` can
 * create the alert of an older active event closed when that event arrives later.
 */
import { DETECTION_RULES, evaluateEvent, type EventDecision } from '../detection/index.ts';
import { parseSiemEvent } from '../tap/parse.ts';
import type { TapEvent, TapEventType } from '../tap/types.ts';
import { placeholders, type SqlRunner } from './sql.ts';
import type { IngestContext } from './types.ts';

/** Values per `IN (…)` list. */
const CHUNK = 400;

/** Ids of the rules whose effect is `close` (the falsePositive rules). */
const CLOSE_RULE_IDS = DETECTION_RULES.filter((rule) => rule.effect === 'close').map((rule) => rule.id);

/**
 * Returns the `close` decisions of stored events that found no alert (`alert_id` is null) and
 * share a GUID, or an event key when the GUID is empty, with a batch decision that may create an
 * alert. The events are parsed again from the stored body and judged by the current rules.
 */
export async function loadUnmatchedCloses(
  tx: SqlRunner,
  context: IngestContext,
  decisions: readonly EventDecision[],
): Promise<EventDecision[]> {
  const creating = decisions.filter((decision) => decision.outcome === 'alert' || decision.outcome === 'lower');
  const guids = new Set<string>();
  const keys = new Set<string>();
  for (const { event } of creating) {
    if (event.guid === '') keys.add(event.key);
    else guids.add(event.guid);
  }

  const closes: EventDecision[] = [];
  const lookups: [string, string[]][] = [
    ['guid', [...guids]],
    ['event_key', [...keys]],
  ];
  for (const [column, values] of lookups) {
    for (let start = 0; start < values.length; start += CHUNK) {
      const chunk = values.slice(start, start + CHUNK);
      const rows = await tx.query<{ event_type: string; body: string }>(
        `SELECT event_type, body FROM tap_events
         WHERE org_id = $1 AND device_id = $2 AND alert_id IS NULL
           AND rule_id IN (${placeholders(CLOSE_RULE_IDS.length, 3)})
           AND ${column} IN (${placeholders(chunk.length, 3 + CLOSE_RULE_IDS.length)})`,
        [context.orgId, context.deviceId, ...CLOSE_RULE_IDS, ...chunk],
      );
      for (const row of rows) {
        const event = parseStoredEvent(row.event_type as TapEventType, row.body);
        const decision = event === null ? null : evaluateEvent(event);
        if (decision?.outcome === 'close') closes.push(decision);
      }
    }
  }
  return closes;
}

/**
 * Parses the `body` of a `tap_events` row: TAP's event as received, or, in rows stored by
 * earlier versions, the normalised event with TAP's event in `raw`. Returns null for a body
 * that no longer parses, which then closes nothing.
 */
export function parseStoredEvent(type: TapEventType, body: string): TapEvent | null {
  const stored: unknown = JSON.parse(body);
  const normalised =
    typeof stored === 'object' && stored !== null && 'key' in stored && 'raw' in stored && 'type' in stored;
  const parsed = parseSiemEvent(type, normalised ? stored.raw : stored);
  return 'key' in parsed ? parsed : null;
}
