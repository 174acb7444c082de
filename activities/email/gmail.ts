/**
 * Google Workspace mail provider: a service account with domain-wide delegation acts as each
 * recipient (JWT `sub`), lists copies with `rfc822msgid:` (spam and trash included) and
 * trashes, deletes or relabels each one.
 *
 * googleapis retries GET and DELETE on 429 without reading Retry-After and never retries POST
 * or 403 rate limits, so its retry is off and this module retries instead. Requests for one
 * user run one at a time and stay under the per-user quota of units per minute.
 */
// The gmail module alone: the googleapis index loads every Google API, about 90 MiB more RSS
// in each worker for an API that the worker never calls.
import { auth as googleAuth, gmail, type gmail_v1 } from 'googleapis/build/src/apis/gmail/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmailProviderConfigError, MailRetryLaterError } from './errors.ts';
import { createFetch, type FetchFunction } from './http.ts';
import { Semaphore } from './limiter.ts';
import { gmailMessageIdQuery, isInDomains } from './message-id.ts';
import { finalResult, settleRemovalError } from './results.ts';
import { backoffDelay, parseRetryAfter } from './retry-after.ts';
import type {
  BatchRemovalResult,
  DeferredRecipient,
  GoogleWorkspaceConfig,
  MailboxResult,
  MailProvider,
  ProviderRuntimeOptions,
  RecipientCode,
  RemovalAction,
  RemovalOptions,
} from './types.ts';

/** Token URL that google-auth-library posts to; rewritten to `tokenUrl` when one is configured. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const DEFAULT_ROOT_URL = 'https://gmail.googleapis.com/';

const FULL_SCOPE = 'https://mail.google.com/';
const MODIFY_SCOPE = 'https://www.googleapis.com/auth/gmail.modify';

/** A service-account client that acts as one user (domain-wide delegation). */
type JwtClient = InstanceType<typeof googleAuth.JWT>;

/** Quota units per method (Gmail API usage limits). */
const UNITS = { list: 5, trash: 5, modify: 5, delete: 10 } as const;

/** The fields of a service account key file that this provider uses. */
interface ServiceAccountKey {
  client_email: string;
  private_key: string;
}

/** The parts of a Gaxios error (token endpoint or API) that classification reads. */
interface GaxiosErrorLike {
  message: string;
  status?: number;
  code?: string | number;
  response?: { status?: number; data?: unknown; headers?: Headers };
}

type GmailMethod = (params: unknown) => Promise<{ data: unknown }>;

/** A request that failed for good, or a deferral. */
type Failure =
  | { kind: 'final'; code: RecipientCode; reason: string }
  | { kind: 'later'; code: 'throttled' | 'unavailable'; reason: string; retryAfterMs: number | null };

class RecipientFailure extends Error {
  readonly failure: Failure;

  constructor(failure: Failure) {
    super(failure.reason);
    this.failure = failure;
  }
}

/** {@link MailProvider} for Google Workspace through the Gmail API. */
export class GmailMailProvider implements MailProvider {
  readonly kind = 'googleWorkspace' as const;
  readonly #config: GoogleWorkspaceConfig;
  readonly #key: ServiceAccountKey;
  readonly #fetch: FetchFunction;
  readonly #gmail: gmail_v1.Gmail;
  readonly #mailboxLimit: Semaphore;
  readonly #quota: UserQuota;
  readonly #runtime: Required<Pick<ProviderRuntimeOptions, 'maxInlineRetries' | 'maxInlineDelayMs'>>;
  readonly #clients = new Map<string, JwtClient>();

