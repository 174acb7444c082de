/** Connecting CLI commands to the Temporal server of a tap-mdr stack. */
import { Client, Connection } from '@temporalio/client';
import type { RuntimeConfig } from '../workers/config.ts';
import { CliError } from './command.ts';

/**
 * Connects to the stack's Temporal server, failing with one line that explains how to start it.
 * The caller closes `client.connection` when done.
 */
export async function connectTemporal(config: RuntimeConfig): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: '5 seconds' });
  } catch (err) {
    throw new CliError(
      'TAP_MDR_TEMPORAL_UNREACHABLE',
      `cannot reach the Temporal server at ${config.temporalAddress} (${(err as Error).message}). ` +
        `Start the stack with \`./run start\` (it writes its address to ${config.dataDir}/stack.json), ` +
        `or set TEMPORAL_ADDRESS to a running server.`,
    );
  }
  return new Client({ connection, namespace: config.namespace });
}
