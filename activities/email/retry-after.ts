/**
 * Parses an HTTP Retry-After value into milliseconds. Graph sends whole seconds (often `1`)
 * and, inside `$batch` responses, decimal seconds such as `0.249`; RFC 9110 also allows an
 * HTTP date. Returns null for a missing or unparsable value.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;

  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);

  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
}

/** Backoff when the API gave no Retry-After: 1 s, 2 s, 4 s, … capped at 30 s. */
export function backoffDelay(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** (attempt - 1));
}
