/**
 * Replays recorded device-workflow histories against the current workflow code. A change that
 * would break executions already running in production fails here with a non-determinism error.
 * Record new histories with `TAP_MDR_RECORD_HISTORIES=1 node --import tsx --test test/device/device-polling.test.ts
 * test/device/device-failures.test.ts test/remediation/remediation.test.ts`.
 *
 * device-polling-failed-before-patch.json comes from the code before `polling_failed` existed:
 * failed polls for 40 minutes with no patch marker. It proves that the `health-polling-failed`
 * patch keeps such runs replaying; never re-record it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../workers/worker.ts';
import { workflowBundle } from './helpers/temporal.ts';

const folder = new URL('./histories/', import.meta.url);
const files = readdirSync(folder).filter((file) => file.endsWith('.json'));

describe('workflow replay', () => {
  it('has recorded histories', () => {
    assert.ok(files.length >= 2, `found ${files.length} histories in test/histories`);
  });

  for (const file of files) {
    it(`replays ${file}`, async () => {
      const json: unknown = JSON.parse(readFileSync(new URL(file, folder), 'utf8'));
      const history = proto.temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle(WORKFLOWS_PATH) }, history, file);
    });
  }
});
