/**
 * Workflow definitions registered by the tap-mdr worker. The worker bundles this file, so
 * everything it exports must be a workflow function.
 */
export { deviceWorkflow } from './device.ts';
export { remediateAlert } from './remediation.ts';
