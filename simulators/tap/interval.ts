/**
 * The simulator's reading of the SIEM time selectors, with TAP's rules: exactly one of
 * `interval`, `sinceTime` or `sinceSeconds`; windows of 30 seconds to 1 hour; nothing older than
 * 7 days. The 400 texts for "too short" and "too far into the past" are TAP's own, as quoted in
 * public bug reports (OpenCTI-Platform/connectors#3600, elastic/integrations#11461).
 */

/** TAP's 400 body for a window under 30 seconds. */
export const TOO_SHORT_TEXT = 'The requested interval is too short. Requests must be for at least 30.00s of data';
/** TAP's 400 body for a window starting more than 7 days ago. */
export const TOO_OLD_TEXT =
  'The requested start time is too far into the past. Requests for information up to 7.00d are accepted';
// NOTE: TAP's text for a window over 1 hour is not public; this one is assumed.
/** The simulator's 400 body for a window over 1 hour. */
export const TOO_LONG_TEXT = 'The requested interval is too long. Requests must be for at most 1.00h of data';

const MIN_MS = 30_000;
const MAX_MS = 60 * 60_000;
const MAX_AGE_MS = 7 * 24 * 60 * 60_000;

/** A resolved query window: `startMs` inclusive, `endMs` exclusive. */
export interface QueryWindow {
  startMs: number;
  endMs: number;
}

/** A request the simulator rejects with HTTP 400 and this text. */
export class BadQueryError extends Error {
  override name = 'BadQueryError';
}

/** Resolves the time selector of a SIEM query against the simulator clock `nowMs`. */
export function resolveQueryWindow(params: URLSearchParams, nowMs: number): QueryWindow {
  const selectors = ['interval', 'sinceTime', 'sinceSeconds'].filter((name) => params.has(name));
  if (selectors.length !== 1) {
    throw new BadQueryError(
      `Exactly one of interval, sinceTime or sinceSeconds is required; got ${selectors.length === 0 ? 'none' : selectors.join(', ')}`,
    );
  }

  // sinceTime and sinceSeconds end at the server time rounded to the nearest minute.
  const roundedNowMs = Math.round(nowMs / 60_000) * 60_000;
  let window: QueryWindow;
  if (params.has('interval')) window = parseInterval(params.get('interval') ?? '');
  else if (params.has('sinceTime')) window = { startMs: parseTime(params.get('sinceTime') ?? ''), endMs: roundedNowMs };
  else window = { startMs: roundedNowMs - parseSinceSeconds(params.get('sinceSeconds') ?? ''), endMs: roundedNowMs };

  const lengthMs = window.endMs - window.startMs;
  if (lengthMs < MIN_MS) throw new BadQueryError(TOO_SHORT_TEXT);
  if (lengthMs > MAX_MS) throw new BadQueryError(TOO_LONG_TEXT);
  if (window.startMs < nowMs - MAX_AGE_MS) throw new BadQueryError(TOO_OLD_TEXT);
  return window;
}

/** Parses `start/end`, `PT30M/end` or `start/PT30M`. */
function parseInterval(text: string): QueryWindow {
  const parts = text.split('/');
  if (parts.length !== 2) throw new BadQueryError(`Invalid interval '${text}': expected start/end in ISO-8601`);
  const [first = '', second = ''] = parts;

  if (/^P/i.test(first)) {
    const endMs = parseTime(second);
    return { startMs: endMs - parseDuration(first), endMs };
  }
  const startMs = parseTime(first);
  const endMs = /^P/i.test(second) ? startMs + parseDuration(second) : parseTime(second);
  return { startMs, endMs };
}

function parseTime(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim());
  const zone = match?.[2] ?? 'Z';
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = match ? Date.parse(`${match[1]}${offset}`) : NaN;
  if (Number.isNaN(ms)) throw new BadQueryError(`Invalid ISO-8601 time '${text}'`);
  return ms;
}

function parseDuration(text: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text.trim());
  if (!match || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase() === 'PT') {
    throw new BadQueryError(`Invalid ISO-8601 duration '${text}'`);
  }
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = match;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000;
}

function parseSinceSeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isInteger(seconds)) throw new BadQueryError(`Invalid sinceSeconds '${text}': expected a whole number`);
  return seconds * 1000;
}
