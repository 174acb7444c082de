/**
 * `tap-mdr device …` run as an operator runs it: a subprocess against a dev server, a worker
 * and the TAP simulator, with the secret on standard input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
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
  function cli(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ['bin/tap-mdr.js', 'device', ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TAP_MDR_DATA_DIR: stack.dataDir,
        TAP_MDR_TASK_QUEUE: stack.taskQueue,
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

    const rejected = await cli(
      ['set-credentials', 'acme:hq-tap', '--principal', stack.tap.principal],
      'wrong-secret\n',
    );
    assert.equal(rejected.status, 1);
    assert.match(rejected.stderr, /TAP rejected the new credentials.*401.*the old credentials stay in force/s);
    assert.ok(!rejected.stderr.includes('wrong-secret'), 'the rejected secret is not echoed');

    const accepted = await cli(
      ['set-credentials', 'acme:hq-tap', '--principal', stack.tap.principal],
      `${stack.tap.secret}\n`,
    );
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.match(accepted.stdout, /new credentials accepted by TAP/);
  });

  it('removes a device and reports an unknown one', async () => {
    assert.equal((await cli(['remove', 'acme:hq-tap'])).status, 0);
    const final = (await env.client.workflow.getHandle('tap-device:acme:hq-tap').result()) as { phase: string };
    assert.equal(final.phase, 'decommissioned');

    const unknown = await cli(['show', 'acme:nope']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no running workflow for device acme:nope/);
  });
});
