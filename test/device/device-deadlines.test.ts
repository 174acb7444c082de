/**
 * Device workflow on the time-skipping server: health deadlines, rejected credentials and
 * recovery, pause, resume and decommission. Activities are real: they call the TAP simulator
 * over HTTP and write to the embedded store.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sealSecret } from '../../activities/secrets.ts';
import { generateTapEvents } from '../../simulators/tap/generator.ts';
import {
  decommissionSignal,
  getStatusQuery,
  pauseSignal,
  pollNowSignal,
  replaceCredentialsUpdate,
  resumeSignal,
} from '../../workflows/device.ts';
import type { DeviceStatus } from '../../workflows/device-types.ts';
import { addTestDevice, createStackWorker, startTestStack, type TestStack } from '../helpers/stack.ts';
import { eventually, startTimeSkippingServer } from '../helpers/temporal.ts';

describe('device workflow (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;

  before(async () => {
    env = await startTimeSkippingServer();
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.close();
    await env?.teardown();
  });

  function statusOf(workflowId: string): Promise<DeviceStatus> {
    return env.client.workflow.getHandle(workflowId).query(getStatusQuery);
  }

  function waitForStatus(workflowId: string, what: string, predicate: (status: DeviceStatus) => boolean) {
    return eventually(what, async () => {
      const status = await statusOf(workflowId);
      return predicate(status) ? status : undefined;
    });
  }

  it('raises deadlines, then clears them after new credentials', async () => {
    const { workflowId } = await addTestDevice(env, stack, { deviceId: 'deadlines', secret: 'wrong-secret' });
    const handle = env.client.workflow.getHandle(workflowId);

    const worker = await createStackWorker(env, stack);
    await worker.runUntil(async () => {
      const rejected = await waitForStatus(workflowId, 'credentials rejected', (s) => s.conditions.credentialsRejected);
      assert.equal(rejected.phase, 'credentials_rejected');
      assert.equal(rejected.health, 'credentials_rejected');
      assert.match(rejected.credentialsError ?? '', /401/);
      assert.doesNotMatch(JSON.stringify(rejected), /wrong-secret/);

      await env.sleep('14 minutes');
      assert.equal((await statusOf(workflowId)).conditions.notPolling, false, 'not_polling before 15 minutes');

      await env.sleep('2 minutes');
      const at16 = await waitForStatus(workflowId, 'not_polling at 16 minutes', (s) => s.conditions.notPolling);
      assert.equal(at16.conditions.noData, false, 'no_data before 30 minutes');

      await env.sleep('15 minutes');
      await waitForStatus(workflowId, 'no_data at 31 minutes', (s) => s.conditions.noData);
      const openHealth = await stack.store.listAlerts({ deviceId: 'deadlines', type: 'device_health' });
      assert.equal(openHealth.filter((alert) => alert.state === 'open').length, 3);

      // New, valid credentials: the update checks them against TAP before accepting them.
      const now = Date.now();
      stack.tap.addEvents(
        generateTapEvents({ count: 5, seed: 7, start: new Date(now - 20 * 60_000), end: new Date(now - 5 * 60_000) }),
      );
      const secretRef = `tap:org-test:deadlines:${randomUUID()}`;
      await stack.store.putSecret(secretRef, sealSecret(stack.tap.secret, secretRef, stack.secretKey), {
        name: 'test',
      });
      const accepted = await handle.executeUpdate(replaceCredentialsUpdate, {
        args: [{ principal: stack.tap.principal, secretRef }],
      });
      assert.equal(accepted.conditions.credentialsRejected, false);

      const healthy = await waitForStatus(workflowId, 'healthy after data', (s) => s.health === 'healthy');
      assert.equal(healthy.conditions.notPolling, false);
      assert.equal(healthy.conditions.noData, false);
      assert.ok(healthy.counters.events >= 5, `events: ${healthy.counters.events}`);

      const health = await stack.store.listAlerts({ deviceId: 'deadlines', type: 'device_health' });
      assert.equal(health.filter((alert) => alert.state === 'open').length, 0, 'every health alert resolved');

      // Each test ends its devices: a run left behind would share the next test's worker and clock.
      await handle.signal(decommissionSignal, { reason: 'test done' });
      await handle.result();
    });
  });

  it('rejects a bad credentials update and keeps the old ones', async () => {
    const { workflowId } = await addTestDevice(env, stack, { deviceId: 'bad-update' });
    const handle = env.client.workflow.getHandle(workflowId);

    const worker = await createStackWorker(env, stack);
    await worker.runUntil(async () => {
      await waitForStatus(workflowId, 'first poll', (s) => s.counters.polls >= 1);

      const secretRef = `tap:org-test:bad-update:${randomUUID()}`;
      await stack.store.putSecret(secretRef, sealSecret('not-the-secret', secretRef, stack.secretKey), {
        name: 'test',
      });
      await assert.rejects(
        handle.executeUpdate(replaceCredentialsUpdate, { args: [{ principal: stack.tap.principal, secretRef }] }),
        (err: Error) => /TAP rejected the new credentials/.test(String(err.cause)),
      );

      const status = await statusOf(workflowId);
      assert.equal(status.phase, 'polling');
      assert.equal(status.conditions.credentialsRejected, false);

      await handle.signal(decommissionSignal, { reason: 'test done' });
      await handle.result();
    });
  });

  it('polls now, pauses, resumes, decommissions', async () => {
    const { workflowId } = await addTestDevice(env, stack, { deviceId: 'pause' });
    const handle = env.client.workflow.getHandle(workflowId);

    const worker = await createStackWorker(env, stack);
    await worker.runUntil(async () => {
      await waitForStatus(workflowId, 'first poll', (s) => s.counters.polls >= 1);

      // Poll now ends the 60-second wait at once: no workflow time passes.
      const beforePollNow = (await statusOf(workflowId)).counters.polls;
      await handle.signal(pollNowSignal);
      await waitForStatus(workflowId, 'a poll on request', (s) => s.counters.polls > beforePollNow);

      await handle.signal(pauseSignal);
      const paused = await waitForStatus(workflowId, 'paused', (s) => s.phase === 'paused');
      await env.sleep('5 minutes');
      assert.equal((await statusOf(workflowId)).counters.polls, paused.counters.polls, 'no poll while paused');

      await handle.signal(resumeSignal);
      await env.sleep('3 minutes');
      const resumed = await waitForStatus(workflowId, 'polling again', (s) => s.counters.polls > paused.counters.polls);
      assert.equal(resumed.phase, 'polling');

      await handle.signal(decommissionSignal, { reason: 'test' });
      const final = await handle.result();
      assert.equal(final.phase, 'decommissioned');
      assert.equal((await stack.store.getDevice('org-test', 'pause'))?.status, 'decommissioned');
    });
  });
});
