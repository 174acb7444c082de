/**
 * Builds the workflow bundle in a child process. Webpack, which `bundleWorkflowCode` runs, grows
 * its process's RSS by about 270 MiB that V8 keeps after the build (measured on Node 24 with
 * @temporalio/worker 1.24.0). A worker that bundled in its own process started at about 420 MiB
 * RSS instead of 150 MiB. The child exits after the build and takes that memory with it.
 *
 * Run directly, this module writes the bundle's code, which carries its source map inline, to
 * stdout.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

/** Path of the module that exports every workflow, for `bundleWorkflowCode` or `workflowsPath`. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Maximum bundle size read from the child. The bundle is about 2 MB. */
const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

/** Bundles {@link WORKFLOWS_PATH} in this process, printing only the bundler's warnings and errors. */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  const ignore = (): void => undefined;
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: {
      trace: ignore,
      debug: ignore,
      info: ignore,
      log: ignore,
      warn: (message) => console.warn(message),
      error: (message) => console.error(message),
    },
  });
}

/** Bundles {@link WORKFLOWS_PATH} in a child Node.js process; see the module comment for why. */
export async function bundleWorkflowsInChildProcess(): Promise<WorkflowBundle> {
  const args = ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url)];
  try {
    const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: MAX_BUNDLE_BYTES });
    return { code: stdout };
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`Bundling the workflows (${WORKFLOWS_PATH}) failed in a child process: ${stderr || err}`, {
      cause: err,
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const bundle = await bundleWorkflows();
  process.stdout.write(bundle.code);
}
