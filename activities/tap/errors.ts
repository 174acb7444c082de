/**
 * Errors of the TAP SIEM API client. Each class has a distinct name and a stable `code`.
 *
 * Temporal turns an error thrown from an activity into an ApplicationFailure whose `type` is the
 * error's class name, so a RetryPolicy can list {@link NON_RETRYABLE_TAP_ERROR_TYPES} in
 * `nonRetryableErrorTypes`. Messages name the bad value and the fix, and never contain the secret.
 */

/** Base class of every TAP client error. */
export class TapError extends Error {
  /** Stable identifier for scripts and logs. */
  readonly code: string;
  /** HTTP status of the response, or null when no response arrived. */
  readonly status: number | null;
  /** Whether repeating the same request can succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { status?: number | null; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? null;
    this.retryable = options.retryable;
  }
}

/** 401: the service principal or secret is wrong, or the credential was revoked. Not retryable. */
export class TapAuthError extends TapError {
  constructor(principal: string) {
    super(
      'TAP_AUTH_FAILED',
      `TAP rejected the credentials of service principal '${principal}' (HTTP 401). ` +
        'The principal or secret is wrong or was revoked; create a new credential under TAP Settings > ' +
        'Connected Applications and update the device. Retrying will not help.',
      { status: 401, retryable: false },
    );
  }
}

/** 403: the credential is valid but has no TAP API access for this customer. Not retryable. */
export class TapForbiddenError extends TapError {
  constructor(principal: string) {
    super(
      'TAP_FORBIDDEN',
      `TAP accepted service principal '${principal}' but denied access to the SIEM API (HTTP 403). ` +
        "Ask the customer's TAP administrator to grant this credential API access. Retrying will not help.",
      { status: 403, retryable: false },
    );
  }
}

/**
 * 400 "The requested interval is too short": the window was under 30 seconds. Not retryable as
 * is; plan the window again once at least 30 seconds of new time exist.
 */
export class TapIntervalTooShortError extends TapError {
  readonly interval: string;

  constructor(interval: string, detail: string) {
    super(
      'TAP_INTERVAL_TOO_SHORT',
      `TAP rejected interval ${interval} as too short (${detail}). Windows must cover at least 30 seconds; ` +
        're-plan the window instead of retrying it.',
      { status: 400, retryable: false },
    );
    this.interval = interval;
  }
}

/** 400 for an interval longer than 1 hour. Not retryable as is; split the window. */
export class TapIntervalTooLongError extends TapError {
  readonly interval: string;

  constructor(interval: string, detail: string) {
    super(
      'TAP_INTERVAL_TOO_LONG',
      `TAP rejected interval ${interval} as too long (${detail}). Windows may cover at most 1 hour; ` +
        're-plan the window instead of retrying it.',
      { status: 400, retryable: false },
    );
    this.interval = interval;
  }
}

/**
 * 400 "The requested start time is too far into the past": the window starts more than 7 days
 * ago. Not retryable as is; re-plan from inside the 7-day limit and record the lost span as a gap.
 */
export class TapStartTooOldError extends TapError {
  readonly interval: string;

  constructor(interval: string, detail: string) {
    super(
      'TAP_START_TOO_OLD',
      `TAP rejected interval ${interval}: its start is too far in the past (${detail}). TAP serves at most ` +
        '7 days back; re-plan from inside that limit and report the span before it as a data gap.',
      { status: 400, retryable: false },
    );
    this.interval = interval;
  }
}

/** Any other 400: a request the client built wrongly. Not retryable. */
export class TapBadRequestError extends TapError {
  constructor(url: string, detail: string) {
    super('TAP_BAD_REQUEST', `TAP rejected the request ${url} as invalid (HTTP 400: ${detail}).`, {
      status: 400,
      retryable: false,
    });
  }
}

/**
 * 429: the rolling 24-hour budget of 1,800 calls for this pool is spent. TAP sends no
 * Retry-After, and calls become possible again only as the oldest calls of the last 24 hours
 * age out, so back off in minutes: wait `retryAfterMs` (at least 5 minutes), doubling up to 1 hour.
 */
export class TapThrottledError extends TapError {
  /** Suggested wait before the next call to this pool, in milliseconds. */
  readonly retryAfterMs: number;
  readonly pool: string;

