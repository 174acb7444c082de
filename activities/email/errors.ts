/** Errors of the mail providers. Each has a stable `code`; messages name the value and the fix. */

/**
 * The provider cannot work for any recipient until an administrator changes something:
 * wrong tenant or client id, rejected or expired secret, consent or delegation missing.
 * Retrying does not help.
 */
export class EmailProviderConfigError extends Error {
  /** `tenant_not_found`, `application_not_found`, `credentials_rejected`, `consent_missing`, `delegation_missing` or `invalid_config`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'EmailProviderConfigError';
    this.code = code;
  }
}

/**
 * The API throttled or failed after the inline retries; the same call may succeed later.
 * `retryAfterMs` is the delay the API asked for, null when it gave none.
 */
export class MailRetryLaterError extends Error {
  /** `throttled` or `unavailable`. */
  readonly code: 'throttled' | 'unavailable';
  readonly retryAfterMs: number | null;

  constructor(code: 'throttled' | 'unavailable', message: string, retryAfterMs: number | null) {
    super(message);
    this.name = 'MailRetryLaterError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}
