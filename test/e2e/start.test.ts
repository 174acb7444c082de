/**
 * End to end: `tap-mdr start` as a subprocess, on a fresh data directory, in demo mode. The
 * expected alerts and mailbox contents are written down from the demo scenario's story (see
 * simulators/demo-scenario.ts), not computed by the detection code.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { Page } from 'playwright-core';
import { openStore } from '../../activities/store/index.ts';
import type { AlertRecord, WorkbenchStore } from '../../activities/store/types.ts';
import { queryStatus } from '../../client/commands/device.ts';
import { eventually } from '../helpers/temporal.ts';
import {
  freePort,
  readMailboxes,
  requireStackFile,
  startStackProcess,
  type MailboxCopy,
  type StackProcess,
} from './stack-process.ts';
import { launchChromium } from './web-ui.ts';

const PHISH = 'Action required: confirm your direct deposit details';
const MALWARE = 'Remittance advice 4471';
const NEWSLETTER = 'Your April account statement is ready';
const PHISH_RECIPIENTS = [
  'dana.berg@example.com',
  'lee.chan@example.com',
  'priya.nair@example.com',
  'sam.okafor@example.com',
];
const MALWARE_RECIPIENTS = ['jo.haas@example.com', 'morgan.silva@example.com'];
const NEWSLETTER_RECIPIENTS = ['alex.kim@example.com', 'kim.wu@example.com', 'robin.diaz@example.com'];

/** One alert as the test compares it; recipients sorted. */
interface ExpectedAlert {
  type: string;
  subject: string | null;
  severity: string;
  state: string;
  recipients: string[];
  remediationStatus: string;
}

/**
 * The queue after the demo's story. The phish (raised to critical by the permitted clicks) and
 * the malware are deleted, and each permitted click is an alert of its own. The newsletter was
 * a low spam alert until TAP's false-positive verdict closed it as informational. Blocked
 * messages and the blocked click raise no alert.
 */
const EXPECTED_ALERTS: ExpectedAlert[] = [
  {
    type: 'delivered_message',
    subject: MALWARE,
    severity: 'high',
    state: 'open',
    recipients: MALWARE_RECIPIENTS,
    remediationStatus: 'done',
  },
  {
    type: 'delivered_message',
    subject: PHISH,
    severity: 'critical',
    state: 'open',
    recipients: PHISH_RECIPIENTS,
    remediationStatus: 'done',
  },
  {
    type: 'delivered_message',
    subject: NEWSLETTER,
    severity: 'informational',
    state: 'closed',
    recipients: NEWSLETTER_RECIPIENTS,
    remediationStatus: 'none',
  },
  {
    type: 'permitted_click',
    subject: null,
    severity: 'critical',
    state: 'open',
    recipients: ['priya.nair@example.com'],
    remediationStatus: 'none',
  },
  {
    type: 'permitted_click',
    subject: null,
    severity: 'critical',
    state: 'open',
    recipients: ['sam.okafor@example.com'],
    remediationStatus: 'none',
  },
];

/** Copies the story deletes (soft delete moves them to Recoverable Items): `address|subject`. */
const DELETED_COPIES = new Set([
  ...PHISH_RECIPIENTS.map((address) => `${address}|${PHISH}`),
  ...MALWARE_RECIPIENTS.map((address) => `${address}|${MALWARE}`),
]);

const SOFT_DELETED_FOLDER = 'recoverableitemsdeletions';

function comparable(alerts: AlertRecord[]): ExpectedAlert[] {
  const views = alerts.map((alert) => ({
    type: alert.type,
    subject: alert.subject,
    severity: alert.severity,
    state: alert.state,
    recipients: [...alert.recipients].sort(),
    remediationStatus: alert.remediationStatus,
  }));
  return sortAlerts(views);
}

function sortAlerts(alerts: ExpectedAlert[]): ExpectedAlert[] {
  return [...alerts].sort(
    (a, b) =>
      a.type.localeCompare(b.type) ||
      (a.subject ?? '').localeCompare(b.subject ?? '') ||
      a.recipients.join().localeCompare(b.recipients.join()),
  );
}

