/**
 * Parses TAP SIEM API responses into the normalised events of ./types.ts.
 *
 * Two payload dialects exist: real v2 payloads and the older documentation sample, which uses
 * `clusterId`, `threatId`/`campaignId` in threatsInfoMap, `"true"` strings, a string
 * `fromAddress` and upper-case enumerations. Both parse to the same shape. An event that cannot
 * be understood goes to `invalid` with the reason, and the rest of the response is still parsed.
 */
import { createHash } from 'node:crypto';
import { TapResponseError } from './errors.ts';
import type {
  Classification,
  InvalidTapEvent,
  TapClickEvent,
  TapEvent,
  TapEventBase,
  TapEventType,
  TapMessageEvent,
  TapSiemBatch,
  TapThreat,
  ThreatStatus,
} from './types.ts';

/** The four SIEM arrays in the order `/v2/siem/all` returns them. */
export const TAP_EVENT_TYPES: readonly TapEventType[] = [
  'messagesDelivered',
  'messagesBlocked',
  'clicksPermitted',
  'clicksBlocked',
];

type RawObject = Record<string, unknown>;

/**
 * Parses one SIEM response body: a JSON string or Buffer as received, or an already parsed value.
 *
 * An empty body (a 204, or an empty 200) is a quiet window: no events and a null
 * `queryEndTime`. A body that is not JSON, or JSON that is not an object, throws
 * {@link TapResponseError}, because the window cannot be trusted and must be fetched again.
 */
export function parseSiemResponse(body: string | Buffer | unknown): TapSiemBatch {
  let value: unknown = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return { queryEndTime: null, events: [], invalid: [] };
    value = parseJsonText(text);
  }

  if (!isObject(value)) {
    throw new TapResponseError(
      `TAP returned JSON of type ${describeType(value)} where an object with event arrays was expected; ` +
        'check that the base URL points at the TAP SIEM API.',
    );
  }
  return parseSiemObject(value);
}

/** Parses the parsed JSON object of a SIEM response; see {@link parseSiemResponse}. */
export function parseSiemObject(response: RawObject): TapSiemBatch {
  const batch: TapSiemBatch = { queryEndTime: null, events: [], invalid: [] };

  const queryEndTime = response.queryEndTime;
  if (queryEndTime !== undefined && queryEndTime !== null) {
    batch.queryEndTime = normalizeTimestamp(queryEndTime);
    if (batch.queryEndTime === null) {
      batch.invalid.push({
        type: null,
        reason: `queryEndTime ${JSON.stringify(queryEndTime)} is not a timestamp`,
        raw: queryEndTime,
      });
    }
  }

  for (const type of TAP_EVENT_TYPES) {
    const list = response[type];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      batch.invalid.push({ type, reason: `${type} is ${describeType(list)}, not an array`, raw: list });
      continue;
    }
    for (const raw of list) {
      const result = parseSiemEvent(type, raw);
      if ('reason' in result) batch.invalid.push(result);
      else batch.events.push(result);
    }
  }
  return batch;
}

/** Parses one event of the array `type`; returns an {@link InvalidTapEvent} when it cannot be understood. */
export function parseSiemEvent(type: TapEventType, raw: unknown): TapEvent | InvalidTapEvent {
  if (!isObject(raw)) return { type, reason: `event is ${describeType(raw)}, not an object`, raw };
  try {
    return type === 'messagesDelivered' || type === 'messagesBlocked'
      ? parseMessageEvent(type, raw)
      : parseClickEvent(type, raw);
  } catch (err) {
    if (err instanceof InvalidEventError) return { type, reason: err.message, raw };
    throw err;
  }
}

/**
 * Normalises a Message-ID header value: trimmed, wrapped in exactly one pair of angle brackets.
 * Returns `''` for a missing, non-string or empty value (including `<>`); callers flag that case.
 */
export function normalizeMessageId(value: unknown): string {
  if (typeof value !== 'string') return '';
  const inner = storableText(value).trim().replace(/^<+/, '').replace(/>+$/, '').trim();
  return inner === '' ? '' : `<${inner}>`;
}

/**
 * Converts a TAP timestamp to ISO-8601 UTC with milliseconds, or returns null.
 * Accepts `Z`, `+hh:mm`, `+hhmm` or no offset (TAP times are UTC), and any number of fraction
 * digits (kept to milliseconds).
 */
export function normalizeTimestamp(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim());
  if (!match) return null;

  const [, date, time, fraction = '', zone = 'Z'] = match;
  const milliseconds = (fraction.slice(1) + '000').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const parsed = new Date(`${date}T${time}.${milliseconds}${offset}`);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

