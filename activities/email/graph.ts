/**
 * Microsoft 365 mail provider: finds every copy of a message by internetMessageId with Graph
 * `$batch` lookups and removes each copy (DELETE, permanentDelete or move).
 *
 * Item ids change when a message moves, and a second DELETE of a gone item may return 404
 * ErrorItemNotFound or 403 ErrorCannotDeleteObject. Such copies are counted as removed only
 * after a new lookup no longer finds them; copies found again under new ids are removed in
 * the next round.
 */
import {
  AuthenticationHandler,
  Client,
  type Context,
  type Middleware,
  TelemetryHandler,
} from '@microsoft/microsoft-graph-client';
import { EmailProviderConfigError, MailRetryLaterError } from './errors.ts';
import {
  runBatchSteps,
  isTransientStatus,
  type BatchSettings,
  type BatchStep,
  type StepResponse,
} from './graph-batch.ts';
import { GraphTokenSource } from './graph-token.ts';
import { createFetch, type FetchFunction } from './http.ts';
import { KeyedSemaphore, Semaphore } from './limiter.ts';
import { graphMessageIdFilter, isInDomains } from './message-id.ts';
import { finalResult, settleRemovalError } from './results.ts';
import type {
  BatchRemovalResult,
  DeferredRecipient,
  MailboxResult,
  MailProvider,
  Microsoft365Config,
  ProviderRuntimeOptions,
  RecipientCode,
  RemovalAction,
  RemovalOptions,
} from './types.ts';

const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';
const DEFAULT_GRAPH_BASE = 'https://graph.microsoft.com/';

/** Lookup rounds per call: the first lookup plus re-checks after 404s on stale ids. */
const MAX_ROUNDS = 3;

/** Per-recipient progress within one call. */
interface RecipientState {
  recipient: string;
  removed: number;
  found: number;
  /** Removals that returned 404 or 403 ErrorCannotDeleteObject, to be confirmed by the next lookup. */
  unconfirmed: number;
}

type Lookup =
  { copies: { id: string; parentFolderId: string }[] } | { settled: MailboxResult } | { deferred: DeferredRecipient };

/** {@link MailProvider} for Microsoft 365 through Microsoft Graph. */
export class GraphMailProvider implements MailProvider {
  readonly kind = 'microsoft365' as const;
  readonly #config: Microsoft365Config;
  readonly #client: Client;
  readonly #tokens: GraphTokenSource;
  readonly #mailboxLimit: KeyedSemaphore;
  readonly #batchLimit: Semaphore;
  readonly #runtime: Required<Pick<ProviderRuntimeOptions, 'maxInlineRetries' | 'maxInlineDelayMs'>>;

  constructor(config: Microsoft365Config, clientSecret: string, runtime: ProviderRuntimeOptions = {}) {
    const graphBaseUrl = config.graphBaseUrl ?? DEFAULT_GRAPH_BASE;
    const graphUrl = new URL(graphBaseUrl);
    if (graphUrl.protocol !== 'https:') {
      // The Graph client attaches the token only to https URLs.
      throw new EmailProviderConfigError('invalid_config', `graphBaseUrl '${graphBaseUrl}' must use https`);
    }

    const fetch = createFetch(runtime.caCertificates);
    this.#config = config;
    this.#tokens = new GraphTokenSource(
      {
        authorityUrl: config.authorityUrl ?? DEFAULT_AUTHORITY,
        tenantId: config.tenantId,
        clientId: config.clientId,
        clientSecret,
      },
      fetch,
    );
    this.#client = Client.initWithMiddleware({
      baseUrl: graphBaseUrl,
      defaultVersion: 'v1.0',
      customHosts: new Set([graphUrl.hostname]),
      // No RetryHandler: retries honour Retry-After in graph-batch.ts or through the activity's retry policy.
      middleware: [
        new AuthenticationHandler({ getAccessToken: () => this.#tokens.getToken() }),
        new TelemetryHandler(),
        new FetchHandler(fetch),
      ],
    });
    this.#mailboxLimit = new KeyedSemaphore(runtime.maxConcurrentPerMailbox ?? 4);
    this.#batchLimit = new Semaphore(runtime.maxConcurrentBatches ?? 8);
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
    const states = new Map<string, RecipientState>();

