/**
 * The Workbench store suite, run once per database (postgres.test.ts, sqlite.test.ts), so both
 * implementations are held to the same behaviour.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../../activities/store/index.ts';
import { StoreInputError } from '../../activities/store/index.ts';
import {
  AUTO_REMEDIATE_DELIVERED,
  tapSecretRefPrefix,
  type DeviceRecord,
  type IngestContext,
  type WorkbenchStore,
} from '../../activities/store/types.ts';
import { parseSiemResponse } from '../../activities/tap/parse.ts';
import { parseStoredEvent } from '../../activities/store/unmatched-closes.ts';
import type { TapEvent, TapSiemBatch } from '../../activities/tap/types.ts';
import type { TestDatabase } from './databases.ts';

const actor = { name: 'test-operator' };

/** Parses a TAP fixture from test/fixtures/tap. */
export function fixture(name: string): TapSiemBatch {
  return parseSiemResponse(readFileSync(new URL(`../fixtures/tap/${name}`, import.meta.url), 'utf8'));
}

/** Alert fields that must come out the same however the events arrived. */
async function alertSnapshot(store: WorkbenchStore, orgId: string) {
  const alerts = await store.listAlerts({ orgId });
  return alerts
    .map((alert) => ({
      alertId: alert.alertId,
      type: alert.type,
      severity: alert.severity,
      rule: alert.rule,
      state: alert.state,
      recipients: alert.recipients,
      parentAlertId: alert.parentAlertId,
      autoDeleteEligible: alert.autoDeleteEligible,
    }))
    .sort((a, b) => a.alertId.localeCompare(b.alertId));
}