/**
 * Returns the idempotency key for a raw event: `type:GUID:id` for messages, `type:id` for
 * clicks and `type:sha256:<hash>` where TAP sent no `id`. The hash covers the canonical JSON
 * of the whole event, so two per-recipient events without ids still get different keys.
 */
export function eventKey(type: TapEventType, raw: RawObject, guid: string, id: string | null): string {
  if (id !== null) return type.startsWith('messages') ? `${type}:${guid}:${id}` : `${type}:${id}`;
  return `${type}:sha256:${createHash('sha256').update(canonicalJson(raw)).digest('hex')}`;
}

/**
 * Serialises a value with object keys sorted at every level. `messageParts` is sorted as well,
 * because TAP does not return the parts of a message in a stable order.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (!isObject(value)) return JSON.stringify(value) ?? 'null';

  const members = Object.keys(value)
    .sort()
    .filter((key) => value[key] !== undefined)
    .map((key) => {
      let member = value[key];
      if (key === 'messageParts' && Array.isArray(member)) member = [...member].sort(compareCanonical);
      return `${JSON.stringify(key)}:${canonicalJson(member)}`;
    });
  return `{${members.join(',')}}`;
}

function compareCanonical(a: unknown, b: unknown): number {
  const left = canonicalJson(a);
  const right = canonicalJson(b);
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

/** Raised inside this module for an event that cannot be parsed; becomes an InvalidTapEvent. */
class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

function parseMessageEvent(type: TapMessageEvent['type'], raw: RawObject): TapMessageEvent {
  const warnings: string[] = [];
  const base = parseCommonFields(type, raw, 'messageTime', warnings);

  const threatsValue = raw.threatsInfoMap;
  const threats: TapThreat[] = [];
  if (Array.isArray(threatsValue)) {
    threatsValue.forEach((entry, index) => {
      if (isObject(entry)) threats.push(parseThreat(entry, `threatsInfoMap[${index}]`, warnings));
      else warnings.push(`threatsInfoMap[${index}] is ${describeType(entry)}, not an object; skipped`);
    });
  } else if (threatsValue !== undefined && threatsValue !== null) {
    warnings.push(`threatsInfoMap is ${describeType(threatsValue)}, not an array; no threats read`);
  }
  if (threats.length === 0) warnings.push('message has no threats in threatsInfoMap');

  const recipients = stringList(raw.recipient);
  if (recipients.length === 0) warnings.push('recipient is empty');

  return {
    ...base,
    type,
    qid: optionalString(raw.QID ?? raw.qid),
    recipients,
    toAddresses: stringList(raw.toAddresses),
    ccAddresses: stringList(raw.ccAddresses),
    fromAddress: stringList(raw.fromAddress),
    replyToAddress: stringList(raw.replyToAddress),
    headerFrom: optionalString(raw.headerFrom),
    subject: optionalString(raw.subject),
    threats,
    spamScore: optionalNumber(raw.spamScore),
    phishScore: optionalNumber(raw.phishScore),
    malwareScore: optionalNumber(raw.malwareScore),
    impostorScore: optionalNumber(raw.impostorScore),
    quarantineFolder: optionalString(raw.quarantineFolder),
    quarantineRule: optionalString(raw.quarantineRule),
    policyRoutes: stringList(raw.policyRoutes),
    cluster: optionalString(raw.cluster ?? raw.clusterId),
  };
}

function parseClickEvent(type: TapClickEvent['type'], raw: RawObject): TapClickEvent {
  const warnings: string[] = [];
  const base = parseCommonFields(type, raw, 'clickTime', warnings);

  // Clicks carry `recipient` as a string; take the first entry if a payload sends an array.
  const recipients = stringList(raw.recipient);
  if (recipients.length > 1) warnings.push(`recipient has ${recipients.length} entries; the first is used`);
  const recipient = recipients[0] ?? '';
  if (recipient === '') warnings.push('recipient is empty');

  const url = optionalString(raw.url) ?? '';
  if (url === '') warnings.push('url is empty');

  const threat = parseThreat({ ...raw, threat: raw.threat ?? url }, 'click', warnings);
  return {
    ...base,
    type,
    recipient,
    url,
    clickIp: optionalString(raw.clickIP ?? raw.clickIp) ?? '',
    userAgent: optionalString(raw.userAgent) ?? '',
    threat,
  };
}