/** Polls the queue until it equals EXPECTED_ALERTS; the timeout error shows the last queue. */
async function waitForExpectedAlerts(store: WorkbenchStore, timeoutMs: number): Promise<AlertRecord[]> {
  let last: ExpectedAlert[] = [];
  try {
    return await eventually(
      'the demo alerts',
      async () => {
        const alerts = await store.listAlerts({ orgId: 'demo-org', limit: 1000 });
        last = comparable(alerts);
        return JSON.stringify(last) === JSON.stringify(sortAlerts(EXPECTED_ALERTS)) ? alerts : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    assert.deepEqual(last, sortAlerts(EXPECTED_ALERTS), (err as Error).message);
    throw err;
  }
}

/** Returns `address|subject|folder` for every copy, sorted, for a readable diff. */
function mailboxLines(mailboxes: Map<string, MailboxCopy[]>): string[] {
  return [...mailboxes]
    .flatMap(([address, copies]) => copies.map((copy) => `${address}|${copy.subject}|${copy.folder}`))
    .sort();
}

function expectedMailboxLine(line: string): string {
  const [address, subject] = line.split('|');
  const key = `${address}|${subject}`;
  return `${key}|${DELETED_COPIES.has(key) ? SOFT_DELETED_FOLDER : 'inbox'}`;
}

describe('tap-mdr start in demo mode', { timeout: 240_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tap-mdr-e2e-'));
  let args: string[];
  let stack: StackProcess | undefined;
  let store: WorkbenchStore | undefined;
  let firstAlertIds: string[] = [];

  before(async () => {
    args = [
      '--data-dir',
      dataDir,
      '--poll-interval',
      '2',
      '--temporal-port',
      String(await freePort()),
      '--ui-port',
      String(await freePort()),
    ];
    stack = startStackProcess(args);
  });

  after(async () => {
    await stack?.stop();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('demo device reaches receiving data', async () => {
    await stack!.waitForLine(/Temporal Web UI: http:\/\/127\.0\.0\.1:\d+/, 90_000);
    await stack!.waitForLine(/device demo-org:tap-demo: receiving data/, 90_000);
  });

  test('queue holds the alerts the story implies', async () => {
    store = await openStore({ dataDir });
    const alerts = await waitForExpectedAlerts(store, 120_000);
    firstAlertIds = alerts.map((alert) => alert.alertId).sort();
    assert.equal(firstAlertIds.length, EXPECTED_ALERTS.length);
  });

  test('phish and malware deleted from recipients only', async () => {
    const mailboxes = await readMailboxes(requireStackFile(dataDir));
    const lines = mailboxLines(mailboxes);
    // 12 people with 2 ordinary messages each, plus the delivered phish (4), malware (2) and newsletter (3).
    assert.equal(mailboxes.size, 12);
    assert.equal(lines.length, 12 * 2 + 4 + 2 + 3);
    assert.equal(new Set(lines).size, lines.length, 'each mailbox holds one copy of each message');
    assert.deepEqual(lines, lines.map(expectedMailboxLine));

    const deleted = lines.filter((line) => line.endsWith(`|${SOFT_DELETED_FOLDER}`));
    assert.equal(deleted.length, DELETED_COPIES.size, 'one copy per recipient is deleted');
    assert.ok(
      lines.some((line) => line.startsWith(`priya.nair@example.com|Weekly team update|inbox`)),
      'ordinary mail of a phish recipient stays in the inbox',
    );
  });

  test('operator output names alerts and deletions', async () => {
    // The monitor prints within a couple of seconds of the store change that the test saw.
    const expectedLines = [
      /device demo-org:tap-demo: onboarding/,
      /device demo-org:tap-demo: polling, health healthy/,
      new RegExp(`alert created: critical delivered_message \\S+ "${PHISH}" to 4 recipients`),
      new RegExp(`alert created: high delivered_message \\S+ "${MALWARE}" to 2 recipients`),
      new RegExp(`alert created: low delivered_message \\S+ "${NEWSLETTER}" to 3 recipients`),
      new RegExp(`alert closed: informational delivered_message \\S+ "${NEWSLETTER}" to 3 recipients`),
      /alert created: critical permitted_click \S+ priya\.nair@example\.com clicked https:\/\/paysecure-hr/,
      new RegExp(`deletion done: alert \\S+ "${PHISH}" deleted from 4 of 4 mailboxes`),
      new RegExp(`deletion done: alert \\S+ "${MALWARE}" deleted from 2 of 2 mailboxes`),
    ];
    for (const pattern of expectedLines) await stack!.waitForLine(pattern, 10_000);
  });

  test('Web UI shows the device workflow', async () => {
    const { webUiUrl } = requireStackFile(dataDir);
    assert.ok(webUiUrl, 'stack.json names the Web UI');
    const browser = await launchChromium();
    const page = await browser.context.newPage();
    try {
      await checkDeviceWorkflowPage(page, webUiUrl);
    } catch (err) {
      // The data directory is removed after the run; keep the picture where a developer finds it.
      const screenshot = join(tmpdir(), `tap-mdr-web-ui-failure-${process.pid}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      throw new Error(`${(err as Error).message}\nscreenshot of the page: ${screenshot}`, { cause: err });
    } finally {
      await browser.close();
    }
  });

  test('second start resumes without duplicates', async () => {
    const exitCode = await stack!.stop();
    assert.equal(exitCode, 0, stack!.lines.join('\n'));
    assert.ok(stack!.lines.some((line) => line.startsWith('Stopped. Data directory')));
    assert.equal(existsSync(join(dataDir, 'stack.json')), false, 'stop removes stack.json');

    const restartedAt = new Date();
    stack = startStackProcess(args);
    await stack.waitForLine(/Device demo-org:tap-demo already registered; its workflow is running/, 90_000);
    await stack.waitForLine(/5 alerts already in the queue/, 30_000);

    // A poll that read TAP after the restart: its look-back re-reads the story's events.
    const { temporalAddress } = requireStackFile(dataDir);
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      const client = new Client({ connection });
      await eventually(
        'a successful poll after the restart',
        async () => {
          const status = await queryStatus(client, 'demo-org', 'tap-demo');
          const polledAfterRestart = status.lastPoll !== null && new Date(status.lastPoll.at) > restartedAt;
          return polledAfterRestart && status.lastPoll?.result === 'ok' ? status : undefined;
        },
        90_000,
      );
    } finally {
      await connection.close();
    }

    const alerts = await waitForExpectedAlerts(store!, 10_000);
    assert.deepEqual(alerts.map((alert) => alert.alertId).sort(), firstAlertIds);
    assert.ok(!stack.lines.some((line) => /alert created/.test(line)), stack.lines.join('\n'));

    const lines = mailboxLines(await readMailboxes(requireStackFile(dataDir)));
    assert.deepEqual(lines, lines.map(expectedMailboxLine), 'the mailboxes keep their deletions across restarts');
  });
});

/**
 * Finds the device workflow by its search attributes in the workflow list, then checks its
 * static summary (User Metadata tab) and search attributes (Search Attributes tab).
 */
async function checkDeviceWorkflowPage(page: Page, webUiUrl: string): Promise<void> {
  const query = encodeURIComponent('TapMdrOrgId="demo-org" AND TapMdrDeviceId="tap-demo"');
  await page.goto(`${webUiUrl}/namespaces/default/workflows?query=${query}`);
  const row = page.getByRole('link', { name: 'tap-device:demo-org:tap-demo' }).first();
  await row.waitFor({ timeout: 30_000 });
  await row.click();

  await tab(page, 'User Metadata').click();
  // The UI renders the summary as Markdown inside an iframe, so read every frame.
  const summary = 'Proofpoint TAP device Proofpoint TAP (demo) (demo-org/tap-demo)';
  await eventually(
    'the static summary',
    async () => (await textOfAllFrames(page)).includes(summary) || undefined,
    30_000,
  );

  await tab(page, 'Search Attributes').click();
  const attributes = await eventually(
    'the search attributes',
    async () => {
      const text = await textOfAllFrames(page);
      return text.includes('"TapMdrHealth"') ? text : undefined;
    },
    30_000,
  );
  assert.match(attributes, /"TapMdrOrgId": "demo-org"/);
  assert.match(attributes, /"TapMdrDeviceId": "tap-demo"/);
  assert.match(attributes, /"TapMdrHealth": "healthy"/);
}

function tab(page: Page, name: string) {
  return page.getByRole('tab', { name }).or(page.getByRole('link', { name })).first();
}

async function textOfAllFrames(page: Page): Promise<string> {
  const texts = await Promise.all(
    page.frames().map((frame) =>
      frame
        .locator('body')
        .innerText({ timeout: 2_000 })
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}