    for (const recipient of new Set(recipients)) {
      if (!isInDomains(recipient, this.#config.domains)) {
        results.push(
          finalResult(recipient, 'skipped', 0, 0, 'external_domain', 'recipient is outside the organization domains'),
        );
        continue;
      }
      states.set(recipient, {
        recipient,
        removed: options.copiesRemovedEarlier?.[recipient] ?? 0,
        found: 0,
        unconfirmed: 0,
      });
    }

    const quarantineFolderId =
      action === 'quarantine'
        ? await this.#quarantineFolderIds([...states.keys()], options)
        : new Map<string, string>();
    let round = [...states.values()];
    for (let attempt = 1; round.length > 0; attempt++) {
      const lookups = await this.#lookup(round, internetMessageId, options);
      const toRemove: { state: RecipientState; copy: { id: string } }[] = [];

      for (const state of round) {
        const lookup = lookups.get(state.recipient)!;
        if ('settled' in lookup) results.push(lookup.settled);
        else if ('deferred' in lookup) deferred.push({ ...lookup.deferred, copiesRemoved: state.removed });
        else this.#plan(state, lookup.copies, action, attempt, quarantineFolderId, toRemove, results);
      }

      const next = await this.#remove(toRemove, action, options, results, deferred);
      round = attempt < MAX_ROUNDS ? next : [];
      for (const state of attempt < MAX_ROUNDS ? [] : next) results.push(this.#done(state, state.unconfirmed));
    }
    return { results, deferred };
  }

  async check(mailbox: string): Promise<void> {
    // The same kind of request as a real lookup, for a Message-ID that matches nothing.
    const filter = graphMessageIdFilter('<tap-mdr-check@invalid>');
    const responses = await this.#batch([
      {
        id: 'check',
        mailbox,
        method: 'GET',
        url: `/users/${encodeURIComponent(mailbox)}/messages?$filter=${filter}&$select=id&$top=1`,
      },
    ]);
    const response = responses.get('check')!;
    if (response.status === 200) return;
    const classified = classifyGraphError(response);
    throw new EmailProviderConfigError(
      classified.code === 'permission_missing' ? 'consent_missing' : 'invalid_config',
      `reading mailbox ${mailbox} failed: ${classified.reason}`,
    );
  }

  /** Decides what to do with the copies one lookup found. */
  #plan(
    state: RecipientState,
    copies: { id: string; parentFolderId: string }[],
    action: RemovalAction,
    attempt: number,
    quarantineFolderId: Map<string, string>,
    toRemove: { state: RecipientState; copy: { id: string } }[],
    results: MailboxResult[],
  ): void {
    // Copies that vanished after a 404/403 on their old id are confirmed gone by this lookup.
    if (attempt > 1) {
      state.removed += Math.max(0, state.unconfirmed - copies.length);
      state.unconfirmed = 0;
    }

    const destination = quarantineFolderId.get(state.recipient);
    const alreadyThere = destination === undefined ? [] : copies.filter((copy) => copy.parentFolderId === destination);
    const pending = copies.filter((copy) => !alreadyThere.includes(copy));
    if (attempt === 1) {
      state.found = copies.length;
      state.removed += alreadyThere.length;
    }

    if (action === 'dryRun') {
      const found = state.found;
      results.push(
        found > 0
          ? finalResult(state.recipient, 'skipped', 0, found, 'dry_run', `dry run: ${found} copies would be removed`)
          : finalResult(state.recipient, 'not_found', 0, 0, null, null),
      );
      return;
    }
    if (pending.length === 0) {
      results.push(this.#done(state, 0));
      return;
    }
    for (const copy of pending) toRemove.push({ state, copy });
  }

  /** Removes the planned copies; returns the recipients whose removals need a confirming lookup. */
  async #remove(
    toRemove: { state: RecipientState; copy: { id: string } }[],
    action: RemovalAction,
    options: RemovalOptions,
    results: MailboxResult[],
    deferred: DeferredRecipient[],
  ): Promise<RecipientState[]> {
    const steps = toRemove.map(({ state, copy }, index) =>
      removalStep(String(index), state.recipient, copy.id, action, this.#config.quarantineFolder),
    );
    const responses = await this.#batch(steps, options.signal);

    const outcome = new Map<RecipientState, { failure?: MailboxResult; later?: DeferredRecipient }>();
    toRemove.forEach(({ state }, index) => {
      const response = responses.get(String(index))!;
      const entry = outcome.get(state) ?? {};
      outcome.set(state, entry);

      if (response.status >= 200 && response.status < 300) {
        state.removed += 1;
        options.onCopyRemoved?.(state.recipient, state.removed);
      } else if (isGoneAnswer(response)) {
        state.unconfirmed += 1;
      } else if (isTransientStatus(response.status)) {
        entry.later ??= deferral(state, response);
      } else {
        entry.failure ??= settleRemovalError(state.recipient, state.removed, state.found, classifyGraphError(response));
      }
    });

    const recheck: RecipientState[] = [];
    for (const [state, entry] of outcome) {
      if (entry.failure) results.push(entry.failure);
      else if (entry.later) deferred.push({ ...entry.later, copiesRemoved: state.removed });
      else if (state.unconfirmed > 0) recheck.push(state);
      else results.push(this.#done(state, 0));
    }
    return recheck;
  }

  #done(state: RecipientState, unconfirmed: number): MailboxResult {
    const copies = state.removed + unconfirmed;
    return copies > 0
      ? finalResult(state.recipient, 'deleted', copies, state.found, null, null)
      : finalResult(state.recipient, 'not_found', 0, state.found, null, null);
  }

  async #lookup(
    round: RecipientState[],
    internetMessageId: string,
    options: RemovalOptions,
  ): Promise<Map<string, Lookup>> {
    const filter = graphMessageIdFilter(internetMessageId);
    const steps: BatchStep[] = round.map((state, index) => ({
      id: String(index),
      mailbox: state.recipient,
      method: 'GET',
      url: `/users/${encodeURIComponent(state.recipient)}/messages?$filter=${filter}&$select=id,internetMessageId,parentFolderId&$top=100`,
    }));
    const responses = await this.#batch(steps, options.signal);

    const lookups = new Map<string, Lookup>();
    round.forEach((state, index) => {
      const response = responses.get(String(index))!;
      if (response.status === 200) {
        const value = ((response.body as { value?: GraphMessage[] }).value ?? []).filter(
          (message) => message.internetMessageId === internetMessageId,
        );
        // NOTE: more than 100 copies in one mailbox (an @odata.nextLink) is not followed; the rest are left in place.
        lookups.set(state.recipient, {
          copies: value.map((message) => ({ id: message.id, parentFolderId: message.parentFolderId ?? '' })),
        });
      } else if (isTransientStatus(response.status)) {
        lookups.set(state.recipient, { deferred: deferral(state, response) });
      } else {
        const classified = classifyGraphError(response);
        lookups.set(state.recipient, { settled: settleRemovalError(state.recipient, state.removed, 0, classified) });
      }
    });
    return lookups;
  }

  /** Resolves the quarantine folder's id in each mailbox, so copies already there are not moved again. */
  async #quarantineFolderIds(recipients: string[], options: RemovalOptions): Promise<Map<string, string>> {
    const folder = encodeURIComponent(this.#config.quarantineFolder ?? 'junkemail');
    const steps: BatchStep[] = recipients.map((recipient, index) => ({
      id: String(index),
      mailbox: recipient,
      method: 'GET',
      url: `/users/${encodeURIComponent(recipient)}/mailFolders/${folder}?$select=id`,
    }));
    const responses = await this.#batch(steps, options.signal);

    const ids = new Map<string, string>();
    recipients.forEach((recipient, index) => {
      const body = responses.get(String(index))!.body as { id?: string } | null;
      if (body?.id) ids.set(recipient, body.id);
    });
    return ids;
  }

  async #batch(steps: BatchStep[], signal?: AbortSignal): Promise<Map<string, StepResponse>> {
    // Token errors are fetched here so they surface as themselves; the Graph client would wrap them in a GraphError.
    await this.#tokens.getToken();
    const settings: BatchSettings = {
      client: this.#client,
      mailboxLimit: this.#mailboxLimit,
      batchLimit: this.#batchLimit,
      ...this.#runtime,
      onUnauthorized: () => this.#tokens.invalidate(),
      ...(signal ? { signal } : {}),
    };
    return runBatchSteps(steps, settings);
  }
}

