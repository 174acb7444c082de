/**
 * Starting remediation children from the device workflow. Each alert gets the child workflow
 * id `tap-remediation:<org>:<alert>`. The child reads the alert's recipients from the store and
 * records a result per recipient, so every recipient is handled once however often the child
 * is started or signalled.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { getExternalWorkflowHandle, log, ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { DeviceState } from './device-types.ts';

/** Workflow type and signal of the remediation child, by name. */
export const REMEDIATION_WORKFLOW_TYPE = 'remediateAlert';
export const RECIPIENTS_ADDED_SIGNAL = 'recipientsAdded';

/** Child workflow id of an alert's remediation. */
export function remediationWorkflowId(orgId: string, alertId: string): string {
  return `tap-remediation:${orgId}:${alertId}`;
}

/**
 * Starts (or wakes) the remediation child of every pending alert, then empties the queue.
 *
 * A child that is still running gets a `recipientsAdded` signal instead. A child that has
 * closed is started again under the same id, which the default reuse policy allows, and handles
 * only the recipients that have no result yet.
 */
export async function startRemediations(orgId: string, state: DeviceState): Promise<void> {
  while (state.pendingRemediations.length > 0) {
    const alertId = state.pendingRemediations[0]!;
    // Left queued on failure: the next loop of the device workflow tries again.
    if (!(await startOrSignal(orgId, alertId))) return;
    state.pendingRemediations.shift();
    state.counters.remediationsStarted += 1;
  }
}

async function startOrSignal(orgId: string, alertId: string): Promise<boolean> {
  const workflowId = remediationWorkflowId(orgId, alertId);

  // A child can close between the failed start and the signal; the next attempt then starts it again.
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await startChild(REMEDIATION_WORKFLOW_TYPE, {
        workflowId,
        args: [{ orgId, alertId }],
        // The device workflow continues as new regularly; its children must outlive each run.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Delete the message of alert ${alertId} from every recipient mailbox`,
      });
      log.info('remediation started', { orgId, alertId, workflowId });
      return true;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }

    try {
      await getExternalWorkflowHandle(workflowId).signal(RECIPIENTS_ADDED_SIGNAL);
      log.info('remediation already running; signalled new recipients', { orgId, alertId, workflowId });
      return true;
    } catch (err) {
      log.warn('remediation closed before it could be signalled', {
        orgId,
        alertId,
        workflowId,
        attempt,
        error: String(err),
      });
    }
  }
  return false;
}