function parseCommonFields(
  type: TapEventType,
  raw: RawObject,
  timeField: 'messageTime' | 'clickTime',
  warnings: string[],
): TapEventBase {
  const guid = optionalString(raw.GUID ?? raw.guid);
  if (guid === null || guid.trim() === '') throw new InvalidEventError('GUID is missing or empty');

  const eventTime = normalizeTimestamp(raw[timeField]);
  if (eventTime === null) {
    throw new InvalidEventError(
      `${timeField} ${JSON.stringify(raw[timeField]) ?? 'undefined'} is not an ISO-8601 timestamp`,
    );
  }

  const id = optionalString(raw.id);
  if (id === null || id.trim() === '') warnings.push('id is missing; the key is a hash of the event');
  const eventId = id === null || id.trim() === '' ? null : id.trim();

  const messageId = normalizeMessageId(raw.messageID ?? raw.messageId);
  if (messageId === '') warnings.push('messageID is empty');

  return {
    key: eventKey(type, raw, guid.trim(), eventId),
    id: eventId,
    guid: guid.trim(),
    messageId,
    sender: optionalString(raw.sender) ?? '',
    senderIp: optionalString(raw.senderIP ?? raw.senderIp) ?? '',
    eventTime,
    warnings,
    raw,
  };
}

function parseThreat(entry: RawObject, where: string, warnings: string[]): TapThreat {
  const threatTimeValue = entry.threatTime;
  const threatTime = normalizeTimestamp(threatTimeValue);
  if (threatTime === null && threatTimeValue !== undefined && threatTimeValue !== null) {
    warnings.push(`${where}: threatTime ${JSON.stringify(threatTimeValue)} is not a timestamp`);
  }

  return {
    threatId: optionalString(entry.threatID ?? entry.threatId) ?? '',
    threat: optionalString(entry.threat) ?? '',
    threatType: (optionalString(entry.threatType) ?? '').toLowerCase(),
    classification: parseClassification(entry.classification, where, warnings),
    threatStatus: parseThreatStatus(entry.threatStatus, where, warnings),
    threatTime,
    threatUrl: optionalString(entry.threatUrl ?? entry.threatURL),
    campaignId: optionalString(entry.campaignID ?? entry.campaignId),
  };
}

const CLASSIFICATIONS: ReadonlySet<string> = new Set(['malware', 'phish', 'spam', 'impostor']);

function parseClassification(value: unknown, where: string, warnings: string[]): Classification {
  const lower = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (CLASSIFICATIONS.has(lower)) return lower as Classification;
  warnings.push(`${where}: classification ${JSON.stringify(value) ?? 'undefined'} is not known; read as unknown`);
  return 'unknown';
}

const THREAT_STATUSES: Readonly<Record<string, ThreatStatus>> = {
  active: 'active',
  cleared: 'cleared',
  falsepositive: 'falsePositive',
  expired: 'expired',
};

function parseThreatStatus(value: unknown, where: string, warnings: string[]): ThreatStatus {
  const status = typeof value === 'string' ? THREAT_STATUSES[value.trim().toLowerCase()] : undefined;
  if (status) return status;
  // The older documentation dialect has threats without a threatStatus.
  warnings.push(`${where}: threatStatus ${JSON.stringify(value) ?? 'is missing'}; read as unknown`);
  return 'unknown';
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const start = text.slice(0, 80).replace(/\s+/g, ' ');
    throw new TapResponseError(
      `TAP returned a body that is not valid JSON (${(err as Error).message}; ${text.length} characters, ` +
        `starting ${JSON.stringify(start)}); the body may be truncated or in syslog format. The window is fetched again.`,
    );
  }
}

function isObject(value: unknown): value is RawObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' || typeof value === 'undefined' ? `an ${typeof value}` : `a ${typeof value}`;
}

/**
 * Returns `text` with U+0000 and lone UTF-16 surrogates replaced by U+FFFD. A sender controls
 * fields such as the subject. PostgreSQL rejects U+0000 in text, and a lone surrogate is stored
 * as U+FFFD, so it no longer matches the key in memory. Either would fail the window on every
 * poll. Cleaning at parse time gives both stores the same text.
 */
export function storableText(text: string): string {
  const withoutNul = text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

function optionalString(value: unknown): string | null {
  if (typeof value === 'string') return storableText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

function optionalNumber(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

/** Reads a field that TAP sends as an array, a single string or null; drops empty entries. */
function stringList(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items
    .filter((item): item is string => typeof item === 'string' && item.trim() !== '')
    .map((item) => storableText(item).trim());
}
