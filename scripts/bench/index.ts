/**
 * `npm run bench`: runs the benchmarks against simulators on 127.0.0.1 and writes
 * docs/benchmarks.md, or prints the figures as one JSON object with `--json`.
 *
 * Usage: node --import tsx scripts/bench/index.ts [--quick] [--json] [--only NAME,…] [--output FILE]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { BENCHMARK_NAMES, runBenchmarks, type BenchmarkName } from './suite.ts';
import { writeReport } from './report.ts';

const USAGE = `Usage: npm run bench -- [--quick] [--json] [--only NAME,…] [--output FILE]

  --quick        Smaller configurations; each benchmark takes under a minute
  --json         Print one JSON object (benchmark name to figures, floor and ratio); write no file
  --only NAMES   Comma-separated benchmarks to run: ${BENCHMARK_NAMES.join(', ')}
  --output FILE  Markdown file to write (default docs/benchmarks.md)`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      output: { type: 'string', default: new URL('../../docs/benchmarks.md', import.meta.url).pathname },
      'json-file': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const only = parseOnly(values.only);
  if (values.json) return printJson(argv);

  // Worker and bundler lines would bury the figures; warnings and errors still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const command = ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' ');
  const report = await runBenchmarks({ quick: values.quick, only, progress: (line) => console.error(line) });

  if (values['json-file']) {
    writeFileSync(values['json-file'], JSON.stringify(report.results));
    return;
  }
  writeReport(values.output, report, command);
  console.error(`wrote ${values.output}`);
}

/**
 * Runs the suite in a child process whose stdout goes to our stderr, then prints its figures.
 * The Temporal dev server writes a banner to the stdout it inherits, and `--json` promises
 * nothing on stdout but the JSON object.
 */
async function printJson(argv: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tap-mdr-bench-json-'));
  try {
    const file = join(dir, 'results.json');
    const args = argv.filter((arg) => arg !== '--json');
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--json-file', file],
      {
        stdio: ['ignore', process.stderr, 'inherit'],
      },
    );
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`the benchmark process exited with code ${code}; its output is above`);
    console.log(readFileSync(file, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseOnly(value: string | undefined): BenchmarkName[] {
  if (value === undefined) return [...BENCHMARK_NAMES];
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(BENCHMARK_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--only ${name} is not a benchmark; use one or more of ${BENCHMARK_NAMES.join(', ')}`);
    }
  }
  return names as BenchmarkName[];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
