/**
 * Device workflow on the dev server against the TAP simulator over real HTTP: catch-up after
 * hours of backlog with a worker killed mid-poll, continue-as-new with signals in flight, and
 * the secret kept out of history. Histories of these runs are replayed in replay.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateTapEvents } from '../../simulators/tap/generator.ts';
import { decommissionSignal, getStatusQuery, setPreferencesSignal } from '../../workflows/device.ts';
import type { DeviceStatus } from '../../workflows/device-types.ts';
import { addTestDevice, createStackWorker, startTestStack, type TestStack } from '../helpers/stack.ts';
import { recordHistory } from '../helpers/histories.ts';
import { eventually, startDevServer } from '../helpers/temporal.ts';

const HOUR = 60 * 60_000;

describe('device workflow (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;

  before(async () => {
    env = await startDevServer();
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.close();
    await env?.teardown();
  });

  async function waitForStatus(workflowId: string, what: string, predicate: (s: DeviceStatus) => boolean, ms = 60_000) {
    return eventually(
      what,
      async () => {
        const status = await env.client.workflow.getHandle(workflowId).query(getStatusQuery);
        return predicate(status) ? status : undefined;
      },
      ms,
    );
  }

  async function totalStoredEvents(deviceId: string): Promise<number> {
    const counts = await stack.store.countEvents({ deviceId });
    return counts.reduce((sum, row) => sum + row.count, 0);
  }

  it('catches up and stores every event once across a killed worker', async () => {
    const now = Date.now();
    const events = generateTapEvents({
      count: 400,
      seed: 42,
      start: new Date(now - 3 * HOUR),
      end: new Date(now - 3 * 60_000),
    });
    stack.tap.addEvents(events);
    // Every request takes 1.5 s, so that the kill below lands while a poll is in flight.
    stack.tap.setFault('latency,ms=1500');

    const { workflowId } = await addTestDevice(env, stack, {
      deviceId: 'catch-up',
      settings: { pollIntervalMs: 1000, initialLookBackMs: 4 * HOUR },
    });
    const first = startWorkerProcess(env, stack);
    const callsBefore = stack.tap.callCount();
    await eventually('a TAP call from the first worker', async () =>
      stack.tap.callCount() > callsBefore + 1 ? true : undefined,
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    const second = startWorkerProcess(env, stack);
    try {
      // The killed poll's activity is retried once its heartbeat timeout (30 s) passes.
      const caughtUp = await waitForStatus(
        workflowId,
        'every event stored',
        (s) => s.counters.polls >= 4 && s.lastPoll?.result === 'ok',
        120_000,
      );
      await eventually('stored events to reach the simulator count', async () =>
        (await totalStoredEvents('catch-up')) === events.length ? true : undefined,
      );

      assert.equal(await totalStoredEvents('catch-up'), events.length, 'each simulator event stored exactly once');
      assert.ok(caughtUp.counters.duplicates >= 0);
      assert.ok(
        caughtUp.cursor && Date.parse(caughtUp.cursor) > now - 5 * 60_000,
        `cursor ${caughtUp.cursor} near now`,
      );
      assert.equal(caughtUp.health, 'healthy');
      assert.ok(workerOutput.join('').includes('TAP poll stored'), 'the worker logged its polls');
      assert.ok(!workerOutput.join('').includes(stack.tap.secret), 'the secret never appears in worker logs');

      await recordHistory(env.client, workflowId, 'device-catch-up');
      await env.client.workflow.getHandle(workflowId).signal(decommissionSignal, { reason: 'test done' });
      await env.client.workflow.getHandle(workflowId).result();
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
      stack.tap.clearFaults();
    }
  });

  it('continues as new twice with state and signals intact', async () => {
    const { workflowId } = await addTestDevice(env, stack, {
      deviceId: 'continue-as-new',
      settings: { pollIntervalMs: 200, maxHistoryLength: 60 },
    });
    const handle = env.client.workflow.getHandle(workflowId);
    const worker = await createStackWorker(env, stack);

    await worker.runUntil(async () => {
      const firstRunId = (await handle.describe()).runId;
      let preference = false;
      let signalsSent = 0;

      // Toggle the preference while runs switch; the last value sent must win.
      const status = await eventually(
        'two continue-as-new switches',
        async () => {
          preference = !preference;
          await handle.signal(setPreferencesSignal, { autoRemediateDelivered: preference });
          signalsSent += 1;
          const current = await handle.query(getStatusQuery);
          return current.counters.continuedAsNew >= 2 ? current : undefined;
        },
        90_000,
      );
      assert.notEqual((await handle.describe()).runId, firstRunId);
      assert.ok(signalsSent > 2);

      const settled = await waitForStatus(
        workflowId,
        'the last preference applied',
        (s) => s.preferences.autoRemediateDelivered === preference,
      );
      assert.ok(settled.counters.polls >= status.counters.polls, 'counters carried over');
      assert.ok(settled.firstPollAt, 'first poll time carried over');
      assert.equal(settled.conditions.notPolling, false);

      await recordHistory(env.client, workflowId, 'device-continue-as-new');
      await handle.signal(decommissionSignal, { reason: 'test done' });
      await handle.result();
    });
  });

  it('keeps the secret out of history, memo, search attributes and details', async () => {
    const { workflowId } = await addTestDevice(env, stack, { deviceId: 'secret-check' });
    const handle = env.client.workflow.getHandle(workflowId);
    const worker = await createStackWorker(env, stack);

    await worker.runUntil(async () => {
      await waitForStatus(workflowId, 'first poll', (s) => s.counters.polls >= 1);
      await handle.signal(decommissionSignal, { reason: 'test done' });
      await handle.result();
    });

    const history = historyText(await handle.fetchHistory());
    const description = await handle.describe();
    const visible = JSON.stringify({
      memo: description.memo,
      searchAttributes: description.typedSearchAttributes,
      summary: await description.staticSummary(),
      details: await description.staticDetails(),
    });
    const secretBase64 = Buffer.from(stack.tap.secret).toString('base64');

    assert.ok(history.includes('tap:org-test:secret-check:'), 'history carries the secret reference');
    for (const text of [history, visible]) {
      assert.ok(!text.includes(stack.tap.secret), 'secret in clear');
      assert.ok(!text.includes(secretBase64), 'secret in base64');
    }
  });
});

/** Flattens a history to text, with every payload decoded from bytes, so a search covers what the server stores. */
function historyText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(historyText).join('\n');
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .map(([key, field]) => `${key}=${historyText(field)}`)
      .join('\n');
  }
  return String(value);
}

/** Everything the worker processes printed, searched for the secret. */
const workerOutput: string[] = [];

/** Runs `tap-mdr worker` against the test's server and store, as an operator would. */
function startWorkerProcess(env: TestWorkflowEnvironment, stack: TestStack): ChildProcess {
  const child = spawn(process.execPath, ['bin/tap-mdr.js', 'worker', '--data-dir', stack.dataDir], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.address,
      TAP_MDR_TASK_QUEUE: stack.taskQueue,
      DATABASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => workerOutput.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => workerOutput.push(chunk.toString('utf8')));
  return child;
}
