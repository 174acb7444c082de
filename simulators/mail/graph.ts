/**
 * Simulated Microsoft Graph mail endpoints (v1.0):
 *
 * - `GET /users/{id}/messages?$filter=internetMessageId eq '…'` with `$select`, `$top`, paging
 * - `GET /users/{id}/mailFolders/{id or well-known name}`
 * - `DELETE /users/{id}/messages/{id}`: soft delete into Recoverable Items (new id)
 * - `POST /users/{id}/messages/{id}/permanentDelete` (also `microsoft.graph.permanentDelete`)
 * - `POST /users/{id}/messages/{id}/move` with `{ destinationId }`: returns the copy with a new id
 * - `POST /$batch` with at most 20 requests, run at most 4 at a time as Exchange does
 *
 * The query string is decoded as Graph decodes it (`+` is a space), so a client that does not
 * percent-encode the Message-ID fails here as it fails against Graph.
 */
import { randomBytes } from 'node:crypto';
import { bearerToken, splitUrl, type RouteContext, type SimRequest, type SimResponse } from './http.ts';
import { folderId, resolveFolder, SOFT_DELETED_FOLDER, type Mailboxes, type StoredMessage } from './mailboxes.ts';
import type { TokenIssuer } from './tokens.ts';

/** Maximum requests in one `$batch` (Graph JSON batching limit). */
export const GRAPH_BATCH_LIMIT = 20;

/** Sub-requests of one `$batch` that Exchange runs in parallel. */
const BATCH_PARALLELISM = 4;

const DEFAULT_PAGE_SIZE = 10;

/** Serves the Graph routes below `/v1.0`. */
export class GraphRoutes {
  readonly #mailboxes: Mailboxes;
  readonly #tokens: TokenIssuer;
  readonly #context: RouteContext;

  constructor(mailboxes: Mailboxes, tokens: TokenIssuer, context: RouteContext) {
    this.#mailboxes = mailboxes;
    this.#tokens = tokens;
    this.#context = context;
  }

