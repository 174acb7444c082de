/**
 * Benchmark: the TAP client fetching and parsing one 1-hour window of generated events.
 *
 * The simulator runs in a child process, so the peak RSS measured here is the client's alone:
 * the process baseline plus the response body, the parsed JSON and the normalised events.
 *
 * Usage: node --import tsx scripts/bench-tap-window.ts [--events N] [--seed S]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { TapClient } from '../activities/tap/client.ts';

/** Figures of one benchmark run. */
export interface TapWindowBenchmark {
  events: number;
  invalid: number;
  /** Size of the JSON body, in bytes. */
  bodyBytes: number;
  /** Time of `fetchAll`: request, body, parse and normalisation, in milliseconds. */
  fetchMs: number;
  /** RSS before the fetch, in MiB. */
  baselineRssMiB: number;
  /** Peak RSS of this process during the run, in MiB. */
  peakRssMiB: number;
}

const MIB = 1024 * 1024;

/** Starts a simulator child process with `count` generated events and measures one fetchAll of their window. */
export async function benchTapWindow(options: { events: number; seed: number }): Promise<TapWindowBenchmark> {
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
  const start = new Date(end.getTime() - 60 * 60_000);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('../simulators/tap/main.ts', import.meta.url).pathname,
      '--port',
      '0',
      '--generate',
      String(options.events),
      '--seed',
      String(options.seed),
      '--generate-end',
      end.toISOString(),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );

  try {
    const url = await simulatorUrl(child.stdout);
    const client = new TapClient({ baseUrl: url, principal: 'tap-sim-principal', secret: 'tap-sim-secret' });
    globalThis.gc?.();
    const baselineRssMiB = process.memoryUsage().rss / MIB;

    const startedMs = performance.now();
    const batch = await client.fetchAll({ start, end });
    const fetchMs = performance.now() - startedMs;
    const peakRssMiB = (process.resourceUsage().maxRSS * 1024) / MIB;
    const events = batch.events.length;
    const invalid = batch.invalid.length;

    const bodyBytes = await countBodyBytes(url, start, end);
    return { events, invalid, bodyBytes, fetchMs, baselineRssMiB, peakRssMiB };
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

/** Resolves with the URL the simulator prints; keeps draining its output afterwards. */
function simulatorUrl(stdout: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stdout.on('data', (chunk) => {
      text += String(chunk);
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    stdout.on('end', () => reject(new Error(`The TAP simulator exited before printing its URL; output: ${text}`)));
  });
}

/** Reads the same window again without keeping it, to report the body size. */
async function countBodyBytes(url: string, start: Date, end: Date): Promise<number> {
  const interval = `${start.toISOString()}/${end.toISOString()}`;
  const response = await request(`${url}/v2/siem/all?format=json&interval=${encodeURIComponent(interval)}`, {
    headers: { authorization: `Basic ${Buffer.from('tap-sim-principal:tap-sim-secret').toString('base64')}` },
  });
  let bytes = 0;
  for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  return bytes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { events: { type: 'string', default: '50000' }, seed: { type: 'string', default: '1' } },
  });
  const result = await benchTapWindow({ events: Number(values.events), seed: Number(values.seed) });
  console.log(
    [
      `events:        ${result.events} (invalid ${result.invalid})`,
      `body:          ${(result.bodyBytes / MIB).toFixed(1)} MiB`,
      `fetchAll:      ${(result.fetchMs / 1000).toFixed(2)} s`,
      `baseline RSS:  ${result.baselineRssMiB.toFixed(0)} MiB`,
      `peak RSS:      ${result.peakRssMiB.toFixed(0)} MiB (${((result.peakRssMiB - result.baselineRssMiB) / (result.bodyBytes / MIB)).toFixed(1)}x the body above baseline)`,
    ].join('\n'),
  );
}
