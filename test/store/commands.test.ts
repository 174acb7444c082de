import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../activities/store/index.ts';
import { AUTO_REMEDIATE_DELIVERED, type WorkbenchStore } from '../../activities/store/types.ts';
import { createPostgresSchema, createSqliteDirectory, type TestDatabase } from './databases.ts';
import { fixture } from './suite.ts';

const CLI = fileURLToPath(new URL('../../bin/tap-mdr.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/tap/', import.meta.url));

/**
 * Runs `tap-mdr` in a child process; `databaseUrl` selects PostgreSQL, as DATABASE_URL does.
 * No Temporal server listens at TEMPORAL_ADDRESS, so a command that reaches Temporal fails.
 */
function tapMdr(args: string[], databaseUrl?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, TAP_MDR_ACTOR: 'cli-test', TEMPORAL_ADDRESS: '127.0.0.1:1' };
  delete env.DATABASE_URL;
  delete env.TAP_MDR_DATA_DIR;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('tap-mdr detect', () => {
  it('prints fixture alerts as JSON lines', () => {
    const result = tapMdr(['detect', `${FIXTURES}01-all-mixed.json`, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const lines = jsonLines(result.stdout);
    assert.deepEqual(
      lines.map((line) => [line.kind, line.type ?? line.eventType, line.severity ?? null, line.rule]),
      [
        ['alert', 'delivered_message', 'critical', 'delivered-phish'],
        ['alert', 'permitted_click', 'critical', 'permitted-click'],
        ['ignored', 'messagesBlocked', null, 'blocked-message'],
        ['ignored', 'clicksBlocked', null, 'blocked-click'],
      ],
    );
    assert.deepEqual(lines[0]?.recipients, ['dana.lee@example.com']);
    assert.equal(lines[0]?.guid, 'Qm3xT9vKp2LrW8zA4cYdN6hJ0sFbE1uG');
    assert.equal(lines[0]?.messageId, '<20250602091512.4471.ap@invoices.example.net>');
    assert.equal(lines[0]?.autoDeleteEligible, true);
    assert.equal(lines[1]?.autoDeleteEligible, false);
    assert.equal(lines[2]?.reason, 'TAP blocked the message before delivery; nothing to remediate.');
  });

  it('prints invalid events', () => {
    const result = tapMdr(['detect', `${FIXTURES}21-odd-cases.json`, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const invalid = jsonLines(result.stdout).filter((line) => line.kind === 'invalid');
    assert.equal(invalid.length, 5);
    assert.equal(invalid[0]?.reason, 'GUID is missing or empty');
  });

  it('text output escapes control characters', () => {
    const result = tapMdr(['detect', `${FIXTURES}21-odd-cases.json`]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^2 alerts, 2 ignored events, 5 invalid events$/m);
    assert.doesNotMatch(result.stdout, /\u2028/);
  });

  it('rejects JSON that is not a SIEM response', () => {
    const folder = mkdtempSync(join(tmpdir(), 'tap-mdr-detect-'));
    try {
      const cases: Array<[string, string, RegExp]> = [
        ['empty-object.json', '{}', /it has no queryEndTime and none of messagesDelivered, messagesBlocked/],
        ['other.json', '{"foo":1}', /it has no queryEndTime and none of messagesDelivered, messagesBlocked/],
        ['array.json', '[]', /its JSON is an array, not an object/],
        ['text.json', 'root:secret-line\n', /it is not valid JSON/],
      ];
      for (const [name, body, problem] of cases) {
        const file = join(folder, name);
        writeFileSync(file, body);
        const result = tapMdr(['detect', file]);
        assert.equal(result.status, 2, `exit code for ${name}: ${result.stderr}`);
        assert.match(result.stderr, /\(TAP_MDR_INVALID_TAP_RESPONSE\)$/m);
        assert.match(result.stderr, new RegExp(`${file.replaceAll('.', '\\.')} is not a TAP SIEM response`));
        assert.match(result.stderr, problem);
        assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${name}`);
        assert.doesNotMatch(result.stderr, /secret-line/, 'the file content is not echoed');
        assert.equal(result.stdout, '');
      }

      const quiet = join(folder, 'quiet.json');
      writeFileSync(
        quiet,
        JSON.stringify({
          queryEndTime: '2025-06-02T10:00:00Z',
          messagesDelivered: [],
          messagesBlocked: [],
          clicksPermitted: [],
          clicksBlocked: [],
        }),
      );
      const result = tapMdr(['detect', quiet]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^0 alerts, 0 ignored events, 0 invalid events$/m);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('missing file is a usage error', () => {
    const result = tapMdr(['detect', `${FIXTURES}does-not-exist.json`]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /cannot read .*does-not-exist\.json/);
  });
});

describe('tap-mdr --data-dir', () => {
  it('rejects an empty directory', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tap-mdr-empty-dir-'));
    try {
      for (const command of [['device', 'list'], ['start'], ['worker']]) {
        const env: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' };
        delete env.DATABASE_URL;
        const result = spawnSync(process.execPath, [CLI, ...command, '--data-dir', ' '], {
          cwd,
          encoding: 'utf8',
          env,
        });
        assert.equal(result.status, 2, `exit code of ${command.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, /--data-dir is empty; pass a directory/);
        assert.match(result.stderr, /\(TAP_MDR_INVALID_OPTION\)/);
      }
      assert.deepEqual(readdirSync(cwd), [], 'nothing is written to the working directory');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('tap-mdr option checks', () => {
  it('dashboard rejects empty filters', () => {
    for (const flag of ['--org', '--device']) {
      const result = tapMdr(['dashboard', flag, '']);
      assert.equal(result.status, 2, `${flag}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`invalid ${flag.slice(2)}: missing`));
      assert.equal(result.stdout, '');
    }
  });

  it('device add checks options before secret', () => {
    for (const interval of ['1e3', '0x10', '-5', 'soon']) {
      const result = tapMdr([
        'device',
        'add',
        '--org',
        'acme',
        '--name',
        'HQ TAP',
        '--principal',
        'principal-1',
        `--poll-interval=${interval}`,
      ]);
      assert.equal(result.status, 2, `${interval}: ${result.stderr}`);
      assert.match(result.stderr, /invalid poll-interval: .* must be 1 to 3600 seconds/);
      assert.doesNotMatch(result.stderr, /secret/);
    }
  });
});

for (const [kind, createDatabase] of [
  ['embedded SQLite', createSqliteDirectory],
  ['PostgreSQL', createPostgresSchema],
] as const) {
  describe(`store commands on ${kind}`, () => {
    let database: TestDatabase;
    let store: WorkbenchStore;
    let common: string[];
    const context = { orgId: 'acme', deviceId: 'tap-eu', autoRemediateDelivered: true };

    before(async () => {
      database = await createDatabase();
      store = await openStore(database.options);
      common = ['--data-dir', database.options.dataDir];
      await store.addDevice(
        {
          orgId: 'acme',
          deviceId: 'tap-eu',
          name: 'TAP EU',
          location: 'eu',
          principal: 'principal-1',
          secretRef: 'tap:acme:tap-eu:test',
          tapBaseUrl: 'http://127.0.0.1:9',
          createdAt: '2025-06-01T00:00:00.000Z',
          status: 'polling',
          health: 'healthy',
          removedAt: null,
        },
        { name: 'test' },
      );
      await store.ingest(context, fixture('01-all-mixed.json').events, []);
      await store.ingest(context, fixture('06-clicks-permitted-and-blocked.json').events, []);
    });

    after(async () => {
      await store?.close();
      await database?.drop();
    });

    const run = (args: string[]) => tapMdr([...args, ...common], database.options.databaseUrl);

    it('alerts list filters by severity', () => {
      const result = run(['alerts', 'list', '--org', 'acme', '--severity', 'low', '--json']);
      assert.equal(result.status, 0, result.stderr);
      const alerts = JSON.parse(result.stdout) as { rule: string; recipients: string[] }[];
      assert.deepEqual(
        alerts.map((alert) => alert.rule),
        ['permitted-click-spam'],
      );
      assert.deepEqual(alerts[0]?.recipients, ['casey.wu@example.com']);
    });

    it('alerts list rejects a bad severity', () => {
      const result = run(['alerts', 'list', '--severity', 'urgent']);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /invalid severity: "urgent"/);
    });

    it('alerts show prints events', async () => {
      const [message] = await store.listAlerts({ orgId: 'acme', type: 'delivered_message' });
      const result = run(['alerts', 'show', message!.alertId]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /Rule: +delivered-phish: A message with an active phishing threat/);
      assert.match(result.stdout, /messagesDelivered +delivered-phish +created/);
      assert.match(result.stdout, /clicksPermitted +permitted-click +raised/);
    });

    it('alerts show unknown id fails', () => {
      const result = run(['alerts', 'show', 'alert_000000000000000000000000']);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /alert "alert_000000000000000000000000" not found/);
    });

    it('dashboard counts', () => {
      const result = run(['dashboard', '--org', 'acme', '--json']);
      assert.equal(result.status, 0, result.stderr);
      const { alerts, events } = JSON.parse(result.stdout) as {
        alerts: { type: string; severity: string; count: number }[];
        events: { eventType: string; disposition: string; count: number }[];
      };
      assert.deepEqual(
        alerts.map((row) => `${row.type}:${row.severity}:${row.count}`),
        ['delivered_message:critical:1', 'permitted_click:critical:2', 'permitted_click:low:1'],
      );
      assert.deepEqual(
        events.map((row) => `${row.eventType}:${row.disposition}:${row.count}`),
        [
          'clicksBlocked:informational:3',
          'clicksPermitted:alert:3',
          'messagesBlocked:informational:1',
          'messagesDelivered:alert:1',
        ],
      );
    });

    it('tuning add, list, remove', () => {
      const added = run([
        'tuning',
        'add',
        '--org',
        'acme',
        '--device',
        'tap-eu',
        '--field',
        'classification',
        '--value',
        'spam',
        '--json',
      ]);
      assert.equal(added.status, 0, added.stderr);
      const rule = JSON.parse(added.stdout) as { ruleId: string; createdBy: string };
      assert.equal(rule.createdBy, 'cli-test');

      const listed = run(['tuning', 'list', '--org', 'acme']);
      assert.match(listed.stdout, new RegExp(`${rule.ruleId} +acme:tap-eu +classification = spam +suppressed=0`));

      const bad = run(['tuning', 'add', '--org', 'acme', '--device', 'tap-eu', '--field', 'subject', '--value', 'x']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /invalid field: "subject"/);

      assert.equal(run(['tuning', 'remove', rule.ruleId]).status, 0);
      const again = run(['tuning', 'remove', rule.ruleId]);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /not found/);
    });

    it('tuning add rejects an unknown device', async () => {
      const result = run(['tuning', 'add', '--org', 'acme', '--device', 'tap-us', '--field', 'senderDomain']);
      assert.equal(result.status, 2, 'the missing value is reported first');

      const unknown = run([
        'tuning',
        'add',
        '--org',
        'acme',
        '--device',
        'tap-us',
        '--field',
        'senderDomain',
        '--value',
        'example.net',
      ]);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /device acme:tap-us is not registered; list devices with `tap-mdr device list/);
      assert.deepEqual(await store.listTuningRules({ orgId: 'acme', deviceId: 'tap-us' }), []);
    });

    it('tuning add rejects a misspelt classification', async () => {
      const result = run([
        'tuning',
        'add',
        '--org',
        'acme',
        '--device',
        'tap-eu',
        '--field',
        'classification',
        '--value',
        'phishing',
      ]);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /invalid value: "phishing" is not a classification/);
      assert.match(result.stderr, /one of malware, phish, spam, impostor, unknown/);
      const rules = await store.listTuningRules({ orgId: 'acme', deviceId: 'tap-eu' });
      assert.ok(!rules.some((rule) => rule.value === 'phishing'), 'no rule was stored');

      const upper = run([
        'tuning',
        'add',
        '--org',
        'acme',
        '--device',
        'tap-eu',
        '--field',
        'classification',
        '--value',
        'MALWARE',
        '--json',
      ]);
      assert.equal(upper.status, 0, upper.stderr);
      assert.equal((JSON.parse(upper.stdout) as { value: string }).value, 'malware');
    });

    it('config set rejects an unknown organization', async () => {
      const result = run(['config', 'set', '--org', 'acme-typo', AUTO_REMEDIATE_DELIVERED, 'true']);
      assert.equal(result.status, 1);
      assert.match(result.stderr, /organization "acme-typo" not found/);
      assert.match(result.stderr, /`tap-mdr device add --org ORG …`/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.equal(await store.organizationExists('acme-typo'), false);
      assert.equal(await store.getOrgPreference('acme-typo', AUTO_REMEDIATE_DELIVERED), null);
    });
  });
}
