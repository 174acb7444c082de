/**
 * Simulated Gmail API (v1) message endpoints for a service account acting as each user:
 *
 * - `GET /gmail/v1/users/{userId}/messages?q=rfc822msgid:…&includeSpamTrash=…`
 * - `POST /gmail/v1/users/{userId}/messages/{id}/trash`
 * - `POST /gmail/v1/users/{userId}/messages/{id}/modify` with `{ addLabelIds, removeLabelIds }`
 * - `DELETE /gmail/v1/users/{userId}/messages/{id}`
 *
 * Scopes are checked per method as Google documents them (delete needs `https://mail.google.com/`),
 * and each user has a quota of units per minute (list 5, trash 5, modify 5, delete 10).
 */
import { bearerToken, type RouteContext, type SimRequest, type SimResponse } from './http.ts';
import { FOLDER_LABELS, type Mailboxes, type StoredMessage } from './mailboxes.ts';
import type { IssuedToken, TokenIssuer } from './tokens.ts';

const FULL_SCOPE = 'https://mail.google.com/';
const MODIFY_SCOPE = 'https://www.googleapis.com/auth/gmail.modify';
const READONLY_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

/** Quota units per method (Gmail API usage limits). */
const UNITS = { list: 5, trash: 5, modify: 5, delete: 10 } as const;

const HIDDEN_WITHOUT_SPAM_TRASH = new Set(['junkemail', 'deleteditems']);

/** Serves the Gmail routes below `/gmail/v1`. */
export class GmailRoutes {
  readonly #mailboxes: Mailboxes;
  readonly #tokens: TokenIssuer;
  readonly #context: RouteContext;
  readonly #quotaPerMinute: number;
  readonly #usage = new Map<string, { at: number; units: number }[]>();

  constructor(mailboxes: Mailboxes, tokens: TokenIssuer, context: RouteContext, quotaPerMinute: number) {
    this.#mailboxes = mailboxes;
    this.#tokens = tokens;
    this.#context = context;
    this.#quotaPerMinute = quotaPerMinute;
  }