  constructor(config: GoogleWorkspaceConfig, serviceAccountKeyJson: string, runtime: ProviderRuntimeOptions = {}) {
    this.#config = config;
    this.#key = parseServiceAccountKey(serviceAccountKeyJson);

    this.#fetch = createFetch(runtime.caCertificates);
    this.#gmail = gmail({ version: 'v1', rootUrl: config.rootUrl ?? DEFAULT_ROOT_URL, retry: false });
    this.#mailboxLimit = new Semaphore(runtime.maxConcurrentBatches ?? 8);
    this.#quota = new UserQuota(runtime.gmailUserQuotaPerMinute ?? 15_000);
    this.#runtime = {
      maxInlineRetries: runtime.maxInlineRetries ?? 3,
      maxInlineDelayMs: runtime.maxInlineDelayMs ?? 10_000,
    };
  }

  async findAndRemove(
    recipient: string,
    internetMessageId: string,
    action: RemovalAction,
    options: RemovalOptions = {},
  ): Promise<MailboxResult> {
    const { results, deferred } = await this.findAndRemoveMany([recipient], internetMessageId, action, options);
    const later = deferred[0];
    if (later) throw new MailRetryLaterError(later.code, `${recipient}: ${later.reason}`, later.retryAfterMs);
    return results[0]!;
  }

  async findAndRemoveMany(
    recipients: readonly string[],
    internetMessageId: string,
    action: RemovalAction,
    options: RemovalOptions = {},
  ): Promise<BatchRemovalResult> {
    const results: MailboxResult[] = [];
    const deferred: DeferredRecipient[] = [];

    await Promise.all(
      [...new Set(recipients)].map((recipient) =>
        this.#mailboxLimit.run(async () => {
          const outcome = await this.#processRecipient(recipient, internetMessageId, action, options);
          if ('retryAfterMs' in outcome) deferred.push(outcome);
          else results.push(outcome);
        }),
      ),
    );
    return { results, deferred };
  }

  async check(mailbox: string): Promise<void> {
    try {
      await this.#call(
        mailbox,
        'list',
        { userId: 'me', q: 'rfc822msgid:<tap-mdr-check@invalid>', includeSpamTrash: true, maxResults: 1 },
        'softDelete',
      );
    } catch (err) {
      if (!(err instanceof RecipientFailure)) throw err;
      throw new EmailProviderConfigError(
        err.failure.kind === 'final' && err.failure.code === 'permission_missing'
          ? 'consent_missing'
          : 'invalid_config',
        `reading mailbox ${mailbox} failed: ${err.failure.reason}`,
      );
    }
  }

  async #processRecipient(
    recipient: string,
    internetMessageId: string,
    action: RemovalAction,
    options: RemovalOptions,
  ): Promise<MailboxResult | DeferredRecipient> {
    if (!isInDomains(recipient, this.#config.domains)) {
      return finalResult(
        recipient,
        'skipped',
        0,
        0,
        'external_domain',
        'recipient is outside the organization domains',
      );
    }

    let removed = options.copiesRemovedEarlier?.[recipient] ?? 0;
    let found = 0;
    try {
      const ids = await this.#listCopies(recipient, internetMessageId, action);
      found = ids.length;
      if (action === 'dryRun') {
        return found > 0
          ? finalResult(recipient, 'skipped', 0, found, 'dry_run', `dry run: ${found} copies would be removed`)
          : finalResult(recipient, 'not_found', 0, 0, null, null);
      }

      for (const id of ids) {
        await this.#removeCopy(recipient, id, action);
        removed += 1;
        options.onCopyRemoved?.(recipient, removed);
      }
      return removed > 0
        ? finalResult(recipient, 'deleted', removed, found, null, null)
        : finalResult(recipient, 'not_found', 0, 0, null, null);
    } catch (err) {
      if (!(err instanceof RecipientFailure)) throw err;
      const failure = err.failure;
      if (failure.kind === 'later')
        return {
          recipient,
          code: failure.code,
          reason: failure.reason,
          retryAfterMs: failure.retryAfterMs,
          copiesRemoved: removed,
        };
      return settleRemovalError(recipient, removed, found, failure);
    }
  }

  async #listCopies(recipient: string, internetMessageId: string, action: RemovalAction): Promise<string[]> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const params = {
        userId: 'me',
        q: gmailMessageIdQuery(internetMessageId),
        includeSpamTrash: true,
        maxResults: 500,
        ...(pageToken ? { pageToken } : {}),
      };
      const page = (await this.#call(recipient, 'list', params, action)) as gmail_v1.Schema$ListMessagesResponse;
      for (const message of page.messages ?? []) if (message.id) ids.push(message.id);
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken);
    return ids;
  }

  async #removeCopy(recipient: string, id: string, action: RemovalAction): Promise<void> {
    try {
      if (action === 'hardDelete') await this.#call(recipient, 'delete', { userId: 'me', id }, action);
      else if (action === 'quarantine') {
        const label = this.#config.quarantineLabelId ?? 'SPAM';
        await this.#call(
          recipient,
          'modify',
          { userId: 'me', id, requestBody: { addLabelIds: [label], removeLabelIds: ['INBOX'] } },
          action,
        );
      } else await this.#call(recipient, 'trash', { userId: 'me', id }, action);
    } catch (err) {
      // Gmail ids do not change, so 404 means the copy is gone already (a retry after an interrupted attempt).
      if (err instanceof RecipientFailure && err.failure.kind === 'final' && err.failure.code === 'mailbox_not_found')
        return;
      throw err;
    }
  }

  /** Calls one Gmail method as `recipient`, retrying throttled and failed calls inline. */
  async #call(
    recipient: string,
    method: keyof typeof UNITS,
    params: Record<string, unknown>,
    action: RemovalAction,
  ): Promise<unknown> {
    const auth = this.#client(recipient, action === 'hardDelete' ? FULL_SCOPE : MODIFY_SCOPE);
    for (let attempt = 1; ; attempt++) {
      await this.#quota.take(recipient, UNITS[method]);
      try {
        const messages = this.#gmail.users.messages;
        const response = await (messages[method] as unknown as GmailMethod).call(messages, { ...params, auth });
        return response.data;
      } catch (err) {
        const failure = this.#classify(err as GaxiosErrorLike, recipient, action);
        if (failure.kind === 'final') throw new RecipientFailure(failure);

        const waitMs = failure.retryAfterMs ?? backoffDelay(attempt);
        if (attempt > this.#runtime.maxInlineRetries || waitMs > this.#runtime.maxInlineDelayMs)
          throw new RecipientFailure(failure);
        await sleep(waitMs);
      }
    }
  }

  /** Returns the JWT client that acts as `recipient` with `scope`; it caches its token until expiry. */
  #client(recipient: string, scope: string): JwtClient {
    const cacheKey = `${scope} ${recipient.toLowerCase()}`;
    let client = this.#clients.get(cacheKey);
    if (client) return client;

    client = new googleAuth.JWT({
      email: this.#key.client_email,
      key: this.#key.private_key,
      scopes: [scope],
      subject: recipient,
      transporterOptions: { fetchImplementation: this.#fetch },
    });
    const tokenUrl = this.#config.tokenUrl;
    if (tokenUrl) {
      // google-auth-library has the token URL built in; a transporter interceptor is the supported hook.
      client.transporter.interceptors.request.add({
        resolved: async (options) => {
          if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUrl);
          return options;
        },
      });
    }
    this.#clients.set(cacheKey, client);
    return client;
  }

  /** Maps a Gaxios error (token endpoint or Gmail API) to a final failure or a deferral. */
  #classify(err: GaxiosErrorLike, recipient: string, action: RemovalAction): Failure {
    const status = err.response?.status ?? err.status ?? 0;
    const data = err.response?.data as { error?: unknown; error_description?: string } | undefined;

    if (typeof data?.error === 'string')
      return this.#classifyTokenError(status, data.error, data.error_description ?? '', action);

    const apiError = (data?.error ?? {}) as { message?: string; errors?: { reason?: string }[] };
    const reason = apiError.errors?.[0]?.reason ?? '';
    const message = apiError.message ?? err.message;
    const retryAfterMs = parseRetryAfter(err.response?.headers?.get?.('retry-after'));

    if (
      status === 429 ||
      (status === 403 && /rateLimitExceeded|userRateLimitExceeded|dailyLimitExceeded/.test(reason))
    ) {
      return {
        kind: 'later',
        code: 'throttled',
        reason: `Gmail throttled requests for this user (${reason || status}: ${message})`,
        retryAfterMs,
      };
    }
    if (status === 0 || status >= 500)
      return {
        kind: 'later',
        code: 'unavailable',
        reason: `Gmail request failed (${status || err.code}: ${message})`,
        retryAfterMs,
      };
    if (status === 400 && reason === 'failedPrecondition')
      return {
        kind: 'final',
        code: 'mailbox_not_enabled',
        reason: `Gmail is not enabled for ${recipient} (${message})`,
      };
    if (status === 404) return { kind: 'final', code: 'mailbox_not_found', reason: `not found (${message})` };
    if (status === 403) {
      return {
        kind: 'final',
        code: 'permission_missing',
        reason: `access denied (${reason}: ${message}); delegate the ${action === 'hardDelete' ? FULL_SCOPE : MODIFY_SCOPE} scope to the service account`,
      };
    }
    return {
      kind: 'final',
      code: 'request_rejected',
      reason: `Gmail request failed with ${status} ${reason}: ${message}`,
    };
  }

  #classifyTokenError(status: number, error: string, description: string, action: RemovalAction): Failure {
    if (error === 'invalid_grant' && /Invalid email or User ID/i.test(description)) {
      return { kind: 'final', code: 'mailbox_not_found', reason: 'no such user in Google Workspace' };
    }
    if (status === 429 || status >= 500)
      return {
        kind: 'later',
        code: 'unavailable',
        reason: `token request failed with ${status} ${error}`,
        retryAfterMs: null,
      };
    if (error === 'unauthorized_client') {
      throw new EmailProviderConfigError(
        'delegation_missing',
        `service account ${this.#key.client_email} is not authorized for scope ${action === 'hardDelete' ? FULL_SCOPE : MODIFY_SCOPE}; add it under Security > API controls > Domain-wide delegation in the Google Admin console (${description})`,
      );
    }
    throw new EmailProviderConfigError(
      'credentials_rejected',
      `token request for service account ${this.#key.client_email} failed with ${error}: ${description}; store a valid key with \`tap-mdr email-provider set\``,
    );
  }
}

