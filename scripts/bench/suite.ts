/**
 * The benchmark suite: each benchmark's configurations in full and in `--quick` mode, and the
 * figures they return, keyed by benchmark name.
 */
import { benchTapWindow } from '../bench-tap-window.ts';
import { benchDevices, type DeviceFigures } from './devices.ts';
import { runIngestInChild, type IngestFigures, type StoreKind } from './ingest.ts';
import { machineInfo, median, type MachineInfo } from './support.ts';
import { benchTapBudget, type TapBudgetFigures } from './tap-budget.ts';
import { benchTimeToAlert, type AlertFigures } from './time-to-alert.ts';
import { benchTimeToDelete, type DeleteFigures } from './time-to-delete.ts';

export const BENCHMARK_NAMES = [
  'tapClient',
  'ingest',
  'timeToAlert',
  'timeToDelete',
  'devicesPerWorker',
  'tapBudget',
] as const;
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

/** Figures of the TAP client benchmark: medians of `runs`. */
export interface TapClientFigures {
  events: number;
  runs: number;
  bodyMiB: number;
  fetchMs: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  /** The body size, against which the memory above baseline is compared. */
  floorMiB: number;
  /** (peak RSS - baseline) / body size. */
  ratio: number;
}

/** Every benchmark's result; a benchmark left out with `--only` is absent. */
export interface BenchmarkResults {
  tapClient?: TapClientFigures;
  ingest?: IngestFigures[];
  timeToAlert?: AlertFigures;
  timeToDelete?: DeleteFigures[];
  devicesPerWorker?: DeviceFigures[];
  tapBudget?: TapBudgetFigures;
}

/** One run of the suite. */
export interface BenchmarkReport {
  machine: MachineInfo;
  quick: boolean;
  /** ISO-8601 UTC. */
  startedAt: string;
  results: BenchmarkResults;
}

/** Sizes of each benchmark, in full and quick mode. */
export interface SuiteConfig {
  tapClient: { events: number; runs: number };
  ingest: { sizes: number[]; stores: StoreKind[]; runs: number };
  timeToAlert: { pollIntervalMs: number; durationMs: number; spacingMs: number };
  timeToDelete: { recipientCounts: number[]; runs: number; latencyMs: number };
  devicesPerWorker: { devices: number[]; pollIntervalMs: number; durationMs: number };
  tapBudget: { steadyHours: number };
}

export const FULL_CONFIG: SuiteConfig = {
  tapClient: { events: 50_000, runs: 3 },
  ingest: { sizes: [5_000, 50_000], stores: ['embedded', 'postgres'], runs: 3 },
  timeToAlert: { pollIntervalMs: 60_000, durationMs: 10 * 60_000, spacingMs: 7_000 },
  timeToDelete: { recipientCounts: [10, 100, 1_000], runs: 3, latencyMs: 100 },
  devicesPerWorker: { devices: [200, 1_000], pollIntervalMs: 60_000, durationMs: 10 * 60_000 },
  tapBudget: { steadyHours: 24 },
};

/**
 * Each benchmark in about a minute. The poll interval of time to alert is 35 s, because the
 * planner requests no window shorter than 30 s and window ends are whole seconds. At 30 s some
 * polls would find 29.x s of new time and make no call.
 */
export const QUICK_CONFIG: SuiteConfig = {
  tapClient: { events: 5_000, runs: 3 },
  ingest: { sizes: [5_000], stores: ['embedded', 'postgres'], runs: 3 },
  timeToAlert: { pollIntervalMs: 35_000, durationMs: 15_000, spacingMs: 1_200 },
  timeToDelete: { recipientCounts: [10, 100], runs: 3, latencyMs: 100 },
  devicesPerWorker: { devices: [50], pollIntervalMs: 30_000, durationMs: 40_000 },
  tapBudget: { steadyHours: 2 },
};

/** Runs the benchmarks named in `only`, in the suite's order, reporting progress lines. */
export async function runBenchmarks(options: {
  quick: boolean;
  only: readonly BenchmarkName[];
  config?: SuiteConfig;
  progress?: (line: string) => void;
}): Promise<BenchmarkReport> {
  const config = options.config ?? (options.quick ? QUICK_CONFIG : FULL_CONFIG);
  const progress = options.progress ?? (() => undefined);
  const report: BenchmarkReport = {
    machine: machineInfo(),
    quick: options.quick,
    startedAt: new Date().toISOString(),
    results: {},
  };
  const { results } = report;

  for (const name of BENCHMARK_NAMES.filter((candidate) => options.only.includes(candidate))) {
    progress(`bench: ${name}`);
    const startedMs = performance.now();
    if (name === 'tapClient') results.tapClient = await runTapClient(config.tapClient);
    if (name === 'ingest') results.ingest = await runIngest(config.ingest, progress);
    if (name === 'timeToAlert') results.timeToAlert = await benchTimeToAlert(config.timeToAlert);
    if (name === 'timeToDelete') results.timeToDelete = await benchTimeToDelete(config.timeToDelete);
    if (name === 'devicesPerWorker') results.devicesPerWorker = await runDevices(config.devicesPerWorker, progress);
    if (name === 'tapBudget') results.tapBudget = await benchTapBudget(config.tapBudget);
    progress(`bench: ${name} took ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
  }
  return report;
}

async function runTapClient(config: SuiteConfig['tapClient']): Promise<TapClientFigures> {
  const runs = [];
  for (let run = 0; run < config.runs; run++) runs.push(await benchTapWindow({ events: config.events, seed: 1 }));
  const bodyMiB = runs[0]!.bodyBytes / (1024 * 1024);
  const baselineRssMiB = median(runs.map((run) => run.baselineRssMiB));
  const peakRssMiB = median(runs.map((run) => run.peakRssMiB));
  return {
    events: runs[0]!.events,
    runs: config.runs,
    bodyMiB,
    fetchMs: median(runs.map((run) => run.fetchMs)),
    baselineRssMiB,
    peakRssMiB,
    floorMiB: bodyMiB,
    ratio: (peakRssMiB - baselineRssMiB) / bodyMiB,
  };
}

async function runIngest(config: SuiteConfig['ingest'], progress: (line: string) => void): Promise<IngestFigures[]> {
  const figures = [];
  for (const events of config.sizes) {
    for (const store of config.stores) {
      progress(`bench: ingest ${events} events into ${store}`);
      figures.push(await runIngestInChild({ events, store, runs: config.runs }));
    }
  }
  return figures;
}

async function runDevices(
  config: SuiteConfig['devicesPerWorker'],
  progress: (line: string) => void,
): Promise<DeviceFigures[]> {
  const figures = [];
  for (const devices of config.devices) {
    progress(`bench: ${devices} devices for ${config.durationMs / 1000} s`);
    figures.push(await benchDevices({ devices, pollIntervalMs: config.pollIntervalMs, durationMs: config.durationMs }));
  }
  return figures;
}
