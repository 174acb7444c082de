/**
 * The tap-mdr worker: runs the device and remediation workflows and their activities on one
 * task queue.
 */
import { Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities/index.ts';
import { bundleWorkflowsInChildProcess } from './bundle.ts';

export { WORKFLOWS_PATH } from './bundle.ts';

/** Default number of workflows a worker caches; see {@link TapMdrWorkerOptions.maxCachedWorkflows}. */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/** Options of {@link createTapMdrWorker}. */
export interface TapMdrWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  dependencies: ActivityDependencies;
  /** A prebuilt bundle (tests build one per file); without it WORKFLOWS_PATH is bundled in a child process. */
  workflowBundle?: WorkflowBundle;
  /**
   * Workflows kept in the worker's cache. Each took about 0.4 MiB of RSS in the devices
   * benchmark (1,000 devices, cache of 1,000 against 250). A device workflow evicted from the
   * cache replays its history on its next poll, which costs CPU and poll-start lag.
   */
  maxCachedWorkflows?: number;
  /** Time in-flight activities get to finish on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

/** Creates a worker; run it with `worker.run()` or `worker.runUntil(promise)`. */
export async function createTapMdrWorker(options: TapMdrWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsInChildProcess()),
    activities: createActivities(options.dependencies),
    maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}