  constructor(pool: string, retryAfterMs: number = THROTTLE_BACKOFF.initialMs) {
    super(
      'TAP_THROTTLED',
      `TAP throttled the '${pool}' pool (HTTP 429): more than 1,800 calls in the last 24 hours. ` +
        `Wait ${Math.round(retryAfterMs / 60_000)} minutes before the next call and poll less often.`,
      { status: 429, retryable: true },
    );
    this.pool = pool;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Backoff for throttling: a Temporal RetryPolicy for the fetch activity can use
 * `initialInterval: '5m', backoffCoefficient: 2, maximumInterval: '1h'` for TapThrottledError,
 * or pass `retryAfterMs` as ApplicationFailure `nextRetryDelay`.
 */
export const THROTTLE_BACKOFF = { initialMs: 5 * 60_000, coefficient: 2, maxMs: 60 * 60_000 } as const;

/** 5xx: TAP failed or timed out gathering the results. Retryable. */
export class TapServerError extends TapError {
  constructor(status: number, detail: string) {
    super('TAP_SERVER_ERROR', `TAP answered HTTP ${status}${detail ? `: ${detail}` : ''}. The request is retried.`, {
      status,
      retryable: true,
    });
  }
}

/** The connection failed or was reset before a complete response arrived. Retryable. */
export class TapNetworkError extends TapError {
  constructor(url: string, cause: unknown) {
    super(
      'TAP_NETWORK_ERROR',
      `The connection to ${url} failed (${describeCause(cause)}). Check network access to the TAP API; the request is retried.`,
      { retryable: true, cause },
    );
  }
}

/** No complete response within the client timeout. Retryable. */
export class TapTimeoutError extends TapError {
  constructor(url: string, timeoutMs: number, cause?: unknown) {
    super(
      'TAP_TIMEOUT',
      `TAP did not send a complete response to ${url} within ${timeoutMs} ms. The request is retried; ` +
        'raise timeoutMs if large windows keep timing out.',
      { retryable: true, cause },
    );
  }
}

/** A 2xx response whose body cannot be used: not JSON, truncated, or not the expected object. Retryable. */
export class TapResponseError extends TapError {
  constructor(message: string, status: number | null = 200) {
    super('TAP_INVALID_RESPONSE', message, { status, retryable: true });
  }
}

/** A status TAP does not document for the SIEM API (a redirect, 404, 405...), usually a wrong base URL. Not retryable. */
export class TapUnexpectedStatusError extends TapError {
  constructor(url: string, status: number, detail: string) {
    super(
      'TAP_UNEXPECTED_STATUS',
      `TAP answered ${url} with HTTP ${status}${detail ? ` (${detail})` : ''}, which the SIEM API does not document. ` +
        'Check the base URL of the device.',
      { status, retryable: false },
    );
  }
}

/** Class names to list in a Temporal RetryPolicy's `nonRetryableErrorTypes`. */
export const NON_RETRYABLE_TAP_ERROR_TYPES: readonly string[] = [
  TapAuthError.name,
  TapForbiddenError.name,
  TapIntervalTooShortError.name,
  TapIntervalTooLongError.name,
  TapStartTooOldError.name,
  TapBadRequestError.name,
  TapUnexpectedStatusError.name,
];

/** Class names of the 400s that call for planning the windows again rather than retrying. */
export const REPLAN_TAP_ERROR_TYPES: readonly string[] = [
  TapIntervalTooShortError.name,
  TapIntervalTooLongError.name,
  TapStartTooOldError.name,
];

/** Facts about a failed request that the client uses to classify the response. */
export interface FailedRequest {
  /** The request URL without credentials. */
  url: string;
  /** The `interval` parameter sent. */
  interval: string;
  principal: string;
  pool: string;
  /** Suggested wait for a 429, from the client's call budget. */
  throttleRetryAfterMs?: number;
}

/**
 * Maps a non-2xx status and its body text to the matching error. The 400 texts are TAP's own
 * ("The requested interval is too short…", "The requested start time is too far into the past…");
 * the text for an interval over 1 hour is not public, so any 400 that mentions "too long" matches.
 */
export function errorForStatus(status: number, bodyText: string, request: FailedRequest): TapError {
  const detail = bodyText.trim().slice(0, 300);
  if (status === 401) return new TapAuthError(request.principal);
  if (status === 403) return new TapForbiddenError(request.principal);
  if (status === 429) return new TapThrottledError(request.pool, request.throttleRetryAfterMs);
  if (status >= 500) return new TapServerError(status, detail);

  if (status === 400) {
    if (/interval is too short/i.test(detail)) return new TapIntervalTooShortError(request.interval, detail);
    if (/too far into the past/i.test(detail)) return new TapStartTooOldError(request.interval, detail);
    if (/too long/i.test(detail)) return new TapIntervalTooLongError(request.interval, detail);
    return new TapBadRequestError(request.url, detail || 'no detail in the body');
  }
  return new TapUnexpectedStatusError(request.url, status, detail);
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
