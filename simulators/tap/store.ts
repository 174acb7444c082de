/**
 * The simulator's event store, indexed by creation time.
 *
 * TAP selects events by creation time: the later of messageTime (or clickTime) and the threat
 * times, so a message condemned days after delivery appears in a later window. With an indexing
 * lag, an event becomes visible only `indexingLagMs` after its creation.
 */
import type { TapEventType } from '../../activities/tap/types.ts';
import type { SimulatorEvent } from './generator.ts';

/** A stored event, serialised once so that large windows are cheap to send. */
interface StoredEvent {
  type: TapEventType;
  createdMs: number;
  json: string;
  /** Lower-cased threatStatus values; empty when the event has none. */
  statuses: string[];
  /** Lower-cased threatType values; clicks count as `url`. */
  threatTypes: string[];
}

/** Filters of a SIEM query besides the window. */
export interface EventFilter {
  types: readonly TapEventType[];
  /** Lower-cased threatStatus values to include. */
  statuses: ReadonlySet<string>;
  /** Lower-cased threatType values to include; empty means all. */
  threatTypes: ReadonlySet<string>;
}

/** Events sorted by creation time. */
export class EventStore {
  #events: StoredEvent[] = [];
  #sorted = true;

  get size(): number {
    return this.#events.length;
  }

  /** Adds events; `fallbackCreatedMs` is their creation time when they carry no valid time. */
  add(events: readonly SimulatorEvent[], fallbackCreatedMs: number): void {
    for (const { type, event } of events) {
      const threats = threatsOf(type, event);
      this.#events.push({
        type,
        createdMs: creationTime(type, event, threats) ?? fallbackCreatedMs,
        json: JSON.stringify(event),
        statuses: threats
          .map((threat) => String(threat.threatStatus ?? '').toLowerCase())
          .filter((status) => status !== ''),
        threatTypes: type.startsWith('clicks')
          ? ['url']
          : threats.map((threat) => String(threat.threatType ?? '').toLowerCase()),
      });
    }
    this.#sorted = false;
  }

  /** Returns the JSON texts per type of events created in [startMs, endMs) and created before `visibleBeforeMs`. */
  select(startMs: number, endMs: number, visibleBeforeMs: number, filter: EventFilter): Map<TapEventType, string[]> {
    this.#sort();
    const selected = new Map<TapEventType, string[]>(filter.types.map((type) => [type, []]));
    const lastMs = Math.min(endMs, visibleBeforeMs);

    for (let index = this.#firstAtOrAfter(startMs); index < this.#events.length; index++) {
      const event = this.#events[index]!;
      if (event.createdMs >= lastMs) break;
      if (matches(event, filter)) selected.get(event.type)?.push(event.json);
    }
    return selected;
  }

  #sort(): void {
    if (this.#sorted) return;
    this.#events.sort((a, b) => a.createdMs - b.createdMs);
    this.#sorted = true;
  }

  #firstAtOrAfter(ms: number): number {
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#events[middle]!.createdMs < ms) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function matches(event: StoredEvent, filter: EventFilter): boolean {
  // Old-dialect threats without a threatStatus are served whatever the filter.
  if (event.statuses.length > 0 && !event.statuses.some((status) => filter.statuses.has(status))) return false;
  if (filter.threatTypes.size > 0 && !event.threatTypes.some((type) => filter.threatTypes.has(type))) return false;
  return true;
}

function threatsOf(type: TapEventType, event: Record<string, unknown>): Array<Record<string, unknown>> {
  if (type.startsWith('clicks')) return [event];
  const map = event.threatsInfoMap;
  return Array.isArray(map)
    ? map.filter((entry): entry is Record<string, unknown> => typeof entry === 'object' && entry !== null)
    : [];
}

/** Returns the later of the event time and every threatTime, or null when no time can be read. */
function creationTime(
  type: TapEventType,
  event: Record<string, unknown>,
  threats: Array<Record<string, unknown>>,
): number | null {
  const times = [
    type.startsWith('clicks') ? event.clickTime : event.messageTime,
    ...threats.map((threat) => threat.threatTime),
  ]
    .map((value) => (typeof value === 'string' ? Date.parse(value) : NaN))
    .filter((ms) => !Number.isNaN(ms));
  return times.length === 0 ? null : Math.max(...times);
}
