/** Small workflows that prove the test harness: timers under time skipping, visibility on the dev server. */
import { condition, defineSignal, setHandler, sleep } from '@temporalio/workflow';

/** Sleeps for `duration` of workflow time and returns the duration it slept. */
export async function sleepFor(duration: string): Promise<string> {
  await sleep(duration);
  return duration;
}

/** Signal that lets {@link waitForRelease} finish. */
export const releaseSignal = defineSignal('release');

/** Waits until released, so a test can find it while it runs. */
export async function waitForRelease(): Promise<void> {
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  await condition(() => released);
}
