/**
 * Every activity the tap-mdr worker registers, bound to the worker's dependencies.
 */
import { createDeviceActivities, type DeviceActivityDependencies } from './device.ts';

/** Dependencies of all activities: the Workbench store, the secret key and test hooks. */
export type ActivityDependencies = DeviceActivityDependencies;

/** Creates the activities object to pass to `Worker.create`. */
export function createActivities(deps: ActivityDependencies) {
  return {
    ...createDeviceActivities(deps),
  };
}
