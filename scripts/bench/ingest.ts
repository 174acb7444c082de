/**
 * Benchmark: one TAP window fetched from the simulator and ingested until its alerts are
 * committed, in the embedded store or in PostgreSQL.
 *
 * The floor is the least work any ingest of the same window must do: read the body, parse it
 * with `JSON.parse`, and insert the same `tap_events` rows in one transaction, by the store's
 * bulk path (COPY on PostgreSQL). It builds its rows before the clock starts.
 *
 * Each configuration runs in a child process of its own (see {@link runIngestInChild}), so the
 * peak RSS is that of the ingest alone. The TAP simulator runs in a further child.
 *
 * Usage: node --import tsx scripts/bench/ingest.ts --events N --store embedded|postgres [--runs R] [--seed S]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify, parseArgs } from 'node:util';
import { request } from 'undici';
import { openStore } from '../../activities/store/index.ts';
import { TAP_EVENT_COLUMNS, tapEventRow } from '../../activities/store/ingest.ts';
import { openPostgres } from '../../activities/store/postgres.ts';
import type { SqlDatabase, SqlValue } from '../../activities/store/sql.ts';
import { openSqlite } from '../../activities/store/sqlite.ts';
import type { IngestContext, WorkbenchStore } from '../../activities/store/types.ts';
import { TapClient } from '../../activities/tap/client.ts';
import { formatInterval, type TapWindow } from '../../activities/tap/windows.ts';
import { DEFAULT_SIMULATOR_PRINCIPAL, DEFAULT_SIMULATOR_SECRET } from '../../simulators/tap/server.ts';
import { createBenchSchema, median, MIB, startSimulatorProcess } from './support.ts';

/** The store that receives the events. */
export type StoreKind = 'embedded' | 'postgres';

/** Options of one ingest configuration. */
export interface IngestBenchOptions {
  events: number;
  store: StoreKind;
  /** Measured runs of the ingest and of the floor; medians are reported. */
  runs: number;
  seed?: number;
}

/** Figures of one configuration; times in milliseconds. */
export interface IngestFigures {
  events: number;
  store: StoreKind;
  runs: number;
  /** Median time from the request to the committed ingest. */
  medianMs: number;
  /** Median time of `fetchAll` alone (request, body, parse, normalisation). */
  fetchMs: number;
  /** Median time of `store.ingest` alone. */
  ingestMs: number;
  eventsPerSecond: number;
  alertsCreated: number;
  /** Peak RSS of the benchmark process during the ingest runs, in MiB. */
  peakRssMiB: number;
  /** Median time of the floor: read, `JSON.parse`, bulk insert. */
  floorMs: number;
  /** medianMs / floorMs. */
  ratio: number;
}

const CONTEXT: IngestContext = { orgId: 'org-bench', deviceId: 'tap-bench', autoRemediateDelivered: true };

/** Runs one configuration in this process; see the module comment. */
export async function benchIngest(options: IngestBenchOptions): Promise<IngestFigures> {
  // A whole-minute window that ended 5 minutes ago, as a device's catch-up window would be.
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
  const window: TapWindow = { start: new Date(end.getTime() - 60 * 60_000).toISOString(), end: end.toISOString() };
  const simulator = await startSimulatorProcess({ events: options.events, seed: options.seed ?? 1, end });

  try {
    const client = new TapClient({
      baseUrl: simulator.url,
      principal: DEFAULT_SIMULATOR_PRINCIPAL,
      secret: DEFAULT_SIMULATOR_SECRET,
    });
    const runs = [];
    for (let run = 0; run < options.runs; run++) {
      runs.push(await ingestOnce(client, window, options.store));
      // The embedded store's synchronous writes can hold the event loop past the simulator's
      // keep-alive timeout. A short pause lets undici see the closed socket before reusing it.
      await sleep(100);
    }
    const peakRssMiB = (process.resourceUsage().maxRSS * 1024) / MIB;

    const floors = [];
    for (let run = 0; run < options.runs; run++) {
      floors.push(await floorOnce(client, simulator.url, window, options));
      await sleep(100);
    }

    const medianMs = median(runs.map((run) => run.totalMs));
    const floorMs = median(floors);
    return {
      events: runs[0]!.events,
      store: options.store,
      runs: options.runs,
      medianMs,
      fetchMs: median(runs.map((run) => run.fetchMs)),
      ingestMs: median(runs.map((run) => run.ingestMs)),
      eventsPerSecond: runs[0]!.events / (medianMs / 1000),
      alertsCreated: runs[0]!.alertsCreated,
      peakRssMiB,
      floorMs,
      ratio: medianMs / floorMs,
    };
  } finally {
    await simulator.close();
  }
}

