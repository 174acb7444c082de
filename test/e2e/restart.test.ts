/**
 * End to end: how `tap-mdr start` stops and starts again on one data directory. Ctrl-C must
 * end the process within seconds and leave no dev server behind. A real device added to the
 * demo's data directory must not cut the demo device off from its simulators. A start after a
 * crash (SIGKILL) must stop the dev server that the crashed start left running before it
 * starts its own. Closing the terminal (SIGHUP) stops it as Ctrl-C does.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { queryStatus } from '../../client/commands/device.ts';
import { startTapSimulator, type TapSimulator } from '../../simulators/tap/server.ts';
import { isDevServerOf, isProcessRunning } from '../../workers/dev-server-process.ts';
import { devServerPidFilePath } from '../../workers/stack.ts';
import { eventually } from '../helpers/temporal.ts';
import { freePort, requireStackFile, startStackProcess, type StackProcess } from './stack-process.ts';

const RUNNING = /^Running\. Press Ctrl-C to stop\./;

/**
 * Upper bound from SIGINT to process exit. A clean stop took about 3 s on a 2-core machine. A
 * stop that leaves the dev server's 15 s SIGKILL timer pending takes at least 15 s. One that
 * waits for a status query stuck on a dead worker's sticky queue took about 30 s.
 */
const CTRL_C_EXIT_BOUND_MS = 10_000;