/** Keeps each user's Gmail usage under a number of quota units per rolling minute. */
class UserQuota {
  readonly #unitsPerMinute: number;
  readonly #usage = new Map<string, { at: number; units: number }[]>();

  constructor(unitsPerMinute: number) {
    this.#unitsPerMinute = unitsPerMinute;
  }

  /** Waits until `units` fit in the user's last minute of usage, then records them. */
  async take(user: string, units: number): Promise<void> {
    const key = user.toLowerCase();
    for (;;) {
      const now = Date.now();
      const recent = (this.#usage.get(key) ?? []).filter((entry) => now - entry.at < 60_000);
      const used = recent.reduce((sum, entry) => sum + entry.units, 0);
      if (used + units <= this.#unitsPerMinute || recent.length === 0) {
        recent.push({ at: now, units });
        this.#usage.set(key, recent);
        return;
      }
      await sleep(60_000 - (now - recent[0]!.at));
    }
  }
}

function parseServiceAccountKey(json: string): ServiceAccountKey {
  let parsed: Partial<ServiceAccountKey>;
  try {
    parsed = JSON.parse(json) as Partial<ServiceAccountKey>;
  } catch {
    throw new EmailProviderConfigError(
      'invalid_config',
      'the stored service account key is not valid JSON; store the key file that the Google Cloud console downloads',
    );
  }
  if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
    throw new EmailProviderConfigError(
      'invalid_config',
      'the stored service account key lacks client_email or private_key; store the JSON key file of the service account',
    );
  }
  return { client_email: parsed.client_email, private_key: parsed.private_key };
}
