/**
 * Shared pieces of the benchmarks: statistics, the machine description, a PostgreSQL schema per
 * run, a TAP simulator in a child process, and a sampler of CPU time and RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';

export const MIB = 1024 * 1024;

/** PostgreSQL database the benchmarks use; each run works in a schema of its own and drops it. */
export const BENCH_DATABASE_URL = process.env.TAP_MDR_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Returns the median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Returns the `p`-th percentile (0–100) by the nearest-rank method. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Rounds to `digits` decimals, for figures meant to be read. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The machine a report was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** A PostgreSQL schema of its own for one run. */
export interface BenchSchema {
  /** Database URL whose connections use the schema. */
  url: string;
  drop(): Promise<void>;
}

/** Creates a fresh schema on {@link BENCH_DATABASE_URL}. */
export async function createBenchSchema(): Promise<BenchSchema> {
  const schema = `tap_mdr_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${BENCH_DATABASE_URL} is unreachable (${(err as Error).message}); start it or set ` +
        'TAP_MDR_BENCH_DATABASE_URL to a database where this user may create schemas.',
      { cause: err },
    );
  }
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();

  const url = new URL(BENCH_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

/** A TAP simulator running in a child process, so that its memory is not counted in ours. */
export interface SimulatorProcess {
  url: string;
  close(): Promise<void>;
}

/** Starts `simulators/tap/main.ts` with `events` generated events whose creation times end at `end`. */
export async function startSimulatorProcess(options: {
  events: number;
  seed: number;
  end: Date;
  /** Calls per pool in the rolling 24 hours before 429; default TAP's 1,800. */
  callsPerDay?: number;
}): Promise<SimulatorProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('../../simulators/tap/main.ts', import.meta.url).pathname,
      '--port',
      '0',
      '--generate',
      String(options.events),
      '--seed',
      String(options.seed),
      '--generate-end',
      options.end.toISOString(),
      '--calls-per-day',
      String(options.callsPerDay ?? 1_800),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const url = await listeningUrl(child);
    return { url, close: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Resolves with the URL the simulator prints; keeps draining its output afterwards. */
function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk) => {
      text += String(chunk);
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`the TAP simulator exited (code ${code}) before listening: ${text}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

/** Samples this process's RSS (and CPU time) every `intervalMs` until stopped. */
export class ResourceSampler {
  readonly #timer: NodeJS.Timeout;
  readonly #startCpu = process.cpuUsage();
  readonly #startMs = performance.now();
  #peakRss = process.memoryUsage.rss();

  constructor(intervalMs = 250) {
    this.#timer = setInterval(() => {
      this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops sampling; returns peak RSS in MiB and CPU use as a share of one core (1 = one core busy). */
  stop(): { peakRssMiB: number; cpuCores: number } {
    clearInterval(this.#timer);
    this.#peakRss = Math.max(this.#peakRss, process.memoryUsage.rss());
    const cpu = process.cpuUsage(this.#startCpu);
    const elapsedUs = (performance.now() - this.#startMs) * 1000;
    return { peakRssMiB: this.#peakRss / MIB, cpuCores: (cpu.user + cpu.system) / elapsedUs };
  }
}
