/**
 * Operator actions on remediation: starting one by hand and signalling the devices of an
 * organization after a preference change. Shared by the CLI commands and tests.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RemovalAction } from '../activities/email/types.ts';
import type { Actor, WorkbenchStore } from '../activities/store/types.ts';
import { AUTO_REMEDIATE_DELIVERED } from '../activities/store/types.ts';
import { setPreferencesSignal } from '../workflows/device.ts';
import { remediationWorkflowId } from '../workflows/device-remediation.ts';
import { recipientsAddedSignal, remediateAlert } from '../workflows/remediation.ts';
import type { RemediationSettings } from '../workflows/remediation-types.ts';
import { ORG_ID } from '../workflows/search-attributes.ts';

/** Result of {@link startRemediation}. */
export interface StartRemediationResult {
  workflowId: string;
  /** False when a remediation of the alert was running already; it was signalled instead. */
  started: boolean;
}

/**
 * Starts the remediation workflow of an alert under the same id the device workflow uses. A
 * running one is signalled to pick up new recipients instead; a closed one is started again
 * and handles only recipients without a result.
 */
export async function startRemediation(
  client: Client,
  taskQueue: string,
  request: { orgId: string; alertId: string; action?: RemovalAction; settings?: Partial<RemediationSettings> },
): Promise<StartRemediationResult> {
  const workflowId = remediationWorkflowId(request.orgId, request.alertId);
  try {
    await client.workflow.start(remediateAlert, {
      workflowId,
      taskQueue,
      args: [
        {
          orgId: request.orgId,
          alertId: request.alertId,
          ...(request.action ? { action: request.action } : {}),
          ...(request.settings ? { settings: request.settings } : {}),
        },
      ],
      typedSearchAttributes: [{ key: ORG_ID, value: request.orgId }],
      staticSummary: `Delete the message of alert ${request.alertId} from every recipient mailbox`,
    });
    return { workflowId, started: true };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await client.workflow.getHandle(workflowId).signal(recipientsAddedSignal);
  return { workflowId, started: false };
}

/**
 * Sets the auto-deletion preference of an organization (audited by the store), then signals
 * every running device workflow of the organization, found by its `TapMdrOrgId` search
 * attribute. Returns the ids of the workflows signalled.
 */
export async function setAutoRemediateDelivered(
  context: { store: WorkbenchStore; client: Client; actor: Actor },
  orgId: string,
  enabled: boolean,
): Promise<string[]> {
  await context.store.setOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED, String(enabled), context.actor);

  // The org id is validated by the caller; quoting still keeps the query well-formed.
  const query = `TapMdrOrgId = '${orgId.replaceAll("'", "\\'")}' AND WorkflowType = 'deviceWorkflow' AND ExecutionStatus = 'Running'`;
  const signalled: string[] = [];
  for await (const execution of context.client.workflow.list({ query })) {
    try {
      await context.client.workflow
        .getHandle(execution.workflowId)
        .signal(setPreferencesSignal, { autoRemediateDelivered: enabled });
      signalled.push(execution.workflowId);
    } catch (err) {
      // The device was decommissioned between the listing and the signal, so it ingests nothing more.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return signalled;
}