  /** Handles a request whose path starts with `/gmail/v1/`. */
  async handle(request: SimRequest): Promise<SimResponse> {
    const match = /^\/gmail\/v1\/users\/([^/]+)\/messages(?:\/([^/]+)(?:\/(trash|modify))?)?$/.exec(request.rawPath);
    const userId = match ? decodeURIComponent(match[1]!) : '';
    const response = await this.#handle(request, match, userId);
    // `me` is logged as the impersonated user, so that tests can filter the log by mailbox.
    const subject = this.#tokens.lookup(bearerToken(request.headers))?.subject ?? null;
    const mailbox = userId === 'me' ? subject : userId || null;
    this.#context.log({
      api: 'gmail',
      method: request.method,
      url: request.rawQuery ? `${request.rawPath}?${request.rawQuery}` : request.rawPath,
      mailbox: mailbox?.toLowerCase() ?? null,
      status: response.status,
      inBatch: false,
    });
    return response;
  }

  async #handle(request: SimRequest, match: RegExpExecArray | null, userId: string): Promise<SimResponse> {
    const issued = this.#tokens.lookup(bearerToken(request.headers));
    if (!issued || issued.api !== 'gmail') {
      return gmailError(401, 'authError', 'Request had invalid authentication credentials.', 'UNAUTHENTICATED');
    }
    if (!match) return gmailError(404, 'notFound', 'Not Found', 'NOT_FOUND');

    const mailbox = this.#mailboxFor(issued, userId);
    if (typeof mailbox !== 'string') return mailbox;

    const fault = this.#context.takeFault('gmail', mailbox, false);
    if (fault) return faultResponse(fault);

    const release = this.#context.enterMailbox('gmail', mailbox);
    if (!release)
      return gmailError(429, 'rateLimitExceeded', 'Too many concurrent requests for user.', 'RESOURCE_EXHAUSTED');
    try {
      await this.#context.delay();
      return this.#route(request, issued, mailbox, match[2] && decodeURIComponent(match[2]), match[3]);
    } finally {
      release();
    }
  }

  /** Resolves `me` or an address to the impersonated mailbox, or returns the error Gmail gives. */
  #mailboxFor(issued: IssuedToken, userId: string): string | SimResponse {
    if (issued.subject === null) {
      // A service account without a delegated subject has no mailbox of its own.
      return gmailError(400, 'failedPrecondition', 'Precondition check failed.', 'FAILED_PRECONDITION');
    }
    if (userId !== 'me' && userId.toLowerCase() !== issued.subject.toLowerCase()) {
      return gmailError(403, 'forbidden', `Delegation denied for ${issued.subject}`, 'PERMISSION_DENIED');
    }
    if (this.#mailboxes.status(issued.subject) === 'disabled') {
      return gmailError(400, 'failedPrecondition', 'Mail service not enabled', 'FAILED_PRECONDITION');
    }
    return issued.subject;
  }

  #route(
    request: SimRequest,
    issued: IssuedToken,
    mailbox: string,
    id: string | undefined,
    action: string | undefined,
  ): SimResponse {
    const method = id === undefined ? 'list' : (action ?? (request.method === 'DELETE' ? 'delete' : 'get'));
    if (method === 'get') return gmailError(405, 'badRequest', 'messages.get is not simulated.', 'INVALID_ARGUMENT');

    const allowed =
      method === 'delete'
        ? [FULL_SCOPE]
        : method === 'list'
          ? [FULL_SCOPE, MODIFY_SCOPE, READONLY_SCOPE]
          : [FULL_SCOPE, MODIFY_SCOPE];
    if (!issued.grants.some((scope) => allowed.includes(scope))) {
      return gmailError(
        403,
        'insufficientPermissions',
        'Request had insufficient authentication scopes.',
        'PERMISSION_DENIED',
      );
    }
    if (!this.#charge(mailbox, UNITS[method as keyof typeof UNITS])) {
      return gmailError(403, 'userRateLimitExceeded', 'User-rate limit exceeded.', 'PERMISSION_DENIED');
    }

    if (method === 'list') return this.#list(request, mailbox);
    const message = this.#mailboxes.findByGmailId(mailbox, id!);
    if (!message) return gmailError(404, 'notFound', 'Requested entity was not found.', 'NOT_FOUND');

    if (method === 'delete') {
      this.#mailboxes.purge(mailbox, message);
      return { status: 204 };
    }
    if (method === 'trash') {
      message.folder = 'deleteditems';
      return { status: 200, body: toGmailMessage(message) };
    }
    return this.#modify(request, message);
  }

  #list(request: SimRequest, mailbox: string): SimResponse {
    const q = request.query.get('q') ?? '';
    const match = /(?:^|\s)rfc822msgid:(\S+)/.exec(q);
    if (!match)
      return gmailError(400, 'invalidArgument', 'This simulator supports only q=rfc822msgid:<id>.', 'INVALID_ARGUMENT');

    const requested = stripBrackets(match[1]!);
    const includeSpamTrash = request.query.get('includeSpamTrash') === 'true';
    const found = this.#mailboxes
      .listMessages(mailbox)
      .filter((message) => stripBrackets(message.internetMessageId) === requested)
      .filter((message) => includeSpamTrash || !HIDDEN_WITHOUT_SPAM_TRASH.has(message.folder))
      .filter((message) => message.folder !== 'recoverableitemsdeletions');

    // Gmail omits `messages` when nothing matches.
    const body: Record<string, unknown> = { resultSizeEstimate: found.length };
    if (found.length > 0) body.messages = found.map((message) => ({ id: message.gmailId, threadId: message.gmailId }));
    return { status: 200, body };
  }

  #modify(request: SimRequest, message: StoredMessage): SimResponse {
    const body = (request.body ?? {}) as { addLabelIds?: string[]; removeLabelIds?: string[] };
    const added = body.addLabelIds ?? [];
    const folderByLabel = Object.fromEntries(Object.entries(FOLDER_LABELS).map(([folder, label]) => [label, folder]));

    // Gmail labels are not folders; a message takes the folder of the last system label added.
    for (const label of added) message.folder = folderByLabel[label] ?? label.toLowerCase();
    if ((body.removeLabelIds ?? []).includes(FOLDER_LABELS[message.folder] ?? '') && added.length === 0) {
      message.folder = 'archive';
    }
    return { status: 200, body: toGmailMessage(message) };
  }

  /** Records `units` against the user's per-minute quota; false when the quota would be exceeded. */
  #charge(mailbox: string, units: number): boolean {
    const now = Date.now();
    const recent = (this.#usage.get(mailbox) ?? []).filter((entry) => now - entry.at < 60_000);
    const used = recent.reduce((sum, entry) => sum + entry.units, 0);
    if (used + units > this.#quotaPerMinute) {
      this.#usage.set(mailbox, recent);
      return false;
    }
    recent.push({ at: now, units });
    this.#usage.set(mailbox, recent);
    return true;
  }
}

function stripBrackets(messageId: string): string {
  return messageId.replace(/^<(.*)>$/, '$1');
}

function toGmailMessage(message: StoredMessage): Record<string, unknown> {
  const label = FOLDER_LABELS[message.folder] ?? message.folder.toUpperCase();
  return { id: message.gmailId, threadId: message.gmailId, labelIds: [label] };
}

function faultResponse(fault: { kind: string; retryAfter?: string; gmailReason?: string }): SimResponse {
  if (fault.kind === 'permissionMissing') {
    return gmailError(
      403,
      'insufficientPermissions',
      'Request had insufficient authentication scopes.',
      'PERMISSION_DENIED',
    );
  }
  if (fault.kind === 'serverError')
    return gmailError(503, 'backendError', 'The service is currently unavailable.', 'UNAVAILABLE');
  const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter };
  if (fault.gmailReason)
    return { ...gmailError(403, fault.gmailReason, 'User-rate limit exceeded.', 'PERMISSION_DENIED'), headers };
  return {
    ...gmailError(429, 'rateLimitExceeded', 'Resource has been exhausted (e.g. check quota).', 'RESOURCE_EXHAUSTED'),
    headers,
  };
}

/** Builds Google's error envelope `{ error: { code, message, errors: [{ reason }], status } }`. */
function gmailError(code: number, reason: string, message: string, status: string): SimResponse {
  return {
    status: code,
    body: { error: { code, message, errors: [{ message, domain: 'global', reason }], status } },
  };
}
