/**
 * Request and response shapes shared by the Graph, Gmail and token routes of the mail
 * simulator, and the per-request plumbing (faults, concurrency limit, latency, request log).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Simulated service of a request. */
export type MailApi = 'graph' | 'gmail' | 'token';

/** A parsed request; for a Graph `$batch` sub-request, the fields come from the batch entry. */
export interface SimRequest {
  method: string;
  /** Path as sent, still percent-encoded. */
  rawPath: string;
  /** Query string as sent, without the `?`. */
  rawQuery: string;
  /** Query decoded as a server does: `+` becomes a space, `%XX` is decoded. */
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  /** True for a sub-request of a Graph `$batch`. */
  inBatch: boolean;
}

/** Response of a route. */
export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** One entry of the simulator's request log. */
export interface LoggedRequest {
  api: MailApi;
  method: string;
  /** Path and query exactly as the client sent them. */
  url: string;
  /** The mailbox addressed, lower-cased; null for token and `$batch` requests. */
  mailbox: string | null;
  status: number;
  inBatch: boolean;
  /** Milliseconds since the epoch at which the request arrived. */
  at: number;
}

/**
 * A fault injected with `setFault`. Each matching request consumes one of `times` (unlimited
 * when omitted) until the fault is used up or `clearFaults` runs.
 */
export type MailFault =
  | {
      /** Returns 429 with the Retry-After header below, as Exchange and Gmail do under load. */
      kind: 'throttle';
      api?: 'graph' | 'gmail';
      mailbox?: string;
      times?: number;
      /** Retry-After header value: whole seconds (`2`), decimal seconds (`0.5`) or an HTTP date; omitted when undefined. */
      retryAfter?: string;
      /** Graph only: throttle sub-requests of a `$batch`, not direct requests. */
      inBatchOnly?: boolean;
      /** Gmail only: returns 403 with this reason (`userRateLimitExceeded` or `rateLimitExceeded`) instead of 429. */
      gmailReason?: 'userRateLimitExceeded' | 'rateLimitExceeded';
    }
  | {
      /** Graph: 403 ErrorAccessDenied. Gmail: 403 insufficientPermissions. */
      kind: 'permissionMissing';
      api?: 'graph' | 'gmail';
      mailbox?: string;
      times?: number;
    }
  | {
      /** Returns 503 without Retry-After. */
      kind: 'serverError';
      api?: 'graph' | 'gmail';
      mailbox?: string;
      times?: number;
    };

/** Per-request services that routes use; implemented by the simulator. */
export interface RouteContext {
  /** Returns the first fault that matches and consumes one use of it. */
  takeFault(api: 'graph' | 'gmail', mailbox: string, inBatch: boolean): MailFault | undefined;
  /** Takes a concurrency slot of the mailbox; returns its release function, or null when the limit is reached. */
  enterMailbox(api: 'graph' | 'gmail', mailbox: string): (() => void) | null;
  /** Waits for the configured per-request latency. */
  delay(): Promise<void>;
  /** Appends to the request log. */
  log(entry: Omit<LoggedRequest, 'at'>): void;
}

/** Lower-cases header names and joins repeated values. */
export function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Returns the bearer token of a request, or null. */
export function bearerToken(headers: Record<string, string>): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
  return match?.[1] ?? null;
}

/** Splits `path?query` into its raw parts. */
export function splitUrl(url: string): { rawPath: string; rawQuery: string } {
  const index = url.indexOf('?');
  return index === -1
    ? { rawPath: url, rawQuery: '' }
    : { rawPath: url.slice(0, index), rawQuery: url.slice(index + 1) };
}