interface GraphMessage {
  id: string;
  internetMessageId?: string;
  parentFolderId?: string;
}

/** Builds the sub-request that applies `action` to one copy. */
function removalStep(
  id: string,
  mailbox: string,
  messageId: string,
  action: RemovalAction,
  quarantineFolder = 'junkemail',
): BatchStep {
  const base = `/users/${encodeURIComponent(mailbox)}/messages/${encodeURIComponent(messageId)}`;
  if (action === 'hardDelete') return { id, mailbox, method: 'POST', url: `${base}/permanentDelete` };
  if (action === 'quarantine')
    return { id, mailbox, method: 'POST', url: `${base}/move`, body: { destinationId: quarantineFolder } };
  return { id, mailbox, method: 'DELETE', url: base };
}

/** True for the errors Graph returns for an id that no longer exists (deleted or moved). */
function isGoneAnswer(response: StepResponse): boolean {
  const code = errorCode(response);
  return (
    (response.status === 404 && code === 'ErrorItemNotFound') ||
    (response.status === 403 && code === 'ErrorCannotDeleteObject')
  );
}

function deferral(state: RecipientState, response: StepResponse): DeferredRecipient {
  const throttled = response.status === 429;
  return {
    recipient: state.recipient,
    code: throttled ? 'throttled' : 'unavailable',
    reason: throttled
      ? `Graph throttled requests for this mailbox (${errorCode(response)})`
      : `Graph request failed with status ${response.status} (${errorCode(response)})`,
    retryAfterMs: response.retryAfterMs,
    copiesRemoved: state.removed,
  };
}

