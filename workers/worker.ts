/**
 * The tap-mdr worker: runs the device and remediation workflows and their activities on one
 * task queue.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities, type ActivityDependencies } from '../activities/index.ts';

/** Path of the module that exports every workflow, for `bundleWorkflowCode` or `workflowsPath`. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Options of {@link createTapMdrWorker}. */
export interface TapMdrWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  dependencies: ActivityDependencies;
  /** A prebuilt bundle (tests build one per file); without it the worker bundles WORKFLOWS_PATH. */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Workflows kept in the worker's cache; each takes about 1 MB of memory outside the V8 heap. */
  maxCachedWorkflows?: number;
  /** Time in-flight activities get to finish on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
}

/** Creates a worker; run it with `worker.run()` or `worker.runUntil(promise)`. */
export function createTapMdrWorker(options: TapMdrWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(options.dependencies),
    maxCachedWorkflows: options.maxCachedWorkflows ?? 500,
    shutdownGraceTime: options.shutdownGraceTime ?? '10 seconds',
  });
}
