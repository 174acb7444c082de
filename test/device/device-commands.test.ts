/**
 * `tap-mdr device …` run as an operator runs it: a subprocess against a dev server, a worker
 * and the TAP simulator, with the secret on standard input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { SqlWorkbenchStore } from '../../activities/store/index.ts';
import { tapSecretRefPrefix } from '../../activities/store/types.ts';
import { startTapSimulator } from '../../simulators/tap/server.ts';
import type { DeviceStatus, DeviceWorkflowInput } from '../../workflows/device-types.ts';
import { createStackWorker, startTestStack, type TestStack } from '../helpers/stack.ts';
import { eventually, startDevServer } from '../helpers/temporal.ts';

describe('tap-mdr device', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;
  let worker: Worker;
  let workerRun: Promise<void>;

  before(async () => {
    env = await startDevServer();
    stack = await startTestStack();
    worker = await createStackWorker(env, stack);
    workerRun = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await workerRun;
    await stack?.close();
    await env?.teardown();
  });

  // Asynchronous on purpose: a synchronous spawn would block this process's in-process worker.
  function cli(
    args: string[],
    input = '',
    taskQueue = stack.taskQueue,
  ): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['bin/tap-mdr.js', 'device', ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TAP_MDR_DATA_DIR: stack.dataDir,
        TAP_MDR_TASK_QUEUE: taskQueue,
        TAP_MDR_ACTOR: 'test-operator',
        DATABASE_URL: '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.end(input);
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  }

  /** Returns the references of the stored TAP secrets of a device, read from the stack's database. */
  async function deviceSecretRefs(orgId: string, deviceId: string): Promise<string[]> {
    assert.ok(stack.store instanceof SqlWorkbenchStore);
    const rows = await stack.store.db.query<{ secret_ref: string }>('SELECT secret_ref FROM secrets');
    const prefix = tapSecretRefPrefix(orgId, deviceId);
    return rows
      .map((row) => row.secret_ref)
      .filter((ref) => ref.startsWith(prefix))
      .sort();
  }

  const addArgs = () => [
    'add',
    '--org',
    'acme',
    '--name',
    'HQ TAP',
    '--location',
    'Berlin office',
    '--principal',
    stack.tap.principal,
    '--tap-url',
    stack.tap.url,
    '--poll-interval',
    '2',
  ];

  it('rejects invalid input naming the field', async () => {
    const cases: Array<[string[], string, RegExp]> = [
      [
        ['add', '--org', 'Acme Corp', '--name', 'x', '--principal', 'tap-sim-principal'],
        's',
        /invalid org: "Acme Corp"/,
      ],
      [['add', '--org', 'acme', '--name', '', '--principal', 'tap-sim-principal'], 's', /invalid name: missing/],
      [
        ['add', '--org', 'acme', '--name', 'a\u001bb', '--principal', 'tap-sim-principal'],
        's',
        /invalid name: contains a control character/,
      ],
      [
        ['add', '--org', 'acme', '--name', 'x', '--location', 'l'.repeat(201), '--principal', 'tap-sim-principal'],
        's',
        /invalid location: 201 characters/,
      ],
      [
        ['add', '--org', 'acme', '--name', 'x', '--principal', 'user:pass'],
        's',
        /invalid principal: a TAP service principal/,
      ],
      [['add', '--org', 'acme', '--name', 'x', '--principal', 'tap-sim-principal'], '\n', /invalid secret: empty/],
      [
        [
          'add',
          '--org',
          'acme',
          '--name',
          'x',
          '--principal',
          'tap-sim-principal',
          '--tap-url',
          'http://u:hunter22@127.0.0.1:1',
        ],
        's',
        /invalid tap-url: it contains a user name or password/,
      ],
      [
        [
          'add',
          '--org',
          'acme',
          '--name',
          'x',
          '--principal',
          'tap-sim-principal',
          '--tap-url',
          'http://127.0.0.1:1/?x=1',
        ],
        's',
        /invalid tap-url: .* has a query or fragment/,
      ],
      [
        ['add', '--org', 'acme', '--name', 'x', '--principal', 'tap-sim-principal', '--secret', 'hunter22'],
        '',
        /Unknown option '--secret'/,
      ],
    ];
    for (const [args, input, expected] of cases) {
      const result = await cli(args, input);
      assert.equal(result.status, 2, `exit code for ${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(result.stderr, /hunter22/, 'a password in the URL is not echoed');
    }
  });

  it('adds a device once and reports the second add', async () => {
    const added = await cli([...addArgs(), '--json'], `${stack.tap.secret}\n`);
    assert.equal(added.status, 0, added.stderr);
    assert.deepEqual(JSON.parse(added.stdout), { workflowId: 'tap-device:acme:hq-tap', created: true, started: true });

    const again = await cli(addArgs(), `${stack.tap.secret}\n`);
    assert.equal(again.status, 1);
    assert.match(
      again.stderr,
      /already registered and its workflow tap-device:acme:hq-tap is running; nothing changed/,
    );

    const listed = await cli(['list', '--org', 'acme', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const devices = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.location, 'Berlin office');
    assert.ok(!listed.stdout.includes(stack.tap.secret), 'no secret in the list');
    assert.ok(!('secretRef' in devices[0]!), 'no secret reference in the list');
  });

  it('shows, pauses, resumes and replaces credentials', async () => {
    const polling = await eventually('the device to poll', async () => {
      const shown = await cli(['show', 'acme:hq-tap', '--json']);
      const status =
        shown.status === 0 ? (JSON.parse(shown.stdout) as { phase: string; counters: { polls: number } }) : undefined;
      return status && status.counters.polls >= 1 ? status : undefined;
    });
    assert.equal(polling.phase, 'polling');

    assert.equal((await cli(['pause', 'acme:hq-tap'])).status, 0);
    await eventually('paused', async () =>
      /phase:\s+paused/.test((await cli(['show', 'acme:hq-tap'])).stdout) ? true : undefined,
    );
    assert.equal((await cli(['resume', 'tap-device:acme:hq-tap'])).status, 0);
    await eventually('polling again', async () =>
      /phase:\s+polling/.test((await cli(['show', 'acme:hq-tap'])).stdout) ? true : undefined,
    );

    const registered = await stack.store.getDevice('acme', 'hq-tap');
    assert.ok(registered);
    assert.deepEqual(await deviceSecretRefs('acme', 'hq-tap'), [registered.secretRef]);

    const rejected = await cli(
      ['set-credentials', 'acme:hq-tap', '--principal', stack.tap.principal],
      'wrong-secret\n',
    );
    assert.equal(rejected.status, 1);
    assert.match(rejected.stderr, /TAP rejected the new credentials.*401.*the old credentials stay in force/s);
    assert.ok(!rejected.stderr.includes('wrong-secret'), 'the rejected secret is not echoed');
    assert.deepEqual(await deviceSecretRefs('acme', 'hq-tap'), [registered.secretRef], 'rejected secret deleted');

    const accepted = await cli(
      ['set-credentials', 'acme:hq-tap', '--principal', stack.tap.principal],
      `${stack.tap.secret}\n`,
    );
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.match(accepted.stdout, /new credentials accepted by TAP/);

    const replaced = await stack.store.getDevice('acme', 'hq-tap');
    assert.ok(replaced);
    assert.notEqual(replaced.secretRef, registered.secretRef, 'the device row names the new secret');
    assert.deepEqual(await deviceSecretRefs('acme', 'hq-tap'), [replaced.secretRef], 'replaced secret deleted');
    assert.equal(await stack.store.getSecret(registered.secretRef), null);

    // The workflow polls with the new secret only, so polling goes on after the old one is gone.
    const polls = (JSON.parse((await cli(['show', 'acme:hq-tap', '--json'])).stdout) as DeviceStatus).counters.polls;
    await eventually('a poll with the new credentials', async () => {
      const shown = await cli(['show', 'acme:hq-tap', '--json']);
      const status = JSON.parse(shown.stdout) as DeviceStatus;
      return status.counters.polls > polls && status.lastPoll?.result !== 'error' ? true : undefined;
    });
  });

  it('removes a device and reports an unknown one', async () => {
    const registered = await stack.store.getDevice('acme', 'hq-tap');
    assert.ok(registered);
    assert.equal((await cli(['remove', 'acme:hq-tap'])).status, 0);
    const final = (await env.client.workflow.getHandle('tap-device:acme:hq-tap').result()) as { phase: string };
    assert.equal(final.phase, 'decommissioned');

    const removed = await stack.store.getDevice('acme', 'hq-tap');
    assert.ok(removed?.removedAt, 'removed_at is set');
    assert.ok(removed.removedAt >= registered.createdAt);
    assert.equal(removed.status, 'decommissioned');
    assert.deepEqual(await deviceSecretRefs('acme', 'hq-tap'), [], 'its TAP secrets are deleted');

    const listed = await cli(['list', '--org', 'acme', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), [], 'a removed device is not listed');

    const shown = await cli(['show', 'acme:hq-tap']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /phase:\s+decommissioned/);
    assert.match(shown.stdout, new RegExp(`removed:\\s+${removed.removedAt.replaceAll('.', '\\.')}`));
    const shownJson = JSON.parse((await cli(['show', 'acme:hq-tap', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(shownJson.removedAt, removed.removedAt);
    assert.ok(!('secretRef' in shownJson), 'no secret reference in show');

    const unknown = await cli(['show', 'acme:nope']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no running workflow for device acme:nope/);
    const unknownRemove = await cli(['remove', 'acme:nope']);
    assert.equal(unknownRemove.status, 1);
    assert.match(unknownRemove.stderr, /device acme:nope is not registered; list devices with `tap-mdr device list`/);
  });

  it('re-adds a removed device afresh', async () => {
    const removed = await stack.store.getDevice('acme', 'hq-tap');
    assert.ok(removed?.removedAt, 'the previous test removed the device');
    const handle = env.client.workflow.getHandle('tap-device:acme:hq-tap');
    const oldRunId = (await handle.describe()).runId;
    const otherTap = await startTapSimulator({ host: '127.0.0.1', port: 0 });
    try {
      const readded = await cli(
        [
          'add',
          '--org',
          'acme',
          '--device-id',
          'hq-tap',
          '--name',
          'HQ TAP moved',
          '--location',
          'Paris office',
          '--principal',
          otherTap.principal,
          '--tap-url',
          otherTap.url,
          '--poll-interval',
          '3',
          '--json',
        ],
        `${otherTap.secret}\n`,
      );
      assert.equal(readded.status, 0, readded.stderr);
      assert.deepEqual(JSON.parse(readded.stdout), {
        workflowId: 'tap-device:acme:hq-tap',
        created: true,
        started: true,
      });

      const device = await stack.store.getDevice('acme', 'hq-tap');
      assert.ok(device);
      assert.equal(device.removedAt, null);
      assert.equal(device.name, 'HQ TAP moved');
      assert.equal(device.location, 'Paris office');
      assert.equal(device.tapBaseUrl, otherTap.url);
      assert.ok(device.createdAt > removed.removedAt, 'createdAt is the time of the re-add');
      assert.deepEqual(await deviceSecretRefs('acme', 'hq-tap'), [device.secretRef]);

      const description = await handle.describe();
      assert.notEqual(description.runId, oldRunId, 'a new workflow run');
      assert.equal(description.status.name, 'RUNNING');
      const history = await handle.fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      assert.ok(payload);
      const input = defaultPayloadConverter.fromPayload<DeviceWorkflowInput>(payload);
      assert.equal(input.createdAt, device.createdAt, 'the health deadlines count from the re-add');
      assert.equal(input.name, 'HQ TAP moved');
      assert.equal(input.location, 'Paris office');
      assert.equal(input.credentials.secretRef, device.secretRef);
      assert.equal(input.settings?.pollIntervalMs, 3000);

      await eventually('a poll of the new TAP URL', async () => {
        const shown = await cli(['show', 'acme:hq-tap', '--json']);
        const status = shown.status === 0 ? (JSON.parse(shown.stdout) as DeviceStatus) : undefined;
        return status && status.counters.polls >= 1 && otherTap.callCount() > 0 ? status : undefined;
      });

      const listed = await cli(['list', '--org', 'acme', '--json']);
      const devices = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(
        devices.map((entry) => [entry.deviceId, entry.name, entry.location]),
        [['hq-tap', 'HQ TAP moved', 'Paris office']],
      );

      const again = await cli(addArgs(), `${stack.tap.secret}\n`);
      assert.equal(again.status, 1, 'a registered device is still not added twice');
      assert.match(again.stderr, /already registered and its workflow tap-device:acme:hq-tap is running/);
    } finally {
      // The run ends before the server stops, so no workflow task is left in flight.
      await cli(['remove', 'acme:hq-tap']);
      await handle.result().catch(() => undefined);
      await otherTap.close();
    }
  });

  it('re-add terminates an unhandled removed run', async () => {
    // No worker polls this queue, so the decommission signal of `remove` is never handled.
    const idleQueue = `${stack.taskQueue}-idle`;
    const args = [
      'add',
      '--org',
      'acme',
      '--device-id',
      'idle',
      '--name',
      'Idle TAP',
      '--principal',
      stack.tap.principal,
    ];
    const added = await cli([...args, '--tap-url', stack.tap.url], `${stack.tap.secret}\n`, idleQueue);
    assert.equal(added.status, 0, added.stderr);
    const handle = env.client.workflow.getHandle('tap-device:acme:idle');
    const oldRunId = (await handle.describe()).runId;

    const removed = await cli(['remove', 'acme:idle'], '', idleQueue);
    assert.equal(removed.status, 0, removed.stderr);
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the signal is still unhandled');

    try {
      const readded = await cli([...args, '--tap-url', stack.tap.url, '--json'], `${stack.tap.secret}\n`, idleQueue);
      assert.equal(readded.status, 0, readded.stderr);
      assert.deepEqual(JSON.parse(readded.stdout), {
        workflowId: 'tap-device:acme:idle',
        created: true,
        started: true,
      });

      const oldRun = await env.client.workflow.getHandle('tap-device:acme:idle', oldRunId).describe();
      assert.equal(oldRun.status.name, 'TERMINATED');
      const newRun = await handle.describe();
      assert.notEqual(newRun.runId, oldRunId);
      assert.equal(newRun.status.name, 'RUNNING');
      assert.equal((await stack.store.getDevice('acme', 'idle'))?.removedAt, null);
    } finally {
      await handle.terminate('test cleanup').catch(() => undefined);
    }
  });
});
