/**
 * `tap-mdr alerts list | show`: the Workbench alert queue as analysts read it.
 */
import { parseArgs } from 'node:util';
import { isSeverity } from '../../activities/detection/index.ts';
import type { AlertFilter, AlertRecord } from '../../activities/store/types.ts';
import { CliError, type Command } from '../command.ts';
import { printable, withStore } from '../store-config.ts';

const USAGE = `Usage: tap-mdr alerts <action> [options]

Actions:
  list [--org ORG] [--device DEVICE] [--severity SEVERITY] [--type TYPE] [--limit N]
                 list alerts, newest occurrence first (default limit 100)
  show ALERT_ID  show one alert with its recipients and the TAP events behind it

Options:
  --severity     informational, low, medium, high or critical (exact match)
  --type         delivered_message, permitted_click or device_health
  --json         print JSON instead of text
  --data-dir DIR data directory of the embedded store (default: TAP_MDR_DATA_DIR or ./.tap-mdr);
                 DATABASE_URL selects PostgreSQL instead`;

const OPTIONS = {
  org: { type: 'string' },
  device: { type: 'string' },
  severity: { type: 'string' },
  type: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

type Flags = ReturnType<typeof parseFlags>['values'];

function filterOf(flags: Flags): AlertFilter {
  const filter: AlertFilter = {};
  if (flags.org !== undefined) filter.orgId = flags.org;
  if (flags.device !== undefined) filter.deviceId = flags.device;
  if (flags.type !== undefined) filter.type = flags.type;
  if (flags.severity !== undefined) {
    if (!isSeverity(flags.severity)) {
      throw new CliError(
        'TAP_MDR_INVALID_INPUT',
        `invalid severity: ${JSON.stringify(flags.severity)}; use informational, low, medium, high or critical`,
        2,
      );
    }
    filter.severity = flags.severity;
  }
  if (flags.limit !== undefined) {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new CliError(
        'TAP_MDR_INVALID_INPUT',
        `invalid limit: ${JSON.stringify(flags.limit)}; use a positive integer`,
        2,
      );
    }
    filter.limit = limit;
  }
  return filter;
}

function alertSummaryLine(alert: AlertRecord): string {
  const subject = alert.subject === null ? '' : ` "${printable(alert.subject)}"`;
  return (
    `${alert.alertId}  ${alert.occurredAt}  ${alert.severity.padEnd(13)} ${alert.state.padEnd(6)} ` +
    `${alert.orgId}:${alert.deviceId}  ${alert.type}  ${alert.rule}  recipients=${alert.recipients.length}${subject}`
  );
}

async function list(flags: Flags): Promise<void> {
  const filter = filterOf(flags);
  const alerts = await withStore({ 'data-dir': flags['data-dir'] }, (store) => store.listAlerts(filter));
  if (flags.json) {
    console.log(JSON.stringify(alerts, null, 2));
    return;
  }
  if (alerts.length === 0) {
    console.log('No alerts match.');
    return;
  }
  for (const alert of alerts) console.log(alertSummaryLine(alert));
}

async function show(flags: Flags, alertId: string | undefined): Promise<number> {
  if (alertId === undefined) throw new CliError('TAP_MDR_USAGE', `expected an ALERT_ID\n\n${USAGE}`, 2);
  const found = await withStore({ 'data-dir': flags['data-dir'] }, async (store) => {
    const alert = await store.getAlert(alertId);
    if (!alert) return null;
    return {
      alert,
      events: await store.listAlertEvents(alertId),
      remediation: await store.listRecipientResults(alertId),
    };
  });
  if (!found) {
    throw new CliError(
      'TAP_MDR_ALERT_NOT_FOUND',
      `alert ${JSON.stringify(alertId)} not found; list ids with tap-mdr alerts list`,
    );
  }
  if (flags.json) {
    console.log(
      JSON.stringify({ ...found.alert, events: found.events, remediationResults: found.remediation }, null, 2),
    );
    return 0;
  }

  const { alert, events, remediation } = found;
  const lines = [
    `Alert ${alert.alertId} (${alert.type}), ${alert.severity}, ${alert.state}`,
    `  Device:        ${alert.orgId}:${alert.deviceId}`,
    `  Occurred:      ${alert.occurredAt} (created ${alert.createdAt}, updated ${alert.updatedAt})`,
    `  Rule:          ${alert.rule}: ${alert.reason}`,
    `  Matched:       ${Object.entries(alert.matched)
      .map(([key, value]) => `${key}=${printable(value)}`)
      .join(' ')}`,
    `  GUID:          ${printable(alert.guid)}`,
    `  Message-ID:    ${printable(alert.messageId)}`,
    `  Subject:       ${printable(alert.subject)}`,
    `  Threat:        ${printable(alert.threatUrl)}`,
    `  Recipients:    ${alert.recipients.map(printable).join(', ')}`,
    `  Auto delete:   ${alert.autoDeleteEligible ? 'eligible' : 'not eligible'}; remediation ${alert.remediationStatus}` +
      (alert.remediationReason ? ` (${printable(alert.remediationReason)})` : ''),
  ];
  if (alert.parentAlertId) lines.push(`  Message alert: ${alert.parentAlertId}`);
  lines.push('  Events:');
  for (const event of events) {
    lines.push(
      `    ${event.eventTime}  ${event.eventType}  ${event.ruleId}  ${event.effect}  ${printable(event.eventKey)}`,
    );
  }
  for (const result of remediation) {
    lines.push(
      `  Deletion: ${printable(result.recipient)} ${result.outcome} (${result.copies} copies) ${printable(result.reason)}`,
    );
  }
  console.log(lines.join('\n'));
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(argv);
  const [action, ...rest] = positionals;
  if (flags.help || action === undefined) {
    console.log(USAGE);
    return action === undefined && !flags.help ? 2 : 0;
  }
  if (action === 'list') {
    await list(flags);
    return 0;
  }
  if (action === 'show') return show(flags, rest[0]);
  throw new CliError('TAP_MDR_USAGE', `unknown action ${JSON.stringify(action)}\n\n${USAGE}`, 2);
}

/** `tap-mdr alerts …` */
export const commands: Record<string, Command> = {
  alerts: { summary: 'List and show alerts in the Workbench queue', run },
};
