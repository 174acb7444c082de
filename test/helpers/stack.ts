/**
 * A tap-mdr stack for tests: a data directory, the embedded Workbench store, the secret key,
 * a TAP simulator on 127.0.0.1, and a worker on a Temporal test environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { ActivityDependencies } from '../../activities/index.ts';
import { loadSecretKey } from '../../activities/secrets.ts';
import { openStore } from '../../activities/store/index.ts';
import type { WorkbenchStore } from '../../activities/store/types.ts';
import { registerDevice, type DeviceRegistration, type RegistrationResult } from '../../client/devices.ts';
import { startTapSimulator, type TapSimulator, type TapSimulatorOptions } from '../../simulators/tap/server.ts';
import { createTapMdrWorker, WORKFLOWS_PATH } from '../../workers/worker.ts';
import { workflowBundle } from './temporal.ts';

/** Everything a device test needs, closed together by {@link TestStack.close}. */
export interface TestStack {
  dataDir: string;
  store: WorkbenchStore;
  secretKey: Buffer;
  tap: TapSimulator;
  taskQueue: string;
  close(): Promise<void>;
}

let stacks = 0;

/** Starts a store and a TAP simulator in a fresh data directory. */
export async function startTestStack(tapOptions: TapSimulatorOptions = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-test-'));
  const store = await openStore({ dataDir });
  const secretKey = loadSecretKey(dataDir, {});
  const tap = await startTapSimulator({ host: '127.0.0.1', port: 0, ...tapOptions });
  stacks += 1;
  return {
    dataDir,
    store,
    secretKey,
    tap,
    taskQueue: `tap-mdr-test-${process.pid}-${stacks}`,
    close: async () => {
      await tap.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates a worker for the stack on `env`, with the workflows bundled once per test process.
 * `dependencies` overrides activity dependencies, for example the activity clock `now`.
 */
export async function createStackWorker(
  env: TestWorkflowEnvironment,
  stack: TestStack,
  dependencies: Partial<ActivityDependencies> = {},
): Promise<Worker> {
  return createTapMdrWorker({
    connection: env.nativeConnection,
    taskQueue: stack.taskQueue,
    workflowBundle: await workflowBundle(WORKFLOWS_PATH),
    dependencies: { store: stack.store, secretKey: stack.secretKey, tapTimeoutMs: 10_000, ...dependencies },
  });
}

/** Registers a device on the stack's simulator through the same code path as `tap-mdr device add`. */
export function addTestDevice(
  env: TestWorkflowEnvironment,
  stack: TestStack,
  overrides: Partial<DeviceRegistration> = {},
): Promise<RegistrationResult> {
  return registerDevice(
    {
      store: stack.store,
      client: env.client,
      taskQueue: stack.taskQueue,
      secretKey: stack.secretKey,
      actor: { name: 'test' },
    },
    {
      orgId: 'org-test',
      deviceId: 'tap-1',
      name: 'TAP test device',
      location: 'test',
      principal: stack.tap.principal,
      secret: stack.tap.secret,
      tapBaseUrl: stack.tap.url,
      ...overrides,
    },
  );
}
