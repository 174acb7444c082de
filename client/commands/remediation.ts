/**
 * `tap-mdr remediate`, `tap-mdr remediation show` and `tap-mdr config set`: starting a
 * deletion by hand, showing its results, and turning auto deletion on or off.
 */
import { parseArgs } from 'node:util';
import { REMOVAL_ACTIONS, type RemovalAction } from '../../activities/email/types.ts';
import type { AlertRecord, RecipientResult } from '../../activities/store/types.ts';
import { AUTO_REMEDIATE_DELIVERED } from '../../activities/store/types.ts';
import { resolveRuntimeConfig } from '../../workers/config.ts';
import { remediationWorkflowId } from '../../workflows/device-remediation.ts';
import { CliError, type Command } from '../command.ts';
import { setAutoRemediateDelivered, startRemediation } from '../remediations.ts';
import { actorFromEnv, printable, withStore } from '../store-config.ts';
import { connectTemporal } from '../temporal.ts';
import { validateId } from '../validate.ts';

const REMEDIATE_USAGE = `Usage: tap-mdr remediate ALERT_ID [--action ACTION] [--json] [--data-dir DIR]

Deletes the alert's message from every recipient mailbox that has no result yet, with the
organization's email provider. Runs as workflow tap-remediation:<org>:<alert>, the same one that
auto deletion starts; a running one is told to pick up new recipients instead.

  --action ACTION   softDelete, hardDelete, quarantine or dryRun (default: the organization's)`;

const SHOW_USAGE = `Usage: tap-mdr remediation show ALERT_ID [--json] [--data-dir DIR]

Shows the alert's remediation status and the result of each recipient.`;

const CONFIG_USAGE = `Usage: tap-mdr config set --org ORG ${AUTO_REMEDIATE_DELIVERED} true|false

Sets an organization preference, records it in the audit log, and signals every running device
workflow of the organization. Alerts ingested afterwards are judged by the new value; earlier
alerts are not remediated (use \`tap-mdr remediate ALERT_ID\`). The organization must exist:
\`tap-mdr device add\` and \`tap-mdr email-provider set\` create it.`;

const OPTIONS = {
  org: { type: 'string' },
  action: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseFlags(argv: string[], usage: string) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${usage}`, 2);
  }
}

function parseAction(value: string | undefined): RemovalAction | undefined {
  if (value === undefined) return undefined;
  if (!(REMOVAL_ACTIONS as readonly string[]).includes(value)) {
    throw new CliError(
      'TAP_MDR_INVALID_INPUT',
      `invalid action: '${value}'; use one of ${REMOVAL_ACTIONS.join(', ')}`,
      2,
    );
  }
  return value as RemovalAction;
}

function requireAlertId(value: string | undefined, usage: string): string {
  if (value === undefined || value.trim() === '')
    throw new CliError('TAP_MDR_USAGE', `missing ALERT_ID\n\n${usage}`, 2);
  return value.trim();
}

function alertNotFound(alertId: string): CliError {
  return new CliError(
    'TAP_MDR_ALERT_NOT_FOUND',
    `alert ${JSON.stringify(alertId)} is not in the Workbench store; list alerts with \`tap-mdr alerts list\``,
  );
}

async function remediate(argv: string[]): Promise<void> {
  const { values: flags, positionals } = parseFlags(argv, REMEDIATE_USAGE);
  if (flags.help) return console.log(REMEDIATE_USAGE);
  const alertId = requireAlertId(positionals[0], REMEDIATE_USAGE);
  const action = parseAction(flags.action);
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });

  const alert = await withStore({ dataDir: config.dataDir }, async (store) => {
    const found = await store.getAlert(alertId);
    if (!found) throw alertNotFound(alertId);
    if (!found.messageId) {
      throw new CliError('TAP_MDR_NOT_REMEDIABLE', `alert ${alertId} (${found.type}) has no Message-ID to delete`);
    }
    await store.audit(actorFromEnv(), 'remediation.start', alertId, { orgId: found.orgId, action: action ?? null });
    return found;
  });

  const client = await connectTemporal(config);
  try {
    const result = await startRemediation(client, config.taskQueue, {
      orgId: alert.orgId,
      alertId,
      ...(action ? { action } : {}),
    });
    const text = result.started
      ? `remediation of alert ${alertId} started: workflow ${result.workflowId}; follow it with \`tap-mdr remediation show ${alertId}\``
      : `remediation of alert ${alertId} is already running (workflow ${result.workflowId}); told it to pick up new recipients`;
    console.log(flags.json ? JSON.stringify({ alertId, ...result }, null, 2) : text);
  } finally {
    await client.connection.close();
  }
}