describe('tap-mdr start across restarts', { timeout: 300_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-e2e-restart-'));
  const secretDir = mkdtempSync(join(tmpdir(), 'tap-mdr-e2e-secret-'));
  let args: string[];
  let stack: StackProcess | undefined;
  let tap: TapSimulator | undefined;
  const devServerPids = new Set<number>();

  before(async () => {
    args = [
      '--data-dir',
      dataDir,
      '--poll-interval',
      '2',
      '--temporal-port',
      String(await freePort()),
      '--ui-port',
      String(await freePort()),
    ];
    tap = await startTapSimulator({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await stack?.stop();
    await tap?.close();

    // A failed run can leave the dev server of a killed start running (and stopped); it must not outlive the test.
    for (const pid of devServerPids) {
      if (isProcessRunning(pid) && isDevServerOf(pid, join(dataDir, 'temporal.db'))) process.kill(pid, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(secretDir, { recursive: true, force: true });
  });

  /** Starts the stack and waits until it prints that it runs; records its dev server. */
  async function startAndWait(extraArgs: string[] = []): Promise<StackProcess> {
    stack = startStackProcess([...args, ...extraArgs]);
    await stack.waitForLine(RUNNING, 120_000);
    const { devServerPid } = requireStackFile(dataDir);
    if (devServerPid) devServerPids.add(devServerPid);
    return stack;
  }

  test('Ctrl-C exits within seconds', async () => {
    const first = await startAndWait();
    await first.waitForLine(/device demo-org:tap-demo: polling, health healthy/, 60_000);
    const { devServerPid } = requireStackFile(dataDir);
    assert.ok(devServerPid, 'stack.json names the dev server');

    const sentAt = Date.now();
    const exitCode = await first.stop();
    const elapsedMs = Date.now() - sentAt;

    assert.equal(exitCode, 0, first.lines.join('\n'));
    assert.ok(first.lines.some((line) => line.startsWith('Stopped. Data directory')));
    assert.ok(elapsedMs < CTRL_C_EXIT_BOUND_MS, `SIGINT to exit took ${elapsedMs} ms`);
    assert.equal(isProcessRunning(devServerPid), false, `dev server ${devServerPid} outlived tap-mdr start`);
    assert.equal(existsSync(devServerPidFilePath(dataDir)), false, 'stop removes the pid file');
  });

  test('real device keeps demo simulators running', async () => {
    const secretFile = join(secretDir, 'tap-secret.txt');
    writeFileSync(secretFile, `${tap!.secret}\n`, { mode: 0o600 });
    const second = await startAndWait([
      '--tap-url',
      tap!.url,
      '--principal',
      tap!.principal,
      '--secret-file',
      secretFile,
      '--org',
      'acme',
      '--device-id',
      'hq-tap',
    ]);
    assert.ok(second.lines.some((line) => /^Device acme:hq-tap registered; its workflow started/.test(line)));

    const { temporalAddress, demo } = requireStackFile(dataDir);
    assert.ok(demo, 'stack.json names the demo simulators');

    // The demo device's workflow kept running through the restart, so its polls must reach the
    // TAP simulator that this start runs (a fresh one, whose call count starts at 0) and succeed.
    // Polls after a restart were measured about 30 s apart here, so the wait allows 90 s.
    const stateUrl = new URL('/__admin/state', demo.tapUrl);
    await eventually(
      'two polls of the demo TAP simulator',
      async () => {
        const state = (await (await fetch(stateUrl)).json()) as { calls: { siem: number } };
        return state.calls.siem >= 2 || undefined;
      },
      90_000,
    );
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const status = await queryStatus(new Client({ connection }), 'demo-org', 'tap-demo');
      // `idle` is a successful poll that found no new event.
      assert.ok(['ok', 'idle'].includes(status.lastPoll?.result ?? 'none'), JSON.stringify(status.lastPoll));
    } finally {
      await connection.close();
    }

    const output = second.lines.join('\n');
    assert.match(output, /Demo simulators: TAP http:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /Demo kept running next to the real devices/);
  });

  test('start after crash stops orphaned dev server', async () => {
    const crashed = stack!;
    const { devServerPid: orphan } = requireStackFile(dataDir);
    assert.ok(orphan, 'stack.json names the dev server');

    crashed.kill('SIGKILL');
    assert.equal(await crashed.exited, null);
    assert.ok(isProcessRunning(orphan), 'the dev server outlives a start killed with SIGKILL');

    // A stopped process leaves SIGTERM pending, which makes the orphan slow to exit, as on a
    // busy machine: it keeps its ports until 2 s after the next start has sent SIGTERM.
    process.kill(orphan, 'SIGSTOP');
    const third = startStackProcess(args);
    stack = third;
    await eventually(
      'SIGTERM pending at the orphaned dev server',
      async () => sigtermPending(orphan) || undefined,
      30_000,
    );
    await sleep(2_000);
    process.kill(orphan, 'SIGCONT');

    await third.waitForLine(RUNNING, 120_000);
    assert.equal(isProcessRunning(orphan), false, `orphaned dev server ${orphan} still runs`);
    assert.ok(
      third.lines.includes(`Stopping the Temporal dev server (process ${orphan}) that an earlier start left running`),
      third.lines.join('\n'),
    );

    // The monitor's first status query goes to the sticky task queue of the killed worker and
    // waits there; Ctrl-C must cancel it instead of waiting for it.
    const sentAt = Date.now();
    const exitCode = await third.stop();
    const elapsedMs = Date.now() - sentAt;
    assert.equal(exitCode, 0, third.lines.join('\n'));
    assert.ok(elapsedMs < CTRL_C_EXIT_BOUND_MS, `SIGINT to exit took ${elapsedMs} ms`);
  });

  test('closed terminal (SIGHUP) stops the stack', async () => {
    const started = await startAndWait();
    const { devServerPid } = requireStackFile(dataDir);
    assert.ok(devServerPid, 'stack.json names the dev server');

    started.kill('SIGHUP');
    const exitCode = await started.exited;

    assert.equal(exitCode, 0, started.lines.join('\n'));
    assert.ok(started.lines.some((line) => line.startsWith('Stopped. Data directory')));
    assert.equal(isProcessRunning(devServerPid), false, `dev server ${devServerPid} outlived SIGHUP`);
  });
});

/** Returns true when SIGTERM is pending for process `pid`, from ShdPnd in /proc/PID/status (Linux). */
function sigtermPending(pid: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mask = /^ShdPnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (mask === undefined) return false;
  return ((BigInt(`0x${mask}`) >> BigInt(constants.signals.SIGTERM - 1)) & 1n) === 1n;
}
