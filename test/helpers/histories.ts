/**
 * Recording workflow histories for test/replay.test.ts. Recording is off unless
 * TAP_MDR_RECORD_HISTORIES=1, so ordinary test runs never rewrite the committed files.
 */
import { writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

/** Saves the latest run history of `workflowId` as test/histories/<name>.json when recording is on. */
export async function recordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.TAP_MDR_RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const History = proto.temporal.api.history.v1.History;
  const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
  writeFileSync(new URL(`../histories/${name}.json`, import.meta.url), JSON.stringify(json, null, 1));
}