async function show(argv: string[]): Promise<void> {
  const { values: flags, positionals } = parseFlags(argv, SHOW_USAGE);
  if (flags.help || positionals[0] !== 'show') return console.log(SHOW_USAGE);
  const alertId = requireAlertId(positionals[1], SHOW_USAGE);
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });

  await withStore({ dataDir: config.dataDir }, async (store) => {
    const alert = await store.getAlert(alertId);
    if (!alert) throw alertNotFound(alertId);
    const results = await store.listRecipientResults(alertId);
    const done = new Set(results.map((result) => result.recipient.toLowerCase()));
    const pending = alert.recipients.filter((recipient) => !done.has(recipient.toLowerCase()));

    if (flags.json) {
      const workflowId = remediationWorkflowId(alert.orgId, alertId);
      console.log(JSON.stringify(remediationJson(alert, workflowId, results, pending), null, 2));
      return;
    }
    console.log(formatRemediation(alert, results, pending));
  });
}

function remediationJson(alert: AlertRecord, workflowId: string, results: RecipientResult[], pending: string[]) {
  return {
    alertId: alert.alertId,
    orgId: alert.orgId,
    workflowId,
    messageId: alert.messageId,
    status: alert.remediationStatus,
    reason: alert.remediationReason,
    results,
    pending,
  };
}

function formatRemediation(alert: AlertRecord, results: RecipientResult[], pending: string[]): string {
  const lines = [
    `alert:       ${alert.alertId} (${alert.orgId}, ${alert.type}, ${alert.state})`,
    `message-id:  ${printable(alert.messageId)}`,
    `status:      ${alert.remediationStatus}${alert.remediationReason ? ` (${printable(alert.remediationReason)})` : ''}`,
    `workflow:    ${remediationWorkflowId(alert.orgId, alert.alertId)}`,
    '',
    'RECIPIENT\tOUTCOME\tCOPIES\tAT\tREASON',
    ...results.map((result) =>
      [printable(result.recipient), result.outcome, result.copies, result.at, printable(result.reason ?? '')].join(
        '\t',
      ),
    ),
    ...pending.map((recipient) => [printable(recipient), 'pending', 0, '', ''].join('\t')),
  ];
  return lines.join('\n');
}

async function configSet(argv: string[]): Promise<void> {
  const { values: flags, positionals } = parseFlags(argv, CONFIG_USAGE);
  if (flags.help || positionals[0] !== 'set') return console.log(CONFIG_USAGE);
  const orgId = validateId('org', flags.org);
  const [, key, value] = positionals;
  if (key !== AUTO_REMEDIATE_DELIVERED) {
    throw new CliError(
      'TAP_MDR_USAGE',
      `unknown preference ${JSON.stringify(key ?? '')}; the only one is ${AUTO_REMEDIATE_DELIVERED}`,
      2,
    );
  }
  if (value !== 'true' && value !== 'false') {
    throw new CliError('TAP_MDR_INVALID_INPUT', `invalid value ${JSON.stringify(value ?? '')}; use true or false`, 2);
  }

  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });
  await withStore({ dataDir: config.dataDir }, async (store) => {
    // A misspelt org would otherwise become a new, empty organization.
    if (!(await store.organizationExists(orgId))) {
      throw new CliError(
        'TAP_MDR_ORG_NOT_FOUND',
        `organization ${JSON.stringify(orgId)} not found; an organization is created when its first device is ` +
          'added (`tap-mdr device add --org ORG …`) or its email provider is set (`tap-mdr email-provider set ' +
          '--org ORG …`). List devices with `tap-mdr device list`',
      );
    }

    const client = await connectTemporal(config);
    try {
      const signalled = await setAutoRemediateDelivered(
        { store, client, actor: actorFromEnv() },
        orgId,
        value === 'true',
      );
      const text = `organization ${orgId}: ${AUTO_REMEDIATE_DELIVERED} = ${value}; signalled ${signalled.length} running device workflows`;
      console.log(flags.json ? JSON.stringify({ orgId, key, value, signalled }, null, 2) : text);
    } finally {
      await client.connection.close();
    }
  });
}

/** `tap-mdr remediate`, `tap-mdr remediation`, `tap-mdr config` */
export const commands: Record<string, Command> = {
  remediate: {
    summary: "Delete an alert's message from its recipients' mailboxes now",
    run: (argv) => remediate(argv),
  },
  remediation: {
    summary: "Show an alert's remediation status and per-recipient results",
    run: (argv) => show(argv),
  },
  config: {
    summary: 'Set an organization preference (auto deletion of delivered messages)',
    run: (argv) => configSet(argv),
  },
};
