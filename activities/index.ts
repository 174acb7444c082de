/**
 * Every activity the tap-mdr worker registers, bound to the worker's dependencies.
 */
import { createDeviceActivities, type DeviceActivityDependencies } from './device.ts';
import { createRemediationActivities, type RemediationActivityDependencies } from './remediation.ts';

/** Dependencies of all activities: the Workbench store, the secret key, mail connection settings and test hooks. */
export type ActivityDependencies = DeviceActivityDependencies & RemediationActivityDependencies;

/** Creates the activities object to pass to `Worker.create`. */
export function createActivities(deps: ActivityDependencies) {
  return {
    ...createDeviceActivities(deps),
    ...createRemediationActivities(deps),
  };
}
