/**
 * Real Temporal servers for tests: the CLI dev server (with tap-mdr's search attributes
 * registered) and the time-skipping test server. Binaries are found as
 * workers/temporal-binaries.ts describes.
 */
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { explainStartFailure, temporalExecutable } from '../../workers/temporal-binaries.ts';
import { TAP_MDR_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';

// Worker lifecycle lines would drown the test report; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger(process.env.TAP_MDR_TEST_LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN') });

/** Extra dev-server flags a test may pass, for example a low continue-as-new threshold. */
export interface DevServerOptions {
  extraArgs?: string[];
}

/** Starts a dev server on a random 127.0.0.1 port with tap-mdr's search attributes. */
export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const executable = temporalExecutable('cli');
  try {
    return await TestWorkflowEnvironment.createLocal({
      server: {
        executable,
        ip: '127.0.0.1',
        searchAttributes: TAP_MDR_SEARCH_ATTRIBUTES,
        extraArgs: options.extraArgs,
      },
    });
  } catch (err) {
    throw explainStartFailure('cli', executable, err);
  }
}

/**
 * Starts the time-skipping test server on a random port, with tap-mdr's search attributes
 * registered through the operator service (that server has no `--search-attribute` flag).
 */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const executable = temporalExecutable('test-server');
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
  } catch (err) {
    throw explainStartFailure('test-server', executable, err);
  }

  const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(TAP_MDR_SEARCH_ATTRIBUTES.map((key) => [key.name, keyword])),
  });
  return env;
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles a workflows module once per test process; workers in the same file share it. */
export function workflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

const ignore = (): void => undefined;
const quietBundlerLogger = {
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
  log: ignore,
};

/**
 * Polls `check` every 200 ms until it returns a value other than undefined, or fails after
 * `timeoutMs`. A check that throws is retried too (a query fails while no worker runs); the
 * timeout error then names the last failure.
 */
export async function eventually<T>(
  description: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${cause}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
