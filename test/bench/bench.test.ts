/**
 * The benchmark code paths in tiny configurations, so that `npm run bench` keeps working. No
 * timing is asserted: speed targets live in docs/benchmarks.md, not in tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
// Installs the quiet Temporal runtime logger that every test file uses.
import '../helpers/temporal.ts';
import { benchIngest } from '../../scripts/bench/ingest.ts';
import { writeReport } from '../../scripts/bench/report.ts';
import { runBenchmarks, type SuiteConfig } from '../../scripts/bench/suite.ts';
import { median, percentile } from '../../scripts/bench/support.ts';
import { replayPlanner } from '../../scripts/bench/tap-budget.ts';

const TINY: SuiteConfig = {
  tapClient: { events: 200, runs: 1 },
  ingest: { sizes: [200], stores: ['embedded'], runs: 1 },
  timeToAlert: { pollIntervalMs: 30_000, durationMs: 1_000, spacingMs: 1_000 },
  timeToDelete: { recipientCounts: [3], runs: 1, latencyMs: 0 },
  devicesPerWorker: { devices: [2], pollIntervalMs: 30_000, durationMs: 1_000 },
  tapBudget: { steadyHours: 1 },
};

describe('benchmarks', () => {
  it('median and percentile', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
    assert.equal(percentile([5, 1, 4, 2, 3], 95), 5);
  });

  it('planner replay counts calls', () => {
    const steady = replayPlanner(0, 24 * 60 * 60_000, 60_000);
    assert.ok(steady.calls > 1_000, `steady calls ${steady.calls}`);
    assert.ok(steady.calls <= 1_440, `steady calls ${steady.calls}`);

    const catchUp = replayPlanner(7 * 24 * 60 * 60_000, 24 * 60 * 60_000, 60_000);
    assert.ok(catchUp.catchUp.calls >= 160, `catch-up calls ${catchUp.catchUp.calls}`);
    assert.ok(catchUp.calls > steady.calls);
  });

  it('ingest into PostgreSQL', async () => {
    const figures = await benchIngest({ events: 300, store: 'postgres', runs: 1 });
    assert.equal(figures.events, 300);
    assert.ok(figures.alertsCreated > 0);
    assert.ok(figures.floorMs > 0);
    assert.ok(figures.ratio > 0);
  });

  it('suite writes the report', async () => {
    const report = await runBenchmarks({ quick: true, only: ['ingest', 'tapBudget', 'timeToDelete'], config: TINY });
    assert.equal(report.results.ingest?.[0]?.events, 200);
    assert.equal(report.results.ingest?.[0]?.store, 'embedded');
    assert.equal(report.results.timeToDelete?.[0]?.recipients, 3);
    assert.ok((report.results.timeToDelete?.[0]?.requests ?? 0) >= 3);
    assert.equal(report.results.tapBudget?.confirmed.rejected429, 0);

    const dir = mkdtempSync(join(tmpdir(), 'tap-mdr-bench-report-'));
    try {
      const file = join(dir, 'benchmarks.md');
      writeFileSync(file, '# Benchmarks\n\nHand-written notes.\n');
      writeReport(file, report, 'npm run bench -- --quick');
      writeReport(file, report, 'npm run bench -- --quick');
      const text = readFileSync(file, 'utf8');
      assert.match(text, /Hand-written notes\./);
      assert.equal(text.split('<!-- bench:begin').length, 2, 'the generated part appears once');
      assert.match(text, /## Ingest: one TAP window into the store/);
      assert.match(text, /## Time to delete/);
      assert.match(text, /## TAP budget/);
      assert.match(text, /npm run bench -- --quick/);

      // `prettier --check .` runs in the tests, so a page that `npm run bench` writes must pass it.
      const options = await prettier.resolveConfig(fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)));
      assert.ok(
        await prettier.check(text, { ...options, parser: 'markdown' }),
        'the page is formatted as Prettier writes it',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
