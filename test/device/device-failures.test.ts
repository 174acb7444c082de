/**
 * Device workflow on the time-skipping server while TAP fails: the `polling_failed` health
 * condition, and the TAP call budget counting every HTTP request, retries included. Activities
 * are real: they call the TAP simulator over HTTP, which injects the faults.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { generateTapEvents } from '../../simulators/tap/generator.ts';
import { decommissionSignal, getStatusQuery } from '../../workflows/device.ts';
import type { DeviceStatus } from '../../workflows/device-types.ts';
import { DEVICE_HEALTH } from '../../workflows/search-attributes.ts';
import { recordHistory } from '../helpers/histories.ts';
import { addTestDevice, createStackWorker, startTestStack, type TestStack } from '../helpers/stack.ts';
import { eventually, startTimeSkippingServer } from '../helpers/temporal.ts';

const HOUR = 60 * 60_000;

describe('device workflow while TAP fails (time skipping)', () => {
  let env: TestWorkflowEnvironment;
  let stack: TestStack;

  before(async () => {
    env = await startTimeSkippingServer();
    stack = await startTestStack();
  });
  // A fault left by a failed test would fail the next one too.
  afterEach(() => stack.tap.clearFaults());
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

  /**
   * Starts a worker whose activities read the time-skipping server's clock: the time the running
   * attempt was scheduled. With the real clock, windows after a skip would be under TAP's
   * 30-second minimum, so polls would stay idle and send no request.
   */
  function createWorker() {
    return createStackWorker(env, stack, {
      now: () => new Date(Context.current().info.currentAttemptScheduledTimestampMs),
    });
  }

  /**
   * Registers a device, runs `body` on a worker, and decommissions the device afterwards even when
   * `body` fails, because a run left behind would share the next test's worker and clock.
   */
  async function withDevice(
    deviceId: string,
    body: (workflowId: string, handle: WorkflowHandle) => Promise<void>,
  ): Promise<void> {
    // The first poll reads 3 hours back, so that it finds the events added at real time although
    // earlier tests moved the server clock ahead.
    const { workflowId } = await addTestDevice(env, stack, { deviceId, settings: { initialLookBackMs: 3 * HOUR } });
    const handle = env.client.workflow.getHandle(workflowId);
    const worker = await createWorker();
    await worker.runUntil(async () => {
      try {
        await body(workflowId, handle);
      } finally {
        stack.tap.clearFaults();
        await handle.signal(decommissionSignal, { reason: 'test done' });
        // Awaiting the result would let the server skip time to its next timeout, years ahead.
        await eventually('decommissioned', async () =>
          (await handle.describe()).status.name === 'COMPLETED' ? true : undefined,
        );
      }
    });
  }

  async function healthAlerts(deviceId: string) {
    const alerts = await stack.store.listAlerts({ deviceId, type: 'device_health' });
    return alerts.map((alert) => [alert.matched.condition, alert.state]);
  }

  /** Adds events from the last 20 minutes, so that the device's first poll receives data. */
  function addRecentEvents(seed: number): void {
    const now = Date.now();
    stack.tap.addEvents(
      generateTapEvents({ count: 5, seed, start: new Date(now - 20 * 60_000), end: new Date(now - 5 * 60_000) }),
    );
  }

  it('raises polling_failed and clears it', async () => {
    addRecentEvents(11);
    await withDevice('polling-failed', async (workflowId, handle) => {
      await waitForStatus(workflowId, 'healthy', (s) => s.health === 'healthy');

      // Every request fails from now on: each poll ends in an error after its activity retries.
      stack.tap.setFault('status,code=503');
      await env.sleep('10 minutes');
      const early = await statusOf(workflowId);
      assert.ok(early.counters.pollErrors >= 3, `poll errors after 10 minutes: ${early.counters.pollErrors}`);
      assert.equal(early.health, 'healthy', 'failures spanning less than 15 minutes do not change health');
      assert.equal(early.conditions.pollingFailed, false);

      await env.sleep('10 minutes');
      const failed = await waitForStatus(workflowId, 'polling_failed', (s) => s.health === 'polling_failed');
      assert.equal(failed.conditions.pollingFailed, true);
      assert.equal(failed.lastPoll?.result, 'error');
      assert.match(failed.lastPoll?.error ?? '', /503/);
      assert.deepEqual(await healthAlerts('polling-failed'), [['polling_failed', 'open']]);
      const [alert] = await stack.store.listAlerts({ deviceId: 'polling-failed', type: 'device_health' });
      assert.match(alert?.reason ?? '', /polls in a row failed/);
      assert.equal((await handle.describe()).typedSearchAttributes.get(DEVICE_HEALTH), 'polling_failed');
      assert.equal((await stack.store.getDevice('org-test', 'polling-failed'))?.health, 'polling_failed');

      // The next successful poll clears the condition.
      stack.tap.clearFaults();
      await env.sleep('3 minutes');
      const recovered = await waitForStatus(workflowId, 'healthy again', (s) => s.health === 'healthy');
      assert.equal(recovered.conditions.pollingFailed, false);
      assert.equal(recovered.lastPoll?.result, 'ok');
      assert.deepEqual(await healthAlerts('polling-failed'), [['polling_failed', 'closed']]);
      assert.equal((await handle.describe()).typedSearchAttributes.get(DEVICE_HEALTH), 'healthy');
      await recordHistory(env.client, workflowId, 'device-polling-failed');
    });
  });

  it('credentials_rejected outranks polling_failed', async () => {
    addRecentEvents(12);
    await withDevice('rejected-after-failures', async (workflowId) => {
      await waitForStatus(workflowId, 'healthy', (s) => s.health === 'healthy');

      stack.tap.setFault('status,code=500');
      await env.sleep('20 minutes');
      await waitForStatus(workflowId, 'polling_failed', (s) => s.health === 'polling_failed');

      stack.tap.clearFaults();
      stack.tap.setFault('revoke');
      await env.sleep('3 minutes');
      const rejected = await waitForStatus(workflowId, 'credentials_rejected', (s) => s.conditions.credentialsRejected);
      assert.equal(rejected.health, 'credentials_rejected');
      assert.equal(rejected.conditions.pollingFailed, true, 'polling_failed stays raised until a poll succeeds');
    });
  });

  it('budget counts every TAP request', async () => {
    addRecentEvents(13);
    const callsBefore = stack.tap.callCount('siem');

    await withDevice('budget', async (workflowId) => {
      /**
       * Waits for a successful poll after `polls` and asserts that the workflow's budget contains
       * exactly the requests that the simulator received. After a successful poll the workflow
       * waits a poll interval, which outside env.sleep takes a minute of real time, so no request
       * is in flight.
       */
      async function assertBudgetAfterPoll(polls: number, when: string): Promise<DeviceStatus> {
        const status = await waitForStatus(
          workflowId,
          `a successful poll ${when}`,
          (s) => s.counters.polls > polls && s.lastPoll?.result === 'ok',
        );
        assert.equal(status.tapCalls24h, stack.tap.callCount('siem') - callsBefore, `TAP calls ${when}`);
        return status;
      }

      const first = await assertBudgetAfterPoll(0, 'after onboarding');
      assert.ok(first.tapCalls24h >= 2, 'a credential check and a poll');

      // Three failed attempts that the activity's retry policy repeats; the fourth succeeds.
      stack.tap.setFault('status,code=503,times=3');
      await env.sleep('3 minutes');
      const retried = await assertBudgetAfterPoll(first.counters.polls, 'after retried attempts');
      assert.equal(retried.counters.pollErrors, 0, 'the retries succeeded within one poll');
      assert.ok(retried.tapCalls24h >= first.tapCalls24h + 4, `budget ${retried.tapCalls24h}`);

      // Every attempt fails, so whole polls fail and the workflow receives the errors.
      stack.tap.setFault('status,code=502');
      await env.sleep('6 minutes');
      const failing = await statusOf(workflowId);
      assert.ok(failing.counters.pollErrors >= 2, `poll errors: ${failing.counters.pollErrors}`);
      assert.equal(failing.lastPoll?.result, 'error');

      stack.tap.clearFaults();
      await env.sleep('3 minutes');
      await assertBudgetAfterPoll(failing.counters.polls, 'after failed polls');
    });
  });
});
