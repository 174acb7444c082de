/**
 * Stopping the real Temporal dev server (`temporal server start-dev`) that `tap-mdr start`
 * runs: the stop must wait for the process to exit, escalate to SIGKILL after the grace
 * period, and leave no timer that keeps the Node.js process alive.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { requireTemporalCli, startDevServer, stopOrphanedDevServer, type DevServer } from '../workers/dev-server.ts';
import { isPortFree, isProcessRunning, readDevServerPidFile } from '../workers/dev-server-process.ts';
import { freePort } from './e2e/stack-process.ts';

const DEV_SERVER_MODULE = fileURLToPath(new URL('../workers/dev-server.ts', import.meta.url));

describe('dev server stop', { timeout: 180_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-dev-server-'));
  const started: DevServer[] = [];

  after(() => {
    for (const server of started) {
      if (isProcessRunning(server.pid)) process.kill(server.pid, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(name: string, stopGraceMs?: number): Promise<DevServer & { ports: number[]; pidFile: string }> {
    const ports = [await freePort(), await freePort()];
    const pidFile = join(dataDir, `${name}.pid.json`);
    const server = await startDevServer({
      binary: requireTemporalCli(),
      port: ports[0]!,
      uiPort: ports[1]!,
      dbFile: join(dataDir, `${name}.db`),
      logFile: join(dataDir, `${name}.log`),
      pidFile,
      ...(stopGraceMs === undefined ? {} : { stopGraceMs }),
    });
    started.push(server);
    return { ...server, ports, pidFile };
  }

  test('pid file names running server', async () => {
    const server = await start('pid-file');
    assert.deepEqual(readDevServerPidFile(server.pidFile), {
      pid: server.pid,
      ownerPid: process.pid,
      port: server.ports[0],
      uiPort: server.ports[1],
      dbFile: join(dataDir, 'pid-file.db'),
    });

    await server.stop();
    assert.equal(isProcessRunning(server.pid), false);
    assert.equal(existsSync(server.pidFile), false, 'the pid file is removed once the server has exited');
    for (const port of server.ports) assert.equal(await isPortFree(port), true, `port ${port} is free after stop`);
  });

  test('stop escalates to SIGKILL', async () => {
    const server = await start('escalation', 1_000);

    // A stopped process leaves SIGTERM pending until SIGCONT, so only SIGKILL ends it.
    process.kill(server.pid, 'SIGSTOP');
    const stopStartedAt = Date.now();
    await server.stop();
    const elapsedMs = Date.now() - stopStartedAt;

    assert.equal(isProcessRunning(server.pid), false);
    assert.ok(elapsedMs >= 1_000, `stop returned after ${elapsedMs} ms, before the 1 s grace period`);
    assert.ok(elapsedMs < 6_000, `stop took ${elapsedMs} ms`);
  });

  test('orphan stop escalates to SIGKILL', async () => {
    const server = await start('orphan');
    process.kill(server.pid, 'SIGSTOP');

    await stopOrphanedDevServer({ pid: server.pid, ports: server.ports }, { graceMs: 1_000 });
    assert.equal(isProcessRunning(server.pid), false);
    for (const port of server.ports) assert.equal(await isPortFree(port), true, `port ${port} is free`);
  });

  test('process exits right after stop', async () => {
    // A separate Node.js process, because the test runner's own timers keep this one alive.
    const script = [
      `import { requireTemporalCli, startDevServer } from ${JSON.stringify(DEV_SERVER_MODULE)};`,
      `const dir = ${JSON.stringify(dataDir)};`,
      `const server = await startDevServer({ binary: requireTemporalCli(), port: ${await freePort()},`,
      `  uiPort: ${await freePort()}, dbFile: dir + '/exit.db', logFile: dir + '/exit.log' });`,
      'await server.stop();',
      "console.log('stopped');",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });

    let stoppedAt: number | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (chunk.includes('stopped')) stoppedAt ??= Date.now();
    });
    const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const exitedAt = Date.now();

    assert.equal(exitCode, 0);
    assert.ok(stoppedAt !== undefined, 'the script printed "stopped"');
    // The default grace period is 15 s, so a timer left pending would keep the process alive that long.
    assert.ok(exitedAt - stoppedAt < 2_000, `the process exited ${exitedAt - stoppedAt} ms after the stop`);
  });
});