/** Defines the store tests against the database `createDatabase` provides. */
export function defineStoreSuite(kind: string, createDatabase: () => Promise<TestDatabase>): void {
  describe(`Workbench store on ${kind}`, () => {
    let database: TestDatabase;
    let store: WorkbenchStore;
    let orgCounter = 0;

    /** Returns an ingest context for a new org, which keeps each test apart in the shared schema. */
    const context = (autoRemediateDelivered = false): IngestContext => {
      orgCounter += 1;
      return { orgId: `org-${orgCounter}`, deviceId: 'tap-1', autoRemediateDelivered };
    };

    before(async () => {
      database = await createDatabase();
      store = await openStore(database.options);
    });

    after(async () => {
      await store?.close();
      await database?.drop();
    });

    it('migrate is repeatable', async () => {
      await store.migrate();
      await store.migrate();
      const again = await openStore(database.options);
      await again.close();
      assert.deepEqual(await store.listAlerts({ orgId: 'nobody' }), []);
    });

    it('preferences are audited', async () => {
      const { orgId } = context();
      await store.ensureOrganization(orgId, actor);
      assert.equal(await store.getOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED), null);
      await store.setOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED, 'true', actor);
      await store.setOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED, 'false', actor);
      assert.equal(await store.getOrgPreference(orgId, AUTO_REMEDIATE_DELIVERED), 'false');

      const entries = (await store.listAudit(50)).filter(
        (entry) => entry.subject === `${orgId}:${AUTO_REMEDIATE_DELIVERED}`,
      );
      assert.equal(entries.length, 2);
      assert.equal(entries[0]?.actor, 'test-operator');
      assert.deepEqual(
        entries.map((entry) => entry.detail).sort((a, b) => String(a.to).localeCompare(String(b.to))),
        [
          { from: 'true', to: 'false' },
          { from: null, to: 'true' },
        ],
      );
    });

    it('devices and secrets', async () => {
      const { orgId } = context();
      const device = {
        orgId,
        deviceId: 'tap-1',
        name: 'TAP EU',
        location: 'eu',
        principal: 'principal-1',
        secretRef: `${orgId}/tap-1`,
        tapBaseUrl: 'http://127.0.0.1:9',
        createdAt: '2025-06-01T00:00:00.000Z',
        status: 'onboarding',
        health: 'healthy',
        removedAt: null,
      };
      assert.equal(await store.addDevice(device, actor), true);
      assert.equal(await store.addDevice(device, actor), false);
      await store.updateDeviceStatus(orgId, 'tap-1', { status: 'polling' });
      assert.deepEqual(await store.getDevice(orgId, 'tap-1'), { ...device, status: 'polling' });
      assert.equal((await store.listDevices(orgId)).length, 1);

      await store.putSecret(device.secretRef, 'ciphertext-1', actor);
      await store.putSecret(device.secretRef, 'ciphertext-2', actor);
      assert.equal(await store.getSecret(device.secretRef), 'ciphertext-2');
      assert.equal(await store.getSecret('missing'), null);
    });

    /** Returns a device record of `orgId` whose secret reference follows the TAP naming. */
    const deviceRecord = (orgId: string, deviceId: string, overrides: Partial<DeviceRecord> = {}): DeviceRecord => ({
      orgId,
      deviceId,
      name: 'TAP EU',
      location: 'eu',
      principal: 'principal-1',
      secretRef: `${tapSecretRefPrefix(orgId, deviceId)}first`,
      tapBaseUrl: 'http://127.0.0.1:9',
      createdAt: '2025-06-01T00:00:00.000Z',
      status: 'onboarding',
      health: 'pending',
      removedAt: null,
      ...overrides,
    });

    it('organizationExists after ensureOrganization', async () => {
      const { orgId } = context();
      assert.equal(await store.organizationExists(orgId), false);
      await store.ensureOrganization(orgId, actor);
      assert.equal(await store.organizationExists(orgId), true);
    });

    it('deleteSecret removes one secret', async () => {
      const { orgId } = context();
      await store.putSecret(`${orgId}/a`, 'ciphertext-a', actor);
      await store.putSecret(`${orgId}/b`, 'ciphertext-b', actor);
      assert.equal(await store.deleteSecret(`${orgId}/a`, actor), true);
      assert.equal(await store.deleteSecret(`${orgId}/a`, actor), false);
      assert.equal(await store.getSecret(`${orgId}/a`), null);
      assert.equal(await store.getSecret(`${orgId}/b`), 'ciphertext-b');
      const entries = (await store.listAudit(50)).filter((entry) => entry.subject === `${orgId}/a`);
      assert.deepEqual(entries.map((entry) => entry.action).sort(), ['secret.delete', 'secret.put']);
    });

    it('removeDevice sets removedAt, deletes secrets', async () => {
      const { orgId } = context();
      // '_' is a LIKE wildcard: the secrets of tapx1 must survive the removal of tap_1.
      const device = deviceRecord(orgId, 'tap_1');
      const neighbour = deviceRecord(orgId, 'tapx1', { secretRef: `${tapSecretRefPrefix(orgId, 'tapx1')}first` });
      await store.addDevice(device, actor);
      await store.addDevice(neighbour, actor);
      const leftover = `${tapSecretRefPrefix(orgId, 'tap_1')}replaced-earlier`;
      for (const ref of [device.secretRef, leftover, neighbour.secretRef]) await store.putSecret(ref, 'sealed', actor);
      await store.recordDeviceHealth(orgId, 'tap_1', 'not_polling', true, 'no poll');

      assert.equal(await store.removeDevice(orgId, 'tap_1', actor), true);

      const removed = await store.getDevice(orgId, 'tap_1');
      assert.ok(removed?.removedAt, 'removedAt is set');
      assert.equal(removed.status, 'decommissioned');
      assert.equal(await store.getSecret(device.secretRef), null);
      assert.equal(await store.getSecret(leftover), null);
      assert.equal(await store.getSecret(neighbour.secretRef), 'sealed');
      const [health] = await store.listAlerts({ orgId, deviceId: 'tap_1', type: 'device_health' });
      assert.equal(health?.state, 'closed');
      assert.equal((await store.getDevice(orgId, 'tapx1'))?.removedAt, null);

      assert.equal(await store.removeDevice(orgId, 'tap_1', actor), true);
      assert.equal(
        (await store.getDevice(orgId, 'tap_1'))?.removedAt,
        removed.removedAt,
        'the first removal time stays',
      );
      assert.equal(await store.removeDevice(orgId, 'missing', actor), false);

      const audit = (await store.listAudit(50)).filter(
        (entry) => entry.action === 'device.remove' && entry.subject === `${orgId}:tap_1`,
      );
      const secretsDeleted = audit.map((entry) => entry.detail.secretsDeleted);
      assert.deepEqual(secretsDeleted.sort(), [[], [device.secretRef, leftover].sort()]);
    });

    it('addDevice replaces a removed device only', async () => {
      const { orgId } = context();
      const first = deviceRecord(orgId, 'tap-1');
      assert.equal(await store.addDevice(first, actor), true);
      const second = deviceRecord(orgId, 'tap-1', {
        name: 'TAP EU 2',
        location: 'eu-2',
        principal: 'principal-2',
        secretRef: `${tapSecretRefPrefix(orgId, 'tap-1')}second`,
        tapBaseUrl: 'http://127.0.0.1:10',
        createdAt: '2025-06-02T00:00:00.000Z',
      });
      assert.equal(await store.addDevice(second, actor), false, 'a registered device is kept');
      assert.deepEqual(await store.getDevice(orgId, 'tap-1'), first);

      // A secret left behind by a removal that did not delete it goes when the device is replaced.
      await store.removeDevice(orgId, 'tap-1', actor);
      await store.putSecret(first.secretRef, 'sealed-first', actor);
      assert.equal(await store.addDevice(second, actor), true);
      assert.deepEqual(await store.getDevice(orgId, 'tap-1'), second);
      assert.equal(await store.getSecret(first.secretRef), null);
      assert.equal((await store.listDevices(orgId)).length, 1);
    });

    it('replaceDeviceCredentials deletes the old secret', async () => {
      const { orgId } = context();
      const device = deviceRecord(orgId, 'tap-1');
      const next = `${tapSecretRefPrefix(orgId, 'tap-1')}next`;
      await store.addDevice(device, actor);
      await store.putSecret(device.secretRef, 'sealed-old', actor);
      await store.putSecret(next, 'sealed-new', actor);

      const credentials = { principal: 'principal-2', secretRef: next };
      assert.equal(await store.replaceDeviceCredentials(orgId, 'tap-1', credentials, device.secretRef, actor), true);
      assert.equal(await store.getSecret(device.secretRef), null);
      assert.equal(await store.getSecret(next), 'sealed-new');
      const stored = await store.getDevice(orgId, 'tap-1');
      assert.equal(stored?.secretRef, next);
      assert.equal(stored?.principal, 'principal-2');

      // A stale previous reference means that another replacement came first, so nothing changes.
      const stale = { principal: 'principal-3', secretRef: `${tapSecretRefPrefix(orgId, 'tap-1')}stale` };
      assert.equal(await store.replaceDeviceCredentials(orgId, 'tap-1', stale, device.secretRef, actor), false);
      assert.equal(await store.getSecret(next), 'sealed-new');
      assert.equal((await store.getDevice(orgId, 'tap-1'))?.secretRef, next);
    });

    it('email provider by reference', async () => {
      const { orgId } = context();
      assert.equal(await store.getEmailProvider(orgId), null);

      const graph = {
        kind: 'microsoft365' as const,
        tenantId: 'contoso.example',
        clientId: '11111111-2222-3333-4444-555555555555',
        secretRef: `email:${orgId}:graph`,
        domains: ['contoso.example'],
      };
      await store.setEmailProvider(orgId, graph, 'softDelete', actor);
      const gmail = { kind: 'googleWorkspace' as const, serviceAccountKeyRef: `email:${orgId}:gmail` };
      await store.setEmailProvider(orgId, gmail, 'quarantine', actor);

      const stored = await store.getEmailProvider(orgId);
      assert.deepEqual(stored?.config, gmail);
      assert.equal(stored?.action, 'quarantine');
      assert.equal(stored?.updatedBy, 'test-operator');

      const entries = (await store.listAudit(50)).filter(
        (entry) => entry.action === 'email-provider.set' && entry.subject === orgId,
      );
      assert.equal(entries.length, 2);
      assert.ok(entries.some((entry) => entry.detail.secretRef === graph.secretRef));
    });

    it('ingest stores fixture alerts', async () => {
      const ctx = context(true);
      const batch = fixture('01-all-mixed.json');
      const result = await store.ingest(ctx, batch.events, batch.invalid);

      assert.equal(result.stored, 4);
      assert.equal(result.duplicates, 0);
      assert.equal(result.alertsCreated.length, 2);
      assert.equal(result.remediationAlertIds.length, 1);

      const message = await store.getAlert(result.remediationAlertIds[0]!);
      assert.equal(message?.type, 'delivered_message');
      assert.equal(message?.severity, 'critical');
      assert.equal(message?.rule, 'delivered-phish');
      assert.equal(message?.matched.classification, 'phish');
      assert.equal(message?.messageId, '<20250602091512.4471.ap@invoices.example.net>');
      assert.deepEqual(message?.recipients, ['dana.lee@example.com']);
      assert.equal(message?.occurredAt, '2025-06-02T09:15:14.000Z');
      assert.match(message?.threatUrl ?? '', /^https:\/\/threatinsight\.proofpoint\.com\//);
      assert.equal(message?.remediationStatus, 'none');

      const [click] = await store.listAlerts({ orgId: ctx.orgId, type: 'permitted_click' });
      assert.equal(click?.parentAlertId, message?.alertId);
      assert.deepEqual(
        (await store.listAlertEvents(message!.alertId)).map((entry) => [entry.eventType, entry.effect]),
        [
          ['messagesDelivered', 'created'],
          ['clicksPermitted', 'raised'],
        ],
      );

      const counts = await store.countEvents({ orgId: ctx.orgId });
      assert.deepEqual(
        counts.map((row) => `${row.eventType}:${row.disposition}:${row.count}`),
        [
          'clicksBlocked:informational:1',
          'clicksPermitted:alert:1',
          'messagesBlocked:informational:1',
          'messagesDelivered:alert:1',
        ],
      );
    });

    it('remediation off returns no ids', async () => {
      const batch = fixture('01-all-mixed.json');
      const result = await store.ingest(context(false), batch.events, batch.invalid);
      assert.equal(result.alertsCreated.length, 2);
      assert.deepEqual(result.remediationAlertIds, []);
    });

    it('same window three times', async () => {
      const ctx = context(true);
      const batch = fixture('03-delivered-phish-multi-recipient.json');
      const first = await store.ingest(ctx, batch.events, batch.invalid);
      const snapshot = await alertSnapshot(store, ctx.orgId);
      for (let attempt = 2; attempt <= 3; attempt += 1) {
        const again = await store.ingest(ctx, batch.events, batch.invalid);
        assert.equal(again.stored, 0);
        assert.equal(again.duplicates, 3);
        assert.deepEqual(again.alertsCreated, []);
        assert.deepEqual(again.alertsUpdated, []);
        assert.deepEqual(again.remediationAlertIds, []);
        assert.deepEqual(await alertSnapshot(store, ctx.orgId), snapshot);
      }
      assert.equal(first.remediationAlertIds.length, 1);
      assert.equal(snapshot.length, 1);
      assert.deepEqual(snapshot[0]?.recipients, [
        'alex.kim@example.com',
        'jo.berg@example.com',
        'lee.chan@example.com',
        'priya.nair@example.com',
      ]);
    });

    it('overlapping windows match one window', async () => {
      const events = fixture('03-delivered-phish-multi-recipient.json').events;
      const whole = context(true);
      await store.ingest(whole, events, []);

      const split = context(true);
      const first = await store.ingest(split, events.slice(0, 2), []);
      const second = await store.ingest(split, events.slice(1), []);
      assert.equal(second.stored, 1);
      assert.equal(second.duplicates, 1);
      assert.deepEqual(second.alertsCreated, []);
      assert.deepEqual(second.alertsUpdated, first.alertsCreated);
      // New recipients on an eligible alert make it due for deletion again.
      assert.deepEqual(second.remediationAlertIds, first.alertsCreated);

      const strip = (rows: Awaited<ReturnType<typeof alertSnapshot>>) => rows.map(({ alertId: _id, ...rest }) => rest);
      assert.deepEqual(strip(await alertSnapshot(store, split.orgId)), strip(await alertSnapshot(store, whole.orgId)));
    });

    it('two writers create no duplicate', async () => {
      const other = await openStore(database.options);
      try {
        const ctx = context(true);
        const events = [
          ...fixture('01-all-mixed.json').events,
          ...fixture('03-delivered-phish-multi-recipient.json').events,
        ];
        const results = await Promise.all([store.ingest(ctx, events, []), other.ingest(ctx, events, [])]);

        assert.equal(results[0].stored + results[1].stored, events.length);
        assert.equal(results[0].duplicates + results[1].duplicates, events.length);
        const created = [...results[0].alertsCreated, ...results[1].alertsCreated];
        assert.equal(created.length, 3);
        assert.equal(new Set(created).size, 3);
        assert.equal([...results[0].remediationAlertIds, ...results[1].remediationAlertIds].length, 2);
        assert.equal((await store.listAlerts({ orgId: ctx.orgId })).length, 3);
      } finally {
        await other.close();
      }
    });

    it('two writers merge different recipients', async () => {
      const other = await openStore(database.options);
      try {
        const ctx = context(true);
        const events = fixture('03-delivered-phish-multi-recipient.json').events;
        await Promise.all([store.ingest(ctx, events.slice(0, 1), []), other.ingest(ctx, events.slice(1), [])]);
        const alerts = await store.listAlerts({ orgId: ctx.orgId });
        assert.equal(alerts.length, 1);
        assert.equal(alerts[0]?.recipients.length, 4);
      } finally {
        await other.close();
      }
    });

    it('false positive closes stored alert', async () => {
      const ctx = context(true);
      const active = fixture('03-delivered-phish-multi-recipient.json').events;
      const created = await store.ingest(ctx, active, []);
      const falsePositive = active.slice(0, 1).map((event): TapEvent =>
        event.type === 'messagesDelivered'
          ? {
              ...event,
              threats: event.threats.map((t) => ({
                ...t,
                threatStatus: 'falsePositive',
                threatTime: '2025-06-03T00:00:00.000Z',
              })),
            }
          : event,
      );
      const result = await store.ingest(ctx, falsePositive, []);
      assert.equal(result.stored, 1, 'a new threatStatus for the same event id is a new event');
      assert.deepEqual(result.alertsUpdated, created.alertsCreated);
      const alert = await store.getAlert(created.alertsCreated[0]!);
      assert.equal(alert?.state, 'closed');
      assert.equal(alert?.rule, 'delivered-false-positive');
      assert.equal(alert?.autoDeleteEligible, false);
    });

    describe('falsePositive before active', () => {
      /**
       * Parses fixture 05 (a message and a click that TAP reclassified as falsePositive at
       * 10:31:12) with the threatStatus and threatTime that TAP would have sent at another time.
       */
      const fixture05 = (threatStatus: string, threatTime: string): TapEvent[] => {
        const text = readFileSync(new URL('../fixtures/tap/05-false-positive.json', import.meta.url), 'utf8');
        return parseSiemResponse(
          text
            .replaceAll('"threatStatus": "falsePositive"', `"threatStatus": "${threatStatus}"`)
            .replaceAll('"threatTime": "2025-06-04T10:31:12.000Z"', `"threatTime": "${threatTime}"`),
        ).events;
      };
      const falsePositive = fixture05('falsePositive', '2025-06-04T10:31:12.000Z');
      const active = fixture05('active', '2025-06-04T08:30:00.000Z');
      /** The falsePositive events with the threatTime of the active ones, so neither status is newer. */
      const falsePositiveSameTime = fixture05('falsePositive', '2025-06-04T08:30:00.000Z');

      /**
       * Event batches in arrival order, how many alerts each batch may queue for deletion, and
       * the event counts by disposition they must leave.
       * In one batch the older active status is applied first, so it opens the alert that the
       * falsePositive then closes. A falsePositive that is applied first finds no alert, and the
       * active event that follows creates its alert closed. At equal threatTime the batch order
       * decides which is applied first, and the falsePositive wins either way.
       */
      const orders: Record<string, { batches: TapEvent[][]; remediations: number[]; dispositions: string[] }> = {
        'same batch, falsePositive first': {
          batches: [[...falsePositive, ...active]],
          remediations: [0],
          dispositions: [
            'clicksPermitted:alert:1',
            'clicksPermitted:closed:1',
            'messagesDelivered:alert:1',
            'messagesDelivered:closed:1',
          ],
        },
        'same batch, active first': {
          batches: [[...active, ...falsePositive]],
          remediations: [0],
          dispositions: [
            'clicksPermitted:alert:1',
            'clicksPermitted:closed:1',
            'messagesDelivered:alert:1',
            'messagesDelivered:closed:1',
          ],
        },
        'same batch and threatTime, falsePositive first': {
          batches: [[...falsePositiveSameTime, ...active]],
          remediations: [0],
          dispositions: ['clicksPermitted:closed:2', 'messagesDelivered:closed:2'],
        },
        'falsePositive batch first': {
          batches: [falsePositive, active],
          remediations: [0, 0],
          dispositions: ['clicksPermitted:closed:2', 'messagesDelivered:closed:2'],
        },
        'active batch first': {
          batches: [active, falsePositive],
          remediations: [1, 0],
          dispositions: [
            'clicksPermitted:alert:1',
            'clicksPermitted:closed:1',
            'messagesDelivered:alert:1',
            'messagesDelivered:closed:1',
          ],
        },
      };

      for (const [name, { batches, remediations, dispositions }] of Object.entries(orders)) {
        it(`${name} leaves alerts closed`, async () => {
          const ctx = context(true);
          for (const [index, batch] of batches.entries()) {
            const result = await store.ingest(ctx, batch, []);
            // Only an active batch before any falsePositive may queue its message for deletion.
            assert.equal(result.remediationAlertIds.length, remediations[index], `batch ${index + 1}`);
          }

          const alerts = await alertSnapshot(store, ctx.orgId);
          const [messageAlert, clickAlert] = ['delivered_message', 'permitted_click'].map((type) =>
            alerts.find((alert) => alert.type === type),
          );
          assert.equal(alerts.length, 2);
          assert.equal(messageAlert?.state, 'closed');
          assert.equal(messageAlert?.severity, 'informational');
          assert.equal(messageAlert?.rule, 'delivered-false-positive');
          assert.equal(messageAlert?.autoDeleteEligible, false);
          assert.deepEqual(messageAlert?.recipients, ['ops-team@example.com']);
          assert.equal(clickAlert?.state, 'closed');
          assert.equal(clickAlert?.rule, 'permitted-click-false-positive');
          assert.equal(clickAlert?.autoDeleteEligible, false);
          assert.equal(clickAlert?.parentAlertId, messageAlert?.alertId);

          const counts = await store.countEvents({ orgId: ctx.orgId });
          assert.deepEqual(
            counts.map((row) => `${row.eventType}:${row.disposition}:${row.count}`),
            dispositions,
          );

          for (const batch of batches) {
            const again = await store.ingest(ctx, batch, []);
            assert.equal(again.stored, 0);
            assert.deepEqual(again.alertsCreated, []);
            assert.deepEqual(again.alertsUpdated, []);
            assert.deepEqual(again.remediationAlertIds, []);
          }
          assert.deepEqual(await alertSnapshot(store, ctx.orgId), alerts);
        });
      }

      it('stored body parses in both formats', () => {
        const [event] = falsePositive;
        assert.ok(event);
        for (const body of [JSON.stringify(event.raw), JSON.stringify(event)]) {
          const parsed = parseStoredEvent(event.type, body);
          assert.equal(parsed?.key, event.key);
          assert.deepEqual(parsed, event);
        }
        assert.equal(parseStoredEvent(event.type, '{}'), null);
      });

      it('late active event links to closed alert', async () => {
        const ctx = context(true);
        await store.ingest(ctx, falsePositive, []);
        const result = await store.ingest(ctx, active, []);
        assert.equal(result.alertsCreated.length, 2);
        assert.deepEqual(result.remediationAlertIds, []);

        const [message] = await store.listAlerts({ orgId: ctx.orgId, type: 'delivered_message' });
        assert.equal(message?.reason, 'TAP reclassified the threat of this message as a false positive.');
        assert.equal(message?.matched.threatStatus, 'falsePositive');
        assert.deepEqual(
          (await store.listAlertEvents(message!.alertId))
            .map((entry) => [entry.eventType, entry.ruleId, entry.effect])
            .sort(),
          [
            ['messagesDelivered', 'delivered-false-positive', 'closed'],
            ['messagesDelivered', 'delivered-phish', 'created'],
          ],
        );

        // The falsePositive events are stored as closing their alerts, not as ignored.
        const closes = await store.countEvents({ orgId: ctx.orgId });
        assert.deepEqual(
          closes.map((row) => `${row.eventType}:${row.disposition}:${row.count}`),
          ['clicksPermitted:closed:2', 'messagesDelivered:closed:2'],
        );
      });
    });

    it('tuning suppresses and counts', async () => {
      const ctx = context(true);
      const rule = await store.addTuningRule(
        {
          orgId: ctx.orgId,
          deviceId: ctx.deviceId,
          field: 'senderDomain',
          value: 'Docs-Share.example.net',
          comment: 'vendor test',
        },
        actor,
      );
      const again = await store.addTuningRule(
        {
          orgId: ctx.orgId,
          deviceId: ctx.deviceId,
          field: 'senderDomain',
          value: 'docs-share.example.net',
          comment: '',
        },
        actor,
      );
      assert.equal(again.ruleId, rule.ruleId);
      assert.equal(rule.value, 'docs-share.example.net');

      const result = await store.ingest(ctx, fixture('03-delivered-phish-multi-recipient.json').events, []);
      assert.equal(result.stored, 3);
      assert.equal(result.suppressed, 3);
      assert.deepEqual(result.alertsCreated, []);

      const [listed] = await store.listTuningRules({ orgId: ctx.orgId });
      assert.equal(listed?.suppressedEvents, 3);
      assert.equal(await store.removeTuningRule(rule.ruleId, actor), true);
      assert.equal(await store.removeTuningRule(rule.ruleId, actor), false);
      assert.deepEqual(await store.listTuningRules({ orgId: ctx.orgId }), []);

      const events = await store.countEvents({ orgId: ctx.orgId });
      assert.deepEqual(
        events.map((row) => [row.disposition, row.count]),
        [['suppressed', 3]],
      );
      const actions = (await store.listAudit(20)).filter((entry) => entry.subject === `${ctx.orgId}:${ctx.deviceId}`);
      assert.deepEqual(actions.map((entry) => entry.action).sort(), ['tuning.add', 'tuning.remove']);
    });

    it('tuning checks classification values', async () => {
      const ctx = context();
      const rule = (value: string) => ({ ...ctx, field: 'classification' as const, value, comment: '' });

      await assert.rejects(
        store.addTuningRule(rule('phishing'), actor),
        (err: unknown) =>
          err instanceof StoreInputError &&
          err.code === 'INVALID_TUNING_VALUE' &&
          /'phishing' is invalid for classification; use one of malware, phish, spam, impostor, unknown/.test(
            err.message,
          ),
      );
      assert.deepEqual(await store.listTuningRules({ orgId: ctx.orgId }), []);

      const stored = await store.addTuningRule(rule('Phish'), actor);
      assert.equal(stored.value, 'phish');
      const other = await store.addTuningRule({ ...ctx, field: 'senderDomain', value: 'phishing', comment: '' }, actor);
      assert.equal(other.value, 'phishing', 'fields without a closed set take any value');
    });

    it('invalid events are kept once', async () => {
      const ctx = context();
      const batch = fixture('21-odd-cases.json');
      const first = await store.ingest(ctx, batch.events, batch.invalid);
      const second = await store.ingest(ctx, batch.events, batch.invalid);
      assert.equal(first.invalid, batch.invalid.length);
      assert.equal(second.invalid, 0);
      const invalid = (await store.countEvents({ orgId: ctx.orgId })).filter((row) => row.disposition === 'invalid');
      assert.equal(
        invalid.reduce((sum, row) => sum + row.count, 0),
        batch.invalid.length,
      );
    });

    it('untrusted text is stored as data', async () => {
      const ctx = context();
      const [event] = fixture('01-all-mixed.json').events.filter((e) => e.type === 'messagesDelivered');
      assert.equal(event?.type, 'messagesDelivered');
      const subject = `x'); DROP TABLE alerts; -- $1 ?1 <script>"`;
      const hostile: TapEvent = { ...event, subject, messageId: `<a'b"$2@example.net>` };
      const result = await store.ingest(ctx, [hostile], []);
      const alert = await store.getAlert(result.alertsCreated[0]!);
      assert.equal(alert?.subject, subject);
      assert.equal(alert?.messageId, `<a'b"$2@example.net>`);
    });

    it('NUL and lone surrogates ingest', async () => {
      const ctx = context();
      const response = JSON.parse(readFileSync(new URL('../fixtures/tap/01-all-mixed.json', import.meta.url), 'utf8'));
      const raw = response.messagesDelivered[0];
      raw.subject = 'invoice\u0000 due \uD800';
      raw.GUID = `${raw.GUID}\uDC00`;
      raw.messageID = '<a\u0000b@example.net>';
      const batch = parseSiemResponse(
        JSON.stringify({ queryEndTime: response.queryEndTime, messagesDelivered: [raw] }),
      );

      const first = await store.ingest(ctx, batch.events, batch.invalid);
      const again = await store.ingest(ctx, batch.events, batch.invalid);
      const alerts = await store.listAlerts({ orgId: ctx.orgId });

      assert.ok(first.alertsCreated.length > 0);
      assert.equal(again.stored, 0);
      assert.equal(alerts.length, first.alertsCreated.length);
      for (const alert of alerts) {
        assert.equal(alert.subject, 'invoice\uFFFD due \uFFFD');
        assert.equal(alert.guid, batch.events[0]?.guid);
        assert.ok(alert.guid?.endsWith('\uFFFD'));
        assert.equal(alert.messageId, '<a\uFFFDb@example.net>');
      }
    });

    it('recipient results keep the first', async () => {
      const ctx = context(true);
      const result = await store.ingest(ctx, fixture('03-delivered-phish-multi-recipient.json').events, []);
      const alertId = result.remediationAlertIds[0]!;
      const at = '2025-06-02T15:00:00.000Z';
      await store.recordRecipientResults(alertId, [
        { recipient: 'alex.kim@example.com', outcome: 'deleted', copies: 1, reason: null, at },
      ]);
      await store.recordRecipientResults(alertId, [
        { recipient: 'alex.kim@example.com', outcome: 'failed', copies: 0, reason: 'retry', at },
        { recipient: 'jo.berg@example.com', outcome: 'not_found', copies: 0, reason: null, at },
      ]);
      await store.setRemediationStatus(alertId, 'partial', 'two recipients left');

      const target = await store.getRemediationTarget(alertId);
      assert.equal(target?.messageId, '<DS.20250602140319.77abf1@docs-share.example.net>');
      assert.equal(target?.status, 'partial');
      assert.equal(target?.recipients.length, 4);
      assert.deepEqual(
        target?.done.map((entry) => [entry.recipient, entry.outcome]),
        [
          ['alex.kim@example.com', 'deleted'],
          ['jo.berg@example.com', 'not_found'],
        ],
      );
      assert.equal((await store.getAlert(alertId))?.remediationReason, 'two recipients left');
    });

    it('dashboard counts', async () => {
      const ctx = context();
      await store.ingest(ctx, fixture('01-all-mixed.json').events, []);
      await store.ingest(ctx, fixture('06-clicks-permitted-and-blocked.json').events, []);
      const counts = await store.countAlerts({ orgId: ctx.orgId });
      assert.deepEqual(
        counts.map((row) => `${row.deviceId}:${row.type}:${row.severity}:${row.state}:${row.count}`),
        [
          'tap-1:delivered_message:critical:open:1',
          'tap-1:permitted_click:critical:open:2',
          'tap-1:permitted_click:low:open:1',
        ],
      );
      const filtered = await store.listAlerts({ orgId: ctx.orgId, severity: 'low' });
      assert.deepEqual(
        filtered.map((alert) => alert.rule),
        ['permitted-click-spam'],
      );
    });

    it('device health alerts', async () => {
      const { orgId } = context();
      await store.recordDeviceHealth(orgId, 'tap-1', 'not_polling', true, 'No poll for 10 minutes.');
      await store.recordDeviceHealth(orgId, 'tap-1', 'not_polling', true, 'No poll for 10 minutes.');
      let [alert] = await store.listAlerts({ orgId, type: 'device_health' });
      assert.equal(alert?.state, 'open');
      assert.equal(alert?.severity, 'high');
      assert.equal(alert?.reason, 'No poll for 10 minutes.');

      await store.recordDeviceHealth(orgId, 'tap-1', 'not_polling', false, null);
      [alert] = await store.listAlerts({ orgId, type: 'device_health' });
      assert.equal(alert?.state, 'closed');
      assert.equal((await store.listAlerts({ orgId })).length, 1);
    });
  });
}
