/**
 * The pieces the workflow benchmarks share: a Temporal dev server on 127.0.0.1, an embedded
 * store in a temporary directory, a worker, and delivered-phish events built from the
 * simulator's generator.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundle } from '@temporalio/worker';
import type { ProviderRuntimeOptions } from '../../activities/email/types.ts';
import { openStore } from '../../activities/store/index.ts';
import type { WorkbenchStore } from '../../activities/store/types.ts';
import { generateTapEvents, type SimulatorEvent } from '../../simulators/tap/generator.ts';
import { explainStartFailure, temporalExecutable } from '../../workers/temporal-binaries.ts';
import { bundleWorkflowsInChildProcess } from '../../workers/bundle.ts';
import { createTapMdrWorker } from '../../workers/worker.ts';
import { TAP_MDR_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';

/** A dev server, a store and a worker on one task queue. */
export interface BenchStack {
  env: TestWorkflowEnvironment;
  store: WorkbenchStore;
  secretKey: Buffer;
  taskQueue: string;
  worker: Worker;
  /** Stops the worker, the store and the dev server, and removes the data directory. */
  close(): Promise<void>;
}

let bundle: Promise<WorkflowBundle> | undefined;

/** Starts a dev server, an embedded store and a running worker. */
export async function startBenchStack(options: { mail?: ProviderRuntimeOptions; maxCachedWorkflows?: number } = {}) {
  const executable = temporalExecutable('cli');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable, ip: '127.0.0.1', searchAttributes: TAP_MDR_SEARCH_ATTRIBUTES },
  }).catch((err: unknown) => {
    throw explainStartFailure('cli', executable, err);
  });

  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-bench-stack-'));
  const store = await openStore({ dataDir });
  const secretKey = randomBytes(32);
  const taskQueue = `tap-mdr-bench-${process.pid}`;
  // Bundled as the worker command does, so the measured RSS is the deployed worker's.
  bundle ??= bundleWorkflowsInChildProcess();
  const worker = await createTapMdrWorker({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundle,
    dependencies: { store, secretKey, tapTimeoutMs: 30_000, mail: options.mail },
    maxCachedWorkflows: options.maxCachedWorkflows,
  });
  const running = worker.run();

  const stack: BenchStack = {
    env,
    store,
    secretKey,
    taskQueue,
    worker,
    async close() {
      worker.shutdown();
      await running;
      await store.close();
      await env.teardown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A delivered message event of a phish campaign from the generator, used as a template. */
const PHISH_TEMPLATE: SimulatorEvent = (() => {
  const events = generateTapEvents({ count: 500, seed: 7 });
  const found = events.find(
    (entry) =>
      entry.type === 'messagesDelivered' &&
      (entry.event.threatsInfoMap as { classification: string }[])[0]?.classification === 'phish',
  );
  if (!found) throw new Error('the generator produced no delivered phish with seed 7');
  return found;
})();

/**
 * Returns the `messagesDelivered` events of one new phish sent to `recipients`, one event per
 * recipient as TAP sends them, with the creation time `createdAt`.
 */
export function phishMessage(recipients: readonly string[], createdAt: Date): SimulatorEvent[] {
  const time = createdAt.toISOString();
  const guid = randomUUID().replaceAll('-', '');
  const messageId = `<${randomUUID()}@bench.example>`;
  return recipients.map((recipient) => ({
    type: 'messagesDelivered' as const,
    event: {
      ...structuredClone(PHISH_TEMPLATE.event),
      id: randomUUID(),
      GUID: guid,
      messageID: messageId,
      messageTime: time,
      recipient: [recipient],
      toAddresses: [recipient],
      threatsInfoMap: (PHISH_TEMPLATE.event.threatsInfoMap as Record<string, unknown>[]).map((threat) => ({
        ...threat,
        threatTime: time,
      })),
    },
  }));
}