/** Maps a final Graph error to a recipient code and a plain reason. */
export function classifyGraphError(response: StepResponse): { code: RecipientCode; reason: string } {
  const code = errorCode(response);
  const message = (response.body as { error?: { message?: string } } | null)?.error?.message ?? '';
  if (code === 'MailboxNotEnabledForRESTAPI')
    return {
      code: 'mailbox_not_enabled',
      reason: `mailbox is not reachable over Graph (inactive, unlicensed or on-premises): ${message}`,
    };
  if (response.status === 404 && code !== 'ErrorItemNotFound')
    return { code: 'mailbox_not_found', reason: `no such user or mailbox (${code})` };
  if (response.status === 403) {
    return {
      code: 'permission_missing',
      reason: `access denied (${code}: ${message}); grant the Mail.ReadWrite application permission with admin consent, or allow this mailbox in the application access policy`,
    };
  }
  return { code: 'request_rejected', reason: `Graph request failed with ${response.status} ${code}: ${message}` };
}

function errorCode(response: StepResponse): string {
  return (response.body as { error?: { code?: string } } | null)?.error?.code ?? `HTTP ${response.status}`;
}

/** Last middleware: sends the request with the provider's fetch (which may trust extra CAs). */
class FetchHandler implements Middleware {
  readonly #fetch: FetchFunction;

  constructor(fetch: FetchFunction) {
    this.#fetch = fetch;
  }

  async execute(context: Context): Promise<void> {
    context.response = await this.#fetch(context.request, context.options as RequestInit);
  }
}
