/**
 * `tap-mdr detect FILE [--json]`: runs the detection strategy on a saved TAP SIEM response,
 * with no server and no store, and prints the alerts it would create and the events it ignored.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { detectEvents, type AlertState, type EventResult } from '../../activities/detection/index.ts';
import { parseSiemObject, parseSiemResponse, TAP_EVENT_TYPES } from '../../activities/tap/parse.ts';
import type { InvalidTapEvent, TapSiemBatch } from '../../activities/tap/types.ts';
import { CliError, type Command } from '../command.ts';
import { printable } from '../store-config.ts';
import { describeJsonSyntaxError } from '../validate.ts';

const USAGE = `Usage: tap-mdr detect FILE [--json]

Runs detection on a saved TAP SIEM API response (format=json) as if it were the first poll of a
device with no tuning rules, and prints the alerts it would create and the events it ignored.

Options:
  --json   print one JSON object per line: {"kind":"alert",…}, {"kind":"ignored",…}, {"kind":"invalid",…}`;

const OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function readBatch(file: string): TapSiemBatch {
  let body: string;
  try {
    body = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError('TAP_MDR_FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, 2);
  }
  // TAP returns an empty body (HTTP 204) for a window with no events.
  if (body.trim() === '') return parseSiemResponse(body);

  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw notSiemResponse(file, `it is ${describeJsonSyntaxError(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const type = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw notSiemResponse(file, `its JSON is ${type}, not an object`);
  }

  // Every SIEM response has queryEndTime and the event arrays, so an object with none of them
  // is some other JSON file, which would otherwise read as a window without events.
  const keys = ['queryEndTime', ...TAP_EVENT_TYPES];
  if (!keys.some((key) => key in value)) {
    throw notSiemResponse(file, `it has no queryEndTime and none of ${TAP_EVENT_TYPES.join(', ')}`);
  }
  return parseSiemObject(value as Record<string, unknown>);
}

function notSiemResponse(file: string, problem: string): CliError {
  return new CliError(
    'TAP_MDR_INVALID_TAP_RESPONSE',
    `${file} is not a TAP SIEM response: ${problem}; save the body of a /v2/siem request made with format=json`,
    2,
  );
}

/** Returns the JSON line of an alert, with the fields that scripts rely on first. */
function alertLine(alert: AlertState): Record<string, unknown> {
  return {
    kind: 'alert',
    type: alert.type,
    severity: alert.severity,
    rule: alert.ruleId,
    guid: alert.guid,
    messageId: alert.messageId,
    recipients: [...alert.recipients].sort(),
    autoDeleteEligible: alert.autoDeleteEligible,
    alertId: alert.alertId,
    state: alert.state,
    reason: alert.reason,
    matched: alert.matched,
    occurredAt: alert.occurredAt,
    threatUrl: alert.threatUrl,
    subject: alert.subject,
    parentAlertId: alert.parentAlertId,
  };
}

function ignoredLine(entry: EventResult): Record<string, unknown> {
  return {
    kind: 'ignored',
    reason: entry.reason,
    eventType: entry.decision.event.type,
    key: entry.decision.event.key,
    guid: entry.decision.event.guid,
    rule: entry.decision.rule?.id ?? null,
    disposition: entry.disposition,
  };
}

function invalidLine(entry: InvalidTapEvent): Record<string, unknown> {
  return { kind: 'invalid', reason: entry.reason, eventType: entry.type };
}

function printText(alerts: AlertState[], ignored: EventResult[], invalid: InvalidTapEvent[]): void {
  for (const alert of alerts) {
    console.log(
      `alert ${alert.severity} ${alert.type} rule=${alert.ruleId} guid=${printable(alert.guid)} ` +
        `messageId=${printable(alert.messageId)} recipients=${printable(alert.recipients.join(','))} ` +
        `autoDeleteEligible=${alert.autoDeleteEligible}`,
    );
    console.log(`  ${alert.reason}`);
  }
  for (const entry of ignored) {
    console.log(
      `ignored ${entry.decision.event.type} ${printable(entry.decision.event.key)}: ${printable(entry.reason)}`,
    );
  }
  for (const entry of invalid) {
    console.log(`invalid ${entry.type ?? 'response'}: ${printable(entry.reason)}`);
  }
  console.log(`${alerts.length} alerts, ${ignored.length} ignored events, ${invalid.length} invalid events`);
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined || extra.length > 0) {
    throw new CliError('TAP_MDR_USAGE', `expected exactly one FILE\n\n${USAGE}`, 2);
  }

  const batch = readBatch(file);
  const plan = detectEvents(batch.events);
  const alerts = plan.alerts.map((change) => change.after);
  const ignored = plan.events.filter((entry) => entry.disposition !== 'alert');

  if (!parsed.values.json) {
    printText(alerts, ignored, batch.invalid);
    return 0;
  }
  for (const alert of alerts) console.log(JSON.stringify(alertLine(alert)));
  for (const entry of ignored) console.log(JSON.stringify(ignoredLine(entry)));
  for (const entry of batch.invalid) console.log(JSON.stringify(invalidLine(entry)));
  return 0;
}

/** `tap-mdr detect` */
export const commands: Record<string, Command> = {
  detect: { summary: 'Run detection on a saved TAP SIEM response and print the alerts', run },
};
