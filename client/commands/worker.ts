/**
 * `tap-mdr worker`: runs a tap-mdr worker against an existing Temporal server until SIGINT or
 * SIGTERM. `tap-mdr start` runs one itself; this command is for running more, or for a
 * server that tap-mdr did not start.
 */
import { parseArgs } from 'node:util';
import { NativeConnection } from '@temporalio/worker';
import { loadSecretKey } from '../../activities/secrets.ts';
import { openStore } from '../../activities/store/index.ts';
import { resolveRuntimeConfig } from '../../workers/config.ts';
import { createTapMdrWorker, DEFAULT_MAX_CACHED_WORKFLOWS } from '../../workers/worker.ts';
import { CliError, type Command } from '../command.ts';
import { storeOptionsFromEnv } from '../store-config.ts';

const USAGE = `Usage: tap-mdr worker [--data-dir DIR] [--max-cached-workflows N]

Runs the device and remediation workflows and their activities on task queue
TAP_MDR_TASK_QUEUE (default tap-mdr) of the Temporal server at TEMPORAL_ADDRESS (default: the
running stack's, else 127.0.0.1:7233). The Workbench store is DATABASE_URL, else the embedded
database in the data directory. Stops cleanly on Ctrl-C.

  --max-cached-workflows N  Workflows kept in memory between tasks (default ${DEFAULT_MAX_CACHED_WORKFLOWS}). Fewer
                            save memory; a device workflow that is not cached replays its
                            history on its next poll, which costs CPU.`;

/** `tap-mdr worker` */
export const commands: Record<string, Command> = {
  worker: {
    summary: 'Run a tap-mdr worker against a running Temporal server',
    run: async (argv) => {
      const { values } = parseArgs({
        args: argv,
        options: {
          'data-dir': { type: 'string' },
          'max-cached-workflows': { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      });
      if (values.help) {
        console.log(USAGE);
        return 0;
      }
      const maxCachedWorkflows = parseCacheSize(values['max-cached-workflows']);

      const config = resolveRuntimeConfig({ dataDir: values['data-dir'] });
      const store = await openStore(storeOptionsFromEnv({ dataDir: config.dataDir }));
      await store.migrate();

      let connection: NativeConnection;
      try {
        connection = await NativeConnection.connect({ address: config.temporalAddress });
      } catch (err) {
        await store.close();
        throw new CliError(
          'TAP_MDR_TEMPORAL_UNREACHABLE',
          `cannot reach the Temporal server at ${config.temporalAddress} (${(err as Error).message}); ` +
            'start one with `./run start` or set TEMPORAL_ADDRESS',
        );
      }

      const worker = await createTapMdrWorker({
        connection,
        namespace: config.namespace,
        taskQueue: config.taskQueue,
        dependencies: { store, secretKey: loadSecretKey(config.dataDir) },
        maxCachedWorkflows,
      });
      console.log(`tap-mdr worker: polling task queue ${config.taskQueue} on ${config.temporalAddress}`);
      try {
        await worker.run();
      } finally {
        await connection.close();
        await store.close();
      }
      console.log('tap-mdr worker: stopped');
    },
  },
};

/** Parses `--max-cached-workflows`: @temporalio/worker 1.24 takes 0 (no cache) or 2 and more, and turns 1 into 2. */
function parseCacheSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const size = Number(value);
  if (!/^\d+$/.test(value) || size === 1 || !Number.isSafeInteger(size)) {
    throw new CliError(
      'TAP_MDR_INVALID_OPTION',
      `--max-cached-workflows ${value} is invalid; use 0 (no cache) or a whole number of 2 or more`,
      2,
    );
  }
  return size;
}
