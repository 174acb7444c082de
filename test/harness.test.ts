import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { eventually, startDevServer, startTimeSkippingServer, workflowBundle } from './helpers/temporal.ts';
import { releaseSignal, sleepFor, waitForRelease } from './workflows/harness.ts';
import { ORG_ID } from '../workflows/search-attributes.ts';

const workflowsPath = fileURLToPath(new URL('./workflows/harness.ts', import.meta.url));

describe('time-skipping server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTimeSkippingServer();
  });
  after(async () => {
    await env?.teardown();
  });

  it('skips a 20-minute sleep', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'harness-time-skipping',
      workflowBundle: await workflowBundle(workflowsPath),
    });

    const startedAt = Date.now();
    const workflowTimeBefore = await env.currentTimeMs();
    const result = await worker.runUntil(
      env.client.workflow.execute(sleepFor, {
        taskQueue: 'harness-time-skipping',
        workflowId: 'harness-sleep-20m',
        args: ['20 minutes'],
      }),
    );

    assert.equal(result, '20 minutes');
    assert.ok((await env.currentTimeMs()) - workflowTimeBefore >= 20 * 60_000, 'workflow time moved 20 minutes');
    assert.ok(Date.now() - startedAt < 30_000, `took ${Date.now() - startedAt} ms of real time`);
  });
});

describe('dev server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startDevServer();
  });
  after(async () => {
    await env?.teardown();
  });

  it('lists a workflow by custom search attribute', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'harness-dev',
      workflowBundle: await workflowBundle(workflowsPath),
    });

    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(waitForRelease, {
        taskQueue: 'harness-dev',
        workflowId: 'harness-listed',
        typedSearchAttributes: [{ key: ORG_ID, value: 'org-harness' }],
      });

      const listed = await eventually('the workflow to appear in visibility', async () => {
        for await (const execution of env.client.workflow.list({ query: `TapMdrOrgId = 'org-harness'` })) {
          if (execution.workflowId === handle.workflowId) return execution;
        }
        return undefined;
      });
      assert.equal(listed.typedSearchAttributes.get(ORG_ID), 'org-harness');

      await handle.signal(releaseSignal);
      await handle.result();
    });
  });
});
