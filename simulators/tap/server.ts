/**
 * A local simulator of the Proofpoint TAP SIEM API over node:http, for tests, the demo and
 * benchmarks. It applies TAP's rules: Basic auth (401, or 403 for a principal without access),
 * exactly one time selector, 30-second to 1-hour windows, the 7-day limit with TAP's 400 texts,
 * `format` defaulting to syslog, selection by creation time, an optional indexing lag, and a
 * rolling budget of 1,800 calls per pool, rejected with 429 once spent.
 *
 * Admin endpoints, without auth, for tests and operators:
 * - `GET /__admin/state`: calls per pool, stored events, active faults;
 * - `POST /__admin/faults`: add a fault, as JSON (`{"kind": "status", "code": 503}`) or `{"spec": "status,code=503"}`;
 * - `DELETE /__admin/faults`: clear every fault;
 * - `POST /__admin/events`: add events, as a JSON array or JSON lines of `{"type", "event"}`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TapEventType } from '../../activities/tap/types.ts';
import { checkFault, parseFaultSpec, type Fault } from './faults.ts';
import { generateTapEvents, type GenerateOptions, type SimulatorEvent } from './generator.ts';
import { BadQueryError, resolveQueryWindow } from './interval.ts';
import { checkSimulatorEvent, loadScenario, parseEventStream, type Scenario } from './scenario.ts';
import { EventStore } from './store.ts';

/** Credentials the simulator accepts when none are given. */
export const DEFAULT_SIMULATOR_PRINCIPAL = 'tap-sim-principal';
export const DEFAULT_SIMULATOR_SECRET = 'tap-sim-secret';

/** Options of {@link startTapSimulator}. */
export interface TapSimulatorOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  principal?: string;
  secret?: string;
  /** A credential that authenticates but has no API access: its requests get 403. */
  forbidden?: { principal: string; secret: string };
  /** Events to serve. */
  events?: SimulatorEvent[];
  /** A scenario folder or file (see ./scenario.ts); its settings apply where options leave them unset. */
  scenarioPath?: string;
  /** A scenario loaded already, used in place of `scenarioPath`. */
  scenario?: Scenario;
  /** Generated events, added to the others. */
  generate?: GenerateOptions;
  /** An event becomes visible this long after its creation. Default 0. */
  indexingLagMs?: number;
  /** Simulator clock; default the system clock. */
  now?: () => Date;
  /** Faults active from the start. */
  faults?: Fault[];
  /** Calls allowed per pool in the rolling 24 hours. Default 1,800, as TAP. */
  callsPerDay?: number;
  /** Receives one structured record per request and per fault; default none. */
  log?: (record: Record<string, unknown>) => void;
}

/** A running simulator. */
export interface TapSimulator {
  /** Base URL, for example `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  principal: string;
  secret: string;
  /** Adds events at runtime; they are selected by their own creation times. */
  addEvents(events: SimulatorEvent[]): void;
  /** Adds a fault; a string is parsed as a fault spec. */
  setFault(fault: Fault | string): void;
  clearFaults(): void;
  /** Calls counted against `pool` in the rolling 24 hours (429 responses excluded). */
  callCount(pool?: 'siem' | 'clicksPermitted'): number;
  /** Number of stored events. */
  eventCount(): number;
  /** Stops the server and closes open connections. */
  close(): Promise<void>;
}

const ENDPOINT_TYPES: Readonly<Record<string, readonly TapEventType[]>> = {
  '/v2/siem/all': ['messagesDelivered', 'messagesBlocked', 'clicksPermitted', 'clicksBlocked'],
  '/v2/siem/issues': ['messagesDelivered', 'clicksPermitted'],
  '/v2/siem/clicks/blocked': ['clicksBlocked'],
  '/v2/siem/clicks/permitted': ['clicksPermitted'],
  '/v2/siem/messages/blocked': ['messagesBlocked'],
  '/v2/siem/messages/delivered': ['messagesDelivered'],
};

const DAY_MS = 24 * 60 * 60_000;

interface ActiveFault extends Fault {
  used: number;
}