  /** Handles a request whose path starts with `/v1.0/`. */
  async handle(request: SimRequest): Promise<SimResponse> {
    const issued = this.#tokens.lookup(bearerToken(request.headers));
    if (!issued || issued.api !== 'graph') {
      return graphError(401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    }

    const path = request.rawPath.replace(/^\/v1\.0/, '');
    if (path === '/$batch' && request.method === 'POST') return this.#batch(request);

    const users = /^\/users\/([^/]+)(\/.*)$/.exec(path);
    if (!users) return graphError(400, 'BadRequest', `Resource not found for the segment '${path}'.`);
    const mailbox = decodeURIComponent(users[1]!);

    const started = await this.#mailboxRequest(request, mailbox, users[2]!, issued.grants);
    this.#context.log({
      api: 'graph',
      method: request.method,
      url: request.rawQuery ? `${request.rawPath}?${request.rawQuery}` : request.rawPath,
      mailbox: mailbox.toLowerCase(),
      status: started.status,
      inBatch: request.inBatch,
    });
    return started;
  }

  async #mailboxRequest(request: SimRequest, mailbox: string, rest: string, roles: string[]): Promise<SimResponse> {
    const status = this.#mailboxes.status(mailbox);
    if (status === 'missing') return graphError(404, 'ErrorInvalidUser', `The requested user '${mailbox}' is invalid.`);
    if (status === 'disabled') {
      return graphError(
        404,
        'MailboxNotEnabledForRESTAPI',
        'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
      );
    }

    const fault = this.#context.takeFault('graph', mailbox, request.inBatch);
    if (fault) return faultResponse(fault);
    if (!roles.includes('Mail.ReadWrite')) {
      return graphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    }

    const release = this.#context.enterMailbox('graph', mailbox);
    if (!release) {
      return graphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
        'Retry-After': '1',
      });
    }
    try {
      await this.#context.delay();
      return this.#route(request, mailbox, rest);
    } finally {
      release();
    }
  }

  #route(request: SimRequest, mailbox: string, rest: string): SimResponse {
    if (rest === '/messages' && request.method === 'GET') return this.#listMessages(request, mailbox);

    const folder = /^\/mailFolders\/([^/]+)$/.exec(rest);
    if (folder && request.method === 'GET') {
      const name = resolveFolder(decodeURIComponent(folder[1]!));
      if (!name) return graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      return { status: 200, body: { id: folderId(name), displayName: name } };
    }

    const item = /^\/messages\/([^/]+)(?:\/(move|permanentDelete|microsoft\.graph\.permanentDelete))?$/.exec(rest);
    if (!item) return graphError(400, 'BadRequest', `Resource not found for the segment '${rest}'.`);

    const message = this.#mailboxes.findByGraphId(mailbox, decodeURIComponent(item[1]!));
    if (!message) return graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');

    const action = item[2];
    if (action === undefined && request.method === 'DELETE') {
      this.#mailboxes.move(message, SOFT_DELETED_FOLDER);
      return { status: 204 };
    }
    if (action !== undefined && action.endsWith('permanentDelete') && request.method === 'POST') {
      this.#mailboxes.purge(mailbox, message);
      return { status: 204 };
    }
    if (action === 'move' && request.method === 'POST') return this.#move(request, message);
    return graphError(405, 'ErrorInvalidRequest', `The OData request is not supported: ${request.method} ${rest}.`);
  }

  #listMessages(request: SimRequest, mailbox: string): SimResponse {
    const filter = request.query.get('$filter');
    if (filter === null)
      return graphError(400, 'BadRequest', 'This simulator supports only $filter=internetMessageId eq.');

    const match = /^internetMessageId eq '((?:[^']|'')*)'$/.exec(filter);
    if (!match)
      return graphError(400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
    const internetMessageId = match[1]!.replaceAll("''", "'");

    const top = Number(request.query.get('$top') ?? DEFAULT_PAGE_SIZE);
    const skip = Number(request.query.get('$skip') ?? 0);
    const all = this.#mailboxes.findByInternetMessageId(mailbox, internetMessageId);
    const page = all.slice(skip, skip + top);

    const body: Record<string, unknown> = { value: page.map(toGraphMessage) };
    if (skip + top < all.length) {
      const next = new URLSearchParams(request.query);
      next.set('$skip', String(skip + top));
      body['@odata.nextLink'] =
        `${request.headers['x-sim-base-url'] ?? ''}${request.rawPath}?${next.toString().replaceAll('+', '%20')}`;
    }
    return { status: 200, body };
  }

  #move(request: SimRequest, message: StoredMessage): SimResponse {
    const destinationId = (request.body as { destinationId?: unknown } | null)?.destinationId;
    const folder = typeof destinationId === 'string' ? resolveFolder(destinationId) : undefined;
    if (!folder) return graphError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
    return { status: 201, body: toGraphMessage(this.#mailboxes.move(message, folder)) };
  }

  async #batch(request: SimRequest): Promise<SimResponse> {
    const requests = (request.body as { requests?: unknown } | null)?.requests;
    if (!Array.isArray(requests)) return graphError(400, 'BadRequest', 'Invalid batch payload format.');
    if (requests.length > GRAPH_BATCH_LIMIT) {
      return graphError(
        400,
        'BadRequest',
        `A batch request supports up to ${GRAPH_BATCH_LIMIT} requests; received ${requests.length}.`,
      );
    }
    const ids = new Set(requests.map((entry: { id?: unknown }) => String(entry.id)));
    if (ids.size !== requests.length) return graphError(400, 'BadRequest', 'Batch request ids must be unique.');

    // Completion order, not request order: clients must correlate by id, as with Graph.
    const responses: unknown[] = [];
    const queue = [...(requests as BatchEntry[])];
    const worker = async (): Promise<void> => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        const response = await this.handle(this.#subRequest(request, entry));
        responses.push({
          id: String(entry.id),
          status: response.status,
          headers: response.headers ?? {},
          body: response.body,
        });
      }
    };
    await Promise.all(Array.from({ length: BATCH_PARALLELISM }, worker));

    this.#context.log({
      api: 'graph',
      method: 'POST',
      url: request.rawPath,
      mailbox: null,
      status: 200,
      inBatch: false,
    });
    return { status: 200, body: { responses } };
  }

  #subRequest(outer: SimRequest, entry: BatchEntry): SimRequest {
    const { rawPath, rawQuery } = splitUrl(String(entry.url ?? ''));
    return {
      method: String(entry.method ?? 'GET').toUpperCase(),
      rawPath: `/v1.0${rawPath.startsWith('/') ? '' : '/'}${rawPath}`,
      rawQuery,
      query: new URLSearchParams(rawQuery),
      headers: { ...outer.headers, ...lowerCaseKeys(entry.headers ?? {}) },
      body: entry.body ?? null,
      inBatch: true,
    };
  }
}

interface BatchEntry {
  id?: unknown;
  method?: unknown;
  url?: unknown;
  headers?: Record<string, string>;
  body?: unknown;
}

function toGraphMessage(message: StoredMessage): Record<string, unknown> {
  return {
    id: message.graphId,
    internetMessageId: message.internetMessageId,
    subject: message.subject,
    parentFolderId: folderId(message.folder),
  };
}

function faultResponse(fault: { kind: string; retryAfter?: string }): SimResponse {
  if (fault.kind === 'permissionMissing') return graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled.');
  if (fault.kind === 'serverError')
    return graphError(503, 'ServiceUnavailable', 'The service is temporarily unavailable.');
  const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter };
  return graphError(429, 'TooManyRequests', 'Too many requests, please try again later.', headers);
}

/** Builds the Graph error envelope `{ error: { code, message, innerError } }`. */
export function graphError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers,
    body: {
      error: {
        code,
        message,
        innerError: { 'request-id': randomBytes(16).toString('hex'), date: new Date().toISOString() },
      },
    },
  };
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