/** Fetches the window and ingests it into a fresh store. */
async function ingestOnce(client: TapClient, window: TapWindow, kind: StoreKind) {
  const place = await freshPlace(kind);
  const store = await openStore(place.options);
  try {
    const startedMs = performance.now();
    const batch = await client.fetchAll(window);
    const fetchedMs = performance.now();
    const result = await store.ingest(CONTEXT, batch.events, batch.invalid);
    const doneMs = performance.now();
    return {
      events: batch.events.length + batch.invalid.length,
      alertsCreated: result.alertsCreated.length,
      totalMs: doneMs - startedMs,
      fetchMs: fetchedMs - startedMs,
      ingestMs: doneMs - fetchedMs,
    };
  } finally {
    await closeQuietly(store);
    await place.drop();
  }
}

/** Times the floor once; returns milliseconds. */
async function floorOnce(client: TapClient, url: string, window: TapWindow, options: IngestBenchOptions) {
  const rows = await floorRows(client, window);
  const place = await freshPlace(options.store);
  const database = place.options.databaseUrl
    ? openPostgres(place.options.databaseUrl)
    : await openSqlite(join(place.options.dataDir, 'floor.db'));
  try {
    await database.executeScript(database, FLOOR_TABLE);
    const startedMs = performance.now();
    const parsed = JSON.parse(await readBody(url, window)) as Record<string, unknown>;
    if (!('queryEndTime' in parsed)) throw new Error('the TAP simulator returned no queryEndTime');
    await bulkInsert(database, rows);
    return performance.now() - startedMs;
  } finally {
    await database.close();
    await place.drop();
  }
}

/**
 * Returns the rows the ingest would write, built untimed, because the floor charges only reading,
 * parsing and writing. The parsed batch is dropped here, so it does not burden the timed part.
 */
async function floorRows(client: TapClient, window: TapWindow): Promise<SqlValue[][]> {
  const batch = await client.fetchAll(window);
  const receivedAt = new Date().toISOString();
  const result = { disposition: 'ignored', reason: 'floor', alertId: null, ruleId: null, suppressedBy: null } as const;
  return batch.events.map((event) => tapEventRow(CONTEXT, event, result, receivedAt));
}

/** `tap_events` without its secondary indexes, which the floor does not maintain. */
const FLOOR_TABLE = `CREATE TABLE floor_events (
  ${TAP_EVENT_COLUMNS.map((column) => `${column} text`).join(',\n  ')},
  PRIMARY KEY (org_id, device_id, event_key, status_key)
)`;

async function bulkInsert(database: SqlDatabase, rows: readonly SqlValue[][]): Promise<void> {
  await database.transaction((tx) => tx.insertMany('floor_events', TAP_EVENT_COLUMNS, rows));
}

async function readBody(url: string, window: TapWindow): Promise<string> {
  const query = `format=json&interval=${encodeURIComponent(formatInterval(window))}`;
  const response = await request(`${url}/v2/siem/all?${query}`, {
    headers: {
      authorization: `Basic ${Buffer.from(`${DEFAULT_SIMULATOR_PRINCIPAL}:${DEFAULT_SIMULATOR_SECRET}`).toString('base64')}`,
    },
  });
  if (response.statusCode !== 200) throw new Error(`the TAP simulator returned HTTP ${response.statusCode}`);
  return response.body.text();
}

/** Creates a fresh PostgreSQL schema or embedded data directory; `drop` removes it. */
async function freshPlace(kind: StoreKind) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-bench-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (kind === 'embedded') return { options: { dataDir }, drop: async () => removeDir() };

  const schema = await createBenchSchema();
  return {
    options: { databaseUrl: schema.url, dataDir },
    drop: async () => {
      await schema.drop();
      removeDir();
    },
  };
}

async function closeQuietly(store: WorkbenchStore): Promise<void> {
  await store.close().catch(() => undefined);
}

/** Runs {@link benchIngest} in a child process and returns its figures. */
export async function runIngestInChild(options: IngestBenchOptions): Promise<IngestFigures> {
  const args = [
    '--import',
    'tsx',
    new URL(import.meta.url).pathname,
    '--json',
    '--events',
    String(options.events),
    '--store',
    options.store,
    '--runs',
    String(options.runs),
    '--seed',
    String(options.seed ?? 1),
  ];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 16 * MIB, timeout: 30 * 60_000 });
  return JSON.parse(stdout) as IngestFigures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '5000' },
      store: { type: 'string', default: 'embedded' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.store !== 'embedded' && values.store !== 'postgres') {
    throw new Error(`--store ${values.store} is invalid; use embedded or postgres`);
  }
  const figures = await benchIngest({
    events: Number(values.events),
    store: values.store,
    runs: Number(values.runs),
    seed: Number(values.seed),
  });
  console.log(values.json ? JSON.stringify(figures) : figures);
}
