/**
 * When `tap-mdr start` runs the demo, decided from the devices in a real embedded store: the
 * demo simulators must run while the demo device is active, because its workflow polls them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { openStore } from '../activities/store/index.ts';
import type { DeviceRecord, WorkbenchStore } from '../activities/store/types.ts';
import { DEMO_DEVICE_ID, DEMO_ORG_ID } from '../simulators/demo-scenario.ts';
import { decideDemo } from '../workers/demo-setup.ts';

const actor = { name: 'test-operator' };

function device(orgId: string, deviceId: string): DeviceRecord {
  return {
    orgId,
    deviceId,
    name: deviceId,
    location: '',
    principal: 'principal',
    secretRef: `tap:${orgId}:${deviceId}:test`,
    tapBaseUrl: 'http://127.0.0.1:9',
    createdAt: new Date().toISOString(),
    status: 'onboarding',
    health: 'pending',
    removedAt: null,
  };
}

describe('decideDemo', () => {
  let dataDir: string;
  let store: WorkbenchStore;

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-demo-decision-'));
    store = await openStore({ dataDir });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function add(orgId: string, deviceId: string): Promise<void> {
    await store.ensureOrganization(orgId, actor);
    assert.equal(await store.addDevice(device(orgId, deviceId), actor), true);
  }

  test('new data directory runs demo', async () => {
    assert.deepEqual(await decideDemo(store, { demo: 'auto', registersDevice: false }), { run: true, note: null });
  });

  test('--tap-url on new data directory skips demo', async () => {
    assert.deepEqual(await decideDemo(store, { demo: 'auto', registersDevice: true }), { run: false, note: null });
  });

  test('real device on new data directory skips demo', async () => {
    await add('acme', 'hq-tap');
    assert.deepEqual(await decideDemo(store, { demo: 'auto', registersDevice: false }), { run: false, note: null });
  });

  test('active demo device keeps demo next to real device', async () => {
    await add(DEMO_ORG_ID, DEMO_DEVICE_ID);
    await add('acme', 'hq-tap');

    const decision = await decideDemo(store, { demo: 'auto', registersDevice: false });
    assert.equal(decision.run, true);
    assert.match(decision.note ?? '', /Demo kept running next to the real devices/);
    assert.match(decision.note ?? '', /tap-mdr device remove demo-org:tap-demo/);
  });

  test('active demo device keeps demo with --tap-url', async () => {
    await add(DEMO_ORG_ID, DEMO_DEVICE_ID);

    const decision = await decideDemo(store, { demo: 'auto', registersDevice: true });
    assert.equal(decision.run, true);
    assert.match(decision.note ?? '', /Demo kept running/);
  });

  test('active demo device alone runs demo quietly', async () => {
    await add(DEMO_ORG_ID, DEMO_DEVICE_ID);
    assert.deepEqual(await decideDemo(store, { demo: 'auto', registersDevice: false }), { run: true, note: null });
  });

  test('removed demo device ends demo', async () => {
    await add(DEMO_ORG_ID, DEMO_DEVICE_ID);
    assert.equal(await store.removeDevice(DEMO_ORG_ID, DEMO_DEVICE_ID, actor), true);

    const alone = await decideDemo(store, { demo: 'auto', registersDevice: false });
    assert.equal(alone.run, false);
    assert.match(alone.note ?? '', /device demo-org:tap-demo was removed/);

    await add('acme', 'hq-tap');
    assert.deepEqual(await decideDemo(store, { demo: 'auto', registersDevice: false }), { run: false, note: null });
  });

  test('--no-demo warns about active demo device', async () => {
    await add(DEMO_ORG_ID, DEMO_DEVICE_ID);

    const decision = await decideDemo(store, { demo: false, registersDevice: false });
    assert.equal(decision.run, false);
    assert.match(decision.note ?? '', /polls of the TAP simulator fail/);
    assert.match(decision.note ?? '', /tap-mdr device pause demo-org:tap-demo/);
  });

  test('--no-demo without demo device is quiet', async () => {
    assert.deepEqual(await decideDemo(store, { demo: false, registersDevice: false }), { run: false, note: null });
  });

  test('--demo runs demo next to real device', async () => {
    await add('acme', 'hq-tap');
    assert.deepEqual(await decideDemo(store, { demo: true, registersDevice: true }), { run: true, note: null });
  });
});
