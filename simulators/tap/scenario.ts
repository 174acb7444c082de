/**
 * Scenario files for the TAP simulator. `--data PATH` names one of:
 *
 * - a folder: `scenario.json` (optional settings) plus any number of `*.json` SIEM response
 *   bodies, whose event arrays are loaded, and `*.jsonl` event streams;
 * - a single `*.json` response body or `*.jsonl` event stream.
 *
 * An event stream has one `{"type": "messagesDelivered", "event": {...}}` object per line; blank
 * lines and lines starting with `#` are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TapEventType } from '../../activities/tap/types.ts';
import type { SimulatorEvent } from './generator.ts';

/** Settings a folder's `scenario.json` may set; command-line flags override them. */
export interface ScenarioSettings {
  principal?: string;
  secret?: string;
  /** A principal whose requests get 403 (valid credential without API access). */
  forbiddenPrincipal?: string;
  forbiddenSecret?: string;
  indexingLagMs?: number;
}

/** Loaded scenario: settings and events. */
export interface Scenario {
  settings: ScenarioSettings;
  events: SimulatorEvent[];
}

const EVENT_TYPES: readonly TapEventType[] = [
  'messagesDelivered',
  'messagesBlocked',
  'clicksPermitted',
  'clicksBlocked',
];

/** Loads a scenario folder or file; throws an Error naming the file and line of bad content. */
export function loadScenario(path: string): Scenario {
  if (!statSync(path).isDirectory()) return { settings: {}, events: loadEventFile(path) };

  const files = readdirSync(path).sort();
  const settingsFile = join(path, 'scenario.json');
  const settings = files.includes('scenario.json')
    ? (JSON.parse(readFileSync(settingsFile, 'utf8')) as ScenarioSettings)
    : {};
  const events = files
    .filter((file) => file !== 'scenario.json' && (file.endsWith('.json') || file.endsWith('.jsonl')))
    .flatMap((file) => loadEventFile(join(path, file)));
  return { settings, events };
}

function loadEventFile(file: string): SimulatorEvent[] {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.jsonl') ? parseEventStream(text, file) : eventsOfResponse(JSON.parse(text) as unknown, file);
}

/** Extracts the events of a SIEM response body, keeping each array's name as the event type. */
export function eventsOfResponse(body: unknown, source = 'response'): SimulatorEvent[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error(`${source} is not a TAP SIEM response object`);
  }
  const response = body as Record<string, unknown>;
  return EVENT_TYPES.flatMap((type) => {
    const list = response[type];
    return Array.isArray(list) ? list.map((event) => ({ type, event: event as Record<string, unknown> })) : [];
  });
}

/** Parses a JSON-lines event stream. */
export function parseEventStream(text: string, source = 'event stream'): SimulatorEvent[] {
  const events: SimulatorEvent[] = [];
  text.split('\n').forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    events.push(checkSimulatorEvent(JSON.parse(trimmed) as unknown, `${source} line ${index + 1}`));
  });
  return events;
}

/** Checks that a value is `{type, event}` with a known type. */
export function checkSimulatorEvent(value: unknown, where: string): SimulatorEvent {
  const candidate = value as Partial<SimulatorEvent> | null;
  if (!candidate || !EVENT_TYPES.includes(candidate.type as TapEventType) || candidate.event === undefined) {
    throw new Error(`${where}: expected {"type": one of ${EVENT_TYPES.join(', ')}, "event": {...}}`);
  }
  return candidate as SimulatorEvent;
}
