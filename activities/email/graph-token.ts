/**
 * Client-credentials tokens for Microsoft Graph from the Microsoft identity platform
 * (`POST {authority}/{tenant}/oauth2/v2.0/token`), cached until five minutes before expiry.
 */
import { EmailProviderConfigError, MailRetryLaterError } from './errors.ts';
import type { FetchFunction } from './http.ts';
import { parseRetryAfter } from './retry-after.ts';

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const REFRESH_MARGIN_MS = 5 * 60_000;

/** Token endpoint and app credentials. */
export interface GraphTokenSettings {
  authorityUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** Fetches and caches the app-only Graph token. */
export class GraphTokenSource {
  readonly #settings: GraphTokenSettings;
  readonly #fetch: FetchFunction;
  #cached: { token: string; expiresAt: number } | null = null;
  #pending: Promise<string> | null = null;

  constructor(settings: GraphTokenSettings, fetch: FetchFunction) {
    this.#settings = settings;
    this.#fetch = fetch;
  }

  /** Returns a valid token, fetching one when the cached one is missing or about to expire. */
  async getToken(): Promise<string> {
    if (this.#cached && this.#cached.expiresAt - REFRESH_MARGIN_MS > Date.now()) return this.#cached.token;
    this.#pending ??= this.#fetchToken().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** Drops the cached token, after Graph rejected it with 401. */
  invalidate(): void {
    this.#cached = null;
  }

  async #fetchToken(): Promise<string> {
    const { authorityUrl, tenantId, clientId, clientSecret } = this.#settings;
    const url = `${authorityUrl.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
    const body = new URLSearchParams({
      client_id: clientId,
      client_secret: clientSecret,
      scope: GRAPH_SCOPE,
      grant_type: 'client_credentials',
    });

    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
    } catch (err) {
      throw new MailRetryLaterError('unavailable', `token request to ${url} failed: ${String(err)}`, null);
    }

    const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.ok && typeof payload.access_token === 'string') {
      const expiresIn = typeof payload.expires_in === 'number' ? payload.expires_in : 3599;
      this.#cached = { token: payload.access_token, expiresAt: Date.now() + expiresIn * 1000 };
      return payload.access_token;
    }
    if (response.status === 429 || response.status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      throw new MailRetryLaterError(
        'unavailable',
        `token request to ${url} failed with status ${response.status}; retry later`,
        retryAfterMs,
      );
    }
    throw tokenError(this.#settings, payload);
  }
}

/**
 * Removes the client secret from text a token endpoint returned, in plain and form-encoded
 * form, because an endpoint may echo the request back and the text reaches logs and alerts.
 */
export function redactSecret(text: string, secret: string): string {
  if (secret === '') return text;
  const forms = new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]);
  let redacted = text;
  for (const form of forms) redacted = redacted.replaceAll(form, '[secret]');
  return redacted;
}

/** Maps an Entra token error to a configuration error whose message names the fix. */
function tokenError(settings: GraphTokenSettings, payload: Record<string, unknown>): EmailProviderConfigError {
  const error = String(payload.error ?? 'unknown_error');
  const description = redactSecret(String(payload.error_description ?? '').split('\n')[0] ?? '', settings.clientSecret);
  const codes = Array.isArray(payload.error_codes) ? payload.error_codes : [];

  if (codes.includes(90002) || codes.includes(900023)) {
    return new EmailProviderConfigError(
      'tenant_not_found',
      `tenant '${settings.tenantId}' was not found; check the tenant id (${description})`,
    );
  }
  if (codes.includes(700016) || error === 'unauthorized_client') {
    return new EmailProviderConfigError(
      'application_not_found',
      `application '${settings.clientId}' was not found in tenant '${settings.tenantId}'; check the client id and tenant id (${description})`,
    );
  }
  if (codes.includes(7000222)) {
    return new EmailProviderConfigError(
      'credentials_rejected',
      `the client secret of application '${settings.clientId}' has expired; create a new secret and store it with \`tap-mdr email-provider set\` (${description})`,
    );
  }
  if (error === 'invalid_client') {
    return new EmailProviderConfigError(
      'credentials_rejected',
      `the client secret of application '${settings.clientId}' was rejected; store the secret value (not its id) with \`tap-mdr email-provider set\` (${description})`,
    );
  }
  return new EmailProviderConfigError(
    'invalid_config',
    `token request for application '${settings.clientId}' failed with ${error} (${description})`,
  );
}
