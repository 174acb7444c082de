/**
 * A local Microsoft Graph and Gmail for tests, the demo and benchmarks: seeded mailboxes,
 * both token endpoints, and the failures remediation must survive (throttling with
 * Retry-After, throttled `$batch` sub-requests, 403, 404, a per-mailbox concurrency limit).
 *
 * The official clients reach it by configuration alone. The Graph client attaches its token
 * only to https URLs of Graph or of `customHosts`, so Graph tests run it with `tls`.
 *
 * `GET /__admin/mailboxes` (no auth) returns every mailbox and copy, for a test or an operator
 * that runs in another process than the simulator.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { GmailRoutes } from './gmail.ts';
import { graphError, GraphRoutes } from './graph.ts';
import {
  flattenHeaders,
  splitUrl,
  type LoggedRequest,
  type MailFault,
  type RouteContext,
  type SimRequest,
  type SimResponse,
} from './http.ts';
import { Mailboxes, type MessageView, type NewMessage } from './mailboxes.ts';
import { TokenIssuer, type GraphApp, type ServiceAccountKey } from './tokens.ts';

export type { LoggedRequest, MailFault } from './http.ts';
export type { MessageView, NewMessage } from './mailboxes.ts';
export type { GraphApp, ServiceAccountKey } from './tokens.ts';

/** Options of {@link startMailSimulator}. */
export interface MailSimulatorOptions {
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** PEM key and certificate; serves HTTPS when given. */
  tls?: { key: string; cert: string };
  /** Delay added to every API request and `$batch` sub-request, in milliseconds; default 0. */
  latencyMs?: number;
  /** In-flight requests allowed per mailbox and API before 429 ApplicationThrottled; default 4, as Exchange Online. */
  maxConcurrentPerMailbox?: number;
  /** Gmail quota units per user per minute; default 15,000, as Gmail. */
  gmailUserQuotaPerMinute?: number;
  /** The Graph app registration the token endpoint accepts; fields left out get simulator defaults. */
  graphApp?: Partial<GraphApp>;
  /** Scopes delegated to the Google service account; default `https://mail.google.com/` and `gmail.modify`. */
  googleDelegatedScopes?: string[];
}

/** A running simulator. */
export interface MailSimulator {
  /** Base URL, e.g. `https://127.0.0.1:40123`. */
  url: string;
  /** Graph client `baseUrl` (the client appends `v1.0/…`). */
  graphBaseUrl: string;
  /** Authority host for client credentials; the token URL is `{authorityUrl}/{tenant}/oauth2/v2.0/token`. */
  authorityUrl: string;
  /** googleapis `rootUrl` (the client appends `gmail/v1/…`). */
  gmailRootUrl: string;
  /** Google token endpoint for the JWT bearer grant. */
  googleTokenUrl: string;
  /** The Graph app the token endpoint accepts. */
  graphApp: GraphApp;
  /** A service account key whose signatures the Google token endpoint accepts. */
  googleServiceAccountKey: ServiceAccountKey;
  /** Creates a mailbox; `enabled: false` makes it reject REST calls (unlicensed or on-premises). */
  addMailbox(address: string, options?: { enabled?: boolean }): void;
  /** Adds one copy of a message to a mailbox, creating the mailbox when needed. */
  addMessage(address: string, message: NewMessage): MessageView;
  /** Returns every copy in a mailbox, soft-deleted ones (folder `recoverableitemsdeletions`) included. */
  listMessages(address: string): MessageView[];
  /** Returns the address of every mailbox, in creation order. */
  listMailboxes(): string[];
  /** Adds a fault; see {@link MailFault}. */
  setFault(fault: MailFault): void;
  clearFaults(): void;
  /** Replaces the application permissions that new Graph tokens carry, e.g. `[]` for consent not granted. */
  setGraphRoles(roles: string[]): void;
  /** Every request so far, oldest first; `$batch` sub-requests are logged one by one. */
  readonly requestLog: LoggedRequest[];
  /** Highest number of requests seen in flight at once, per API and mailbox (`graph:user@example.com`). */
  readonly peakConcurrency: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** Starts the simulator on 127.0.0.1. */
export async function startMailSimulator(options: MailSimulatorOptions = {}): Promise<MailSimulator> {
  const mailboxes = new Mailboxes();
  const state = new SimulatorState(options);
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }) : createHttpServer();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const googleTokenUrl = `${url}/google/token`;

  const tokens = new TokenIssuer(
    mailboxes,
    {
      tenantId: options.graphApp?.tenantId ?? 'sim-tenant',
      clientId: options.graphApp?.clientId ?? '00000000-0000-0000-0000-00000000c1e7',
      clientSecret: options.graphApp?.clientSecret ?? 'sim-client-secret',
      roles: options.graphApp?.roles ?? ['Mail.ReadWrite'],
    },
    options.googleDelegatedScopes ?? ['https://mail.google.com/', 'https://www.googleapis.com/auth/gmail.modify'],
    googleTokenUrl,
  );
  const graph = new GraphRoutes(mailboxes, tokens, state);
  const gmail = new GmailRoutes(mailboxes, tokens, state, options.gmailUserQuotaPerMinute ?? 15_000);

  const route = async (request: SimRequest): Promise<SimResponse> => {
    if (request.rawPath.startsWith('/v1.0/')) return graph.handle(request);
    if (request.rawPath.startsWith('/gmail/v1/')) return gmail.handle(request);
    if (request.method === 'GET' && request.rawPath === '/__admin/mailboxes') return adminMailboxes(mailboxes);
    return tokenRoute(request, tokens, googleTokenUrl, state);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res, url, route).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'InternalServerError', message: String(err) } }));
    });
  });

  return {
    url,
    graphBaseUrl: `${url}/`,
    authorityUrl: url,
    gmailRootUrl: `${url}/`,
    googleTokenUrl,
    graphApp: tokens.graphApp,
    googleServiceAccountKey: tokens.serviceAccountKey,
    addMailbox: (address, mailboxOptions) => mailboxes.addMailbox(address, mailboxOptions),
    addMessage: (address, message) => mailboxes.addMessage(address, message),
    listMessages: (address) => mailboxes.listMessages(address),
    listMailboxes: () => mailboxes.addresses(),
    setFault: (fault) => state.faults.push({ ...fault }),
    clearFaults: () => state.faults.splice(0),
    setGraphRoles: (roles) => {
      tokens.graphApp.roles = [...roles];
    },
    requestLog: state.requestLog,
    peakConcurrency: state.peak,
    close: () => closeServer(server),
  };
}

