/**
 * Runs every test file under test/ with node's test runner, after checking that the Temporal
 * binaries are available. A missing binary stops the run here with one message that explains how to
 * install it, instead of one stack trace per test file.
 *
 * Usage: node --import tsx scripts/run-tests.ts [test files or globs...]
 */
import { spawnSync } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  explainStartFailure,
  findTemporalBinary,
  temporalExecutable,
  TemporalBinaryNotFoundError,
  type TemporalBinaryKind,
} from '../workers/temporal-binaries.ts';

async function checkBinary(kind: TemporalBinaryKind): Promise<void> {
  if (findTemporalBinary(kind)) return;

  // Not installed: let the SDK download it once now, so that the tests reuse its cache.
  const executable = temporalExecutable(kind);
  try {
    const env =
      kind === 'cli'
        ? await TestWorkflowEnvironment.createLocal({ server: { executable } })
        : await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
    await env.teardown();
  } catch (err) {
    throw explainStartFailure(kind, executable, err);
  }
}

try {
  await checkBinary('cli');
  await checkBinary('test-server');
} catch (err) {
  if (!(err instanceof TemporalBinaryNotFoundError)) throw err;
  console.error(`error ${err.code}: ${err.message}`);
  process.exit(1);
}

const files = process.argv.slice(2);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', ...(files.length > 0 ? files : ['test/**/*.test.ts'])],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
