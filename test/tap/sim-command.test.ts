/**
 * `tap-mdr sim tap` and `tap-mdr sim mail` option errors, run as an operator runs them: each bad
 * value ends the command with one line naming it and exit code 2, and no simulator keeps running.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/tap-mdr.js', import.meta.url));

/** Runs `tap-mdr sim …`; the timeout ends a simulator that started although an option was bad. */
function sim(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, 'sim', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

function assertUsageError(result: ReturnType<typeof sim>, expected: RegExp, label: string): void {
  assert.equal(result.signal, null, `${label}: the simulator was still running after 20 s`);
  assert.equal(result.status, 2, `${label}: exit code; stderr: ${result.stderr}`);
  assert.match(result.stderr, expected, label);
  assert.equal(result.stderr.trim().split('\n').length, 1, `${label}: one line, no stack trace`);
  assert.doesNotMatch(result.stdout, /listening/, `${label}: no simulator started`);
}

describe('tap-mdr sim options', () => {
  let folder: string;
  let busy: Server;
  let busyPort: number;

  before(async () => {
    folder = mkdtempSync(join(tmpdir(), 'tap-mdr-sim-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    rmSync(folder, { recursive: true, force: true });
  });

  it('tap rejects invalid ports', () => {
    for (const port of ['abc', '70000', '65536', '1.5', '-1', '']) {
      assertUsageError(
        sim(['tap', `--port=${port}`]),
        new RegExp(`--port must be a port number from 0 \\(a free port\\) to 65535; got '${port.replace('.', '\\.')}'`),
        `--port=${port}`,
      );
    }
  });

  it('tap reports a port in use', () => {
    assertUsageError(
      sim(['tap', '--port', String(busyPort)]),
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort}: .*EADDRINUSE.*; pass another --port or --host`),
      'port in use',
    );
  });

  it('tap rejects a bad --data path', () => {
    const missing = join(folder, 'missing.json');
    assertUsageError(
      sim(['tap', '--data', missing]),
      new RegExp(`--data '${missing}' cannot be loaded as a TAP scenario: ENOENT`),
      'missing scenario',
    );

    const notJson = join(folder, 'secret.txt');
    writeFileSync(notJson, 'hunter22-secret\n');
    const result = sim(['tap', '--data', notJson]);
    assertUsageError(result, /cannot be loaded as a TAP scenario: it is not valid JSON/, 'file that is not JSON');
    assert.doesNotMatch(result.stderr, /hunter22/, 'the file content is not echoed');

    const array = join(folder, 'array.json');
    writeFileSync(array, '[]');
    assertUsageError(
      sim(['tap', '--data', array]),
      /array\.json is not a TAP SIEM response object/,
      'JSON that is not a response',
    );
  });

  it('mail rejects invalid ports and paths', () => {
    assertUsageError(sim(['mail', '--port', '70000']), /--port must be a port number .*; got '70000'/, 'mail port');

    const unwritable = join(folder, 'no-such-folder', 'out.pem');
    assertUsageError(
      sim(['mail', '--tls', '--cert-out', unwritable]),
      new RegExp(`--cert-out '${unwritable}' cannot be written: ENOENT`),
      'unwritable --cert-out',
    );
    assertUsageError(
      sim(['mail', '--key-out', unwritable]),
      new RegExp(`--key-out '${unwritable}' cannot be written: ENOENT`),
      'unwritable --key-out',
    );
    assertUsageError(
      sim(['mail', '--data', join(folder, 'missing')]),
      /--data '.*missing' cannot be loaded as a TAP scenario: ENOENT/,
      'missing mail scenario',
    );
  });
});
