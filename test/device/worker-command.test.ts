/**
 * `tap-mdr worker --max-cached-workflows`, run as an operator runs it. Invalid values end the
 * command before it connects anywhere; a valid one gets as far as connecting to Temporal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/tap-mdr.js', import.meta.url));

describe('tap-mdr worker --max-cached-workflows', () => {
  let dataDir: string;
  let closedAddress: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-worker-cmd-'));
    // A port that was free a moment ago, so no server listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedAddress = `127.0.0.1:${(server.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  function worker(cacheSize: string) {
    // The `=` form lets a value start with a dash.
    return spawnSync(process.execPath, [CLI, 'worker', '--data-dir', dataDir, `--max-cached-workflows=${cacheSize}`], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, TEMPORAL_ADDRESS: closedAddress, DATABASE_URL: '' },
    });
  }

  for (const value of ['1', '-5', 'abc', '2.5', '']) {
    it(`rejects ${JSON.stringify(value)}`, () => {
      const result = worker(value);
      assert.equal(result.status, 2, `exit code; stderr: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`--max-cached-workflows ${value} is invalid`));
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
    });
  }

  it('accepts 0 and goes on to connect', () => {
    const result = worker('0');
    assert.equal(result.status, 1, `exit code; stderr: ${result.stderr}`);
    assert.match(result.stderr, new RegExp(`cannot reach the Temporal server at ${closedAddress}`));
  });
});