/** Starts a simulator and resolves once it listens. */
export async function startTapSimulator(options: TapSimulatorOptions = {}): Promise<TapSimulator> {
  const scenario =
    options.scenario ?? (options.scenarioPath ? loadScenario(options.scenarioPath) : { settings: {}, events: [] });
  const principal = options.principal ?? scenario.settings.principal ?? DEFAULT_SIMULATOR_PRINCIPAL;
  const secret = options.secret ?? scenario.settings.secret ?? DEFAULT_SIMULATOR_SECRET;
  const forbidden =
    options.forbidden ??
    (scenario.settings.forbiddenPrincipal && scenario.settings.forbiddenSecret
      ? { principal: scenario.settings.forbiddenPrincipal, secret: scenario.settings.forbiddenSecret }
      : undefined);
  const indexingLagMs = options.indexingLagMs ?? scenario.settings.indexingLagMs ?? 0;
  const now = options.now ?? (() => new Date());
  const callsPerDay = options.callsPerDay ?? 1_800;
  const log = options.log ?? (() => undefined);

  const store = new EventStore();
  store.add(scenario.events, now().getTime());
  store.add(options.events ?? [], now().getTime());
  if (options.generate) store.add(generateTapEvents(options.generate), now().getTime());

  const calls: Record<'siem' | 'clicksPermitted', number[]> = { siem: [], clicksPermitted: [] };
  const faults: ActiveFault[] = (options.faults ?? []).map((fault) => ({ ...checkFault(fault), used: 0 }));
  let siemRequests = 0;

  const expectedAuth = basicAuth(principal, secret);
  const forbiddenAuth = forbidden ? basicAuth(forbidden.principal, forbidden.secret) : null;

  function countCalls(pool: 'siem' | 'clicksPermitted'): number {
    const cutoff = now().getTime() - DAY_MS;
    calls[pool] = calls[pool].filter((ms) => ms > cutoff);
    return calls[pool].length;
  }

  /** Returns the fault for this request, if any, and counts its use. */
  function takeFault(requestNumber: number): ActiveFault | undefined {
    const revoked = faults.find((fault) => fault.kind === 'revoke' && requestNumber > (fault.after ?? 0));
    if (revoked) return revoked;

    const fault = faults.find(
      (candidate) =>
        candidate.kind !== 'revoke' &&
        requestNumber > (candidate.after ?? 0) &&
        (candidate.times === undefined || candidate.used < candidate.times),
    );
    if (fault) fault.used += 1;
    return fault;
  }

  async function handleSiem(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    types: readonly TapEventType[],
  ) {
    siemRequests += 1;
    const fault = takeFault(siemRequests);
    const pool = url.pathname === '/v2/siem/clicks/permitted' ? 'clicksPermitted' : 'siem';

    const authorization = request.headers.authorization ?? '';
    if (fault?.kind === 'revoke' || (authorization !== expectedAuth && authorization !== forbiddenAuth)) {
      return sendText(response, 401, '');
    }
    if (authorization === forbiddenAuth) return sendText(response, 403, '');

    if (countCalls(pool) >= callsPerDay || fault?.kind === 'throttle') return sendText(response, 429, '');
    calls[pool].push(now().getTime());

    if (fault) log({ msg: 'fault injected', fault: fault.kind, request: siemRequests });
    if (fault?.kind === 'latency') await delay(fault.ms ?? 1_000);
    if (fault?.kind === 'reset') return request.socket.destroy();
    if (fault?.kind === 'status') return sendText(response, fault.code ?? 500, '');
    if (fault?.kind === 'non-json')
      return sendText(response, 200, '<html><body>Service unavailable</body></html>', 'text/html');
    if (fault?.kind === 'empty') return sendText(response, 200, '', 'application/json');
    if (fault?.kind === 'no-content') return sendText(response, 204, '');

    let window;
    try {
      window = resolveQueryWindow(url.searchParams, now().getTime());
    } catch (err) {
      if (err instanceof BadQueryError) return sendText(response, 400, err.message);
      throw err;
    }

    const selected = store.select(window.startMs, window.endMs, now().getTime() - indexingLagMs + 1, {
      types,
      statuses: listParam(url.searchParams, 'threatStatus', ['active', 'cleared']),
      threatTypes: listParam(url.searchParams, 'threatType', []),
    });
    const format = (url.searchParams.get('format') ?? 'syslog').toLowerCase();
    const queryEndTime = new Date(window.endMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    if (format === 'json') return sendJson(response, queryEndTime, selected, fault?.kind === 'truncate');
    return sendSyslog(response, selected);
  }

  async function handleAdmin(request: IncomingMessage, response: ServerResponse, url: URL) {
    const route = `${request.method} ${url.pathname}`;
    if (route === 'GET /__admin/state') {
      const state = {
        calls: { siem: countCalls('siem'), clicksPermitted: countCalls('clicksPermitted') },
        events: store.size,
        faults,
      };
      return sendText(response, 200, JSON.stringify(state), 'application/json');
    }
    if (route === 'DELETE /__admin/faults') {
      faults.length = 0;
      return sendText(response, 204, '');
    }

    const body = await readRequestBody(request);
    if (route === 'POST /__admin/faults') {
      const value = JSON.parse(body) as { spec?: unknown };
      const fault = typeof value.spec === 'string' ? parseFaultSpec(value.spec) : checkFault(value);
      faults.push({ ...fault, used: 0 });
      return sendText(response, 201, JSON.stringify(fault), 'application/json');
    }
    if (route === 'POST /__admin/events') {
      const events = body.trimStart().startsWith('[')
        ? (JSON.parse(body) as unknown[]).map((value, index) => checkSimulatorEvent(value, `event ${index}`))
        : parseEventStream(body, 'request body');
      store.add(events, now().getTime());
      return sendText(response, 201, JSON.stringify({ added: events.length }), 'application/json');
    }
    return sendText(response, 404, `No admin route ${route}`);
  }

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const startedMs = Date.now();
    response.on('finish', () =>
      log({
        msg: 'request',
        method: request.method,
        path: url.pathname,
        status: response.statusCode,
        ms: Date.now() - startedMs,
      }),
    );

    const types = ENDPOINT_TYPES[url.pathname];
    const handled = url.pathname.startsWith('/__admin/')
      ? handleAdmin(request, response, url)
      : types === undefined
        ? Promise.resolve(sendText(response, 404, `Unknown path ${url.pathname}`))
        : request.method !== 'GET'
          ? Promise.resolve(sendText(response, 405, 'Only GET is supported'))
          : handleSiem(request, response, url, types);

    handled.catch((err: unknown) => {
      log({ msg: 'request failed', path: url.pathname, error: String(err) });
      if (!response.headersSent)
        sendText(response, err instanceof RangeError || err instanceof SyntaxError ? 400 : 500, String(err));
      else response.destroy();
    });
  });

  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    principal,
    secret,
    addEvents: (events) => store.add(events, now().getTime()),
    setFault: (fault) => {
      faults.push({ ...(typeof fault === 'string' ? parseFaultSpec(fault) : checkFault(fault)), used: 0 });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    callCount: (pool = 'siem') => countCalls(pool),
    eventCount: () => store.size,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function basicAuth(principal: string, secret: string): string {
  return `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
}

function listParam(params: URLSearchParams, name: string, fallback: string[]): Set<string> {
  const values = params
    .getAll(name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim().toLowerCase())
    .filter((value) => value !== '')
    // The query value messageText selects threats whose threatType is `message`.
    .map((value) => (value === 'messagetext' ? 'message' : value));
  return new Set(values.length > 0 ? values : fallback);
}

function sendText(response: ServerResponse, status: number, body: string, contentType = 'text/plain'): void {
  response.statusCode = status;
  if (body !== '' || status === 200) response.setHeader('content-type', contentType);
  response.setHeader('content-length', Buffer.byteLength(body));
  response.end(body);
}

/**
 * Streams the JSON body in chunks, so a 50,000-event window is never one string in memory.
 * With `truncate`, only the first half of the body is sent, framed by Content-Length as complete.
 */
async function sendJson(
  response: ServerResponse,
  queryEndTime: string,
  selected: Map<TapEventType, string[]>,
  truncate: boolean,
): Promise<void> {
  const pieces = [`{"queryEndTime":${JSON.stringify(queryEndTime)}`];
  for (const [type, events] of selected) {
    pieces.push(`,${JSON.stringify(type)}:[`);
    for (let index = 0; index < events.length; index += 500) {
      pieces.push((index === 0 ? '' : ',') + events.slice(index, index + 500).join(','));
    }
    pieces.push(']');
  }
  pieces.push('}');

  const total = pieces.reduce((sum, piece) => sum + Buffer.byteLength(piece), 0);
  const length = truncate ? Math.floor(total / 2) : total;
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': length });

  let remaining = length;
  for (const piece of pieces) {
    if (remaining <= 0) break;
    const buffer = Buffer.from(piece);
    const part = remaining < buffer.length ? buffer.subarray(0, remaining) : buffer;
    remaining -= part.length;
    if (!response.write(part)) await new Promise((resolve) => response.once('drain', resolve));
  }
  response.end();
}

// NOTE: TAP's syslog layout is not public; these lines only share its status codes (204 when empty).
function sendSyslog(response: ServerResponse, selected: Map<TapEventType, string[]>): void {
  const lines = [...selected].flatMap(([type, events]) => events.map((json) => `${type} ${json}`));
  if (lines.length === 0) return sendText(response, 204, '');
  sendText(response, 200, `${lines.join('\n')}\n`);
}

function readRequestBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