/** Faults, concurrency counters, latency and the request log. */
class SimulatorState implements RouteContext {
  readonly faults: MailFault[] = [];
  readonly requestLog: LoggedRequest[] = [];
  readonly peak = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #limit: number;
  readonly #latencyMs: number;

  constructor(options: MailSimulatorOptions) {
    this.#limit = options.maxConcurrentPerMailbox ?? 4;
    this.#latencyMs = options.latencyMs ?? 0;
  }

  takeFault(api: 'graph' | 'gmail', mailbox: string, inBatch: boolean): MailFault | undefined {
    const index = this.faults.findIndex(
      (fault) =>
        (fault.api === undefined || fault.api === api) &&
        (fault.mailbox === undefined || fault.mailbox.toLowerCase() === mailbox.toLowerCase()) &&
        !(fault.kind === 'throttle' && fault.inBatchOnly && !inBatch),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.faults.splice(index, 1);
    }
    return fault;
  }

  enterMailbox(api: 'graph' | 'gmail', mailbox: string): (() => void) | null {
    const key = `${api}:${mailbox.toLowerCase()}`;
    const current = this.#inFlight.get(key) ?? 0;
    if (current >= this.#limit) return null;

    this.#inFlight.set(key, current + 1);
    this.peak.set(key, Math.max(this.peak.get(key) ?? 0, current + 1));
    return () => this.#inFlight.set(key, (this.#inFlight.get(key) ?? 1) - 1);
  }

  async delay(): Promise<void> {
    if (this.#latencyMs > 0) await sleep(this.#latencyMs);
  }

  log(entry: Omit<LoggedRequest, 'at'>): void {
    this.requestLog.push({ ...entry, at: Date.now() });
  }
}

/**
 * `GET /__admin/mailboxes`, without auth, for tests and operators of a simulator in another
 * process: every mailbox with every copy, soft-deleted ones included.
 */
function adminMailboxes(mailboxes: Mailboxes): SimResponse {
  const body = mailboxes.addresses().map((address) => ({ address, messages: mailboxes.listMessages(address) }));
  return { status: 200, body: { mailboxes: body } };
}

async function tokenRoute(
  request: SimRequest,
  tokens: TokenIssuer,
  googleTokenUrl: string,
  context: RouteContext,
): Promise<SimResponse> {
  if (request.method !== 'POST')
    return graphError(404, 'NotFound', `No route for ${request.method} ${request.rawPath}.`);
  const form = new URLSearchParams(typeof request.body === 'string' ? request.body : '');

  await context.delay();
  const entra = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(request.rawPath);
  const response = entra
    ? tokens.graphToken(decodeURIComponent(entra[1]!), form)
    : request.rawPath === '/google/token'
      ? tokens.googleToken(form, googleTokenUrl)
      : graphError(404, 'NotFound', `No route for POST ${request.rawPath}.`);
  context.log({
    api: 'token',
    method: 'POST',
    url: request.rawPath,
    mailbox: null,
    status: response.status,
    inBatch: false,
  });
  return response;
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  baseUrl: string,
  route: (request: SimRequest) => Promise<SimResponse>,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');

  const headers = flattenHeaders(req.headers);
  const { rawPath, rawQuery } = splitUrl(req.url ?? '/');
  let body: unknown = text;
  if ((headers['content-type'] ?? '').includes('application/json') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      send(res, graphError(400, 'BadRequest', 'The request body is not valid JSON.'));
      return;
    }
  }

  let query: URLSearchParams;
  try {
    // URLSearchParams does not reject bad escapes; decodeURIComponent does, as Graph's parser does.
    decodeURIComponent(rawQuery.replaceAll('+', ' '));
    query = new URLSearchParams(rawQuery);
  } catch {
    send(res, graphError(400, 'BadRequest', 'The query string contains an invalid percent-encoding.'));
    return;
  }

  const response = await route({
    method: req.method ?? 'GET',
    rawPath,
    rawQuery,
    query,
    headers: { ...headers, 'x-sim-base-url': baseUrl },
    body,
    inBatch: false,
  });
  send(res, response);
}

function send(res: ServerResponse, response: SimResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  if (response.body === undefined) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  res.writeHead(response.status, { ...headers, 'content-type': 'application/json' });
  res.end(JSON.stringify(response.body));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
