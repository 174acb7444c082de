/**
 * `tap-mdr tuning add | list | remove`: per-device suppression rules. Suppressed TAP events are
 * stored and counted but raise no alert; every change is written to the audit log.
 */
import { parseArgs } from 'node:util';
import { SUPPRESSION_FIELD_VALUES, SUPPRESSION_FIELDS, type SuppressionField } from '../../activities/store/types.ts';
import { CliError, type Command } from '../command.ts';
import { actorFromEnv, printable, withStore } from '../store-config.ts';
import { validateId, validateText } from '../validate.ts';

const USAGE = `Usage: tap-mdr tuning <action> [options]

Actions:
  add --org ORG --device DEVICE --field FIELD --value VALUE [--comment TEXT]
                  suppress alerts from matching TAP events of one device (from now on)
  list [--org ORG] [--device DEVICE]
                  list suppression rules with the number of events each suppressed
  remove RULE_ID  remove a suppression rule

Fields:
  senderDomain    envelope sender domain; also matches its subdomains
  classification  malware, phish, spam, impostor, or unknown (a TAP classification that
                  this version does not know)
  recipient       a recipient address; removed from message alerts, and an event with no
                  other recipient is suppressed
  threatId        TAP threatID (64 hex digits)

Options:
  --json          print JSON instead of text
  --data-dir DIR  data directory of the embedded store (default: TAP_MDR_DATA_DIR or ./.tap-mdr);
                  DATABASE_URL selects PostgreSQL instead`;

const OPTIONS = {
  org: { type: 'string' },
  device: { type: 'string' },
  field: { type: 'string' },
  value: { type: 'string' },
  comment: { type: 'string' },
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

function validateField(value: string | undefined): SuppressionField {
  if (value !== undefined && (SUPPRESSION_FIELDS as readonly string[]).includes(value))
    return value as SuppressionField;
  throw new CliError(
    'TAP_MDR_INVALID_INPUT',
    `invalid field: ${JSON.stringify(value ?? '')}; pass --field with one of ${SUPPRESSION_FIELDS.join(', ')}`,
    2,
  );
}

/** Checks the value of a field that has a closed set of values; matching ignores case. */
function validateFieldValue(field: SuppressionField, value: string): string {
  const allowed: readonly string[] | undefined = SUPPRESSION_FIELD_VALUES[field];
  if (allowed && !allowed.includes(value.toLowerCase())) {
    throw new CliError(
      'TAP_MDR_INVALID_INPUT',
      `invalid value: ${JSON.stringify(value)} is not a ${field}; pass --value with one of ${allowed.join(', ')}`,
      2,
    );
  }
  return value;
}

async function add(flags: Flags): Promise<void> {
  const orgId = validateId('org', flags.org);
  const deviceId = validateId('device', flags.device);
  const field = validateField(flags.field);
  const rule = {
    orgId,
    deviceId,
    field,
    value: validateFieldValue(field, validateText('value', flags.value, { required: true, max: 320 })),
    comment: validateText('comment', flags.comment, { required: false, max: 500 }),
  };
  const stored = await withStore({ 'data-dir': flags['data-dir'] }, async (store) => {
    // A rule keyed to a misspelt device would never match, so the device must be registered.
    const device = await store.getDevice(rule.orgId, rule.deviceId);
    if (!device || device.removedAt) {
      const state = device ? `was removed at ${device.removedAt}` : 'is not registered';
      throw new CliError(
        'TAP_MDR_DEVICE_NOT_FOUND',
        `device ${rule.orgId}:${rule.deviceId} ${state}; list devices with \`tap-mdr device list --org ${rule.orgId}\``,
      );
    }
    return store.addTuningRule(rule, actorFromEnv());
  });
  if (flags.json) console.log(JSON.stringify(stored, null, 2));
  else
    console.log(`${stored.ruleId}  ${stored.orgId}:${stored.deviceId}  ${stored.field} = ${printable(stored.value)}`);
}

async function list(flags: Flags): Promise<void> {
  const filter = { orgId: flags.org, deviceId: flags.device };
  const rules = await withStore({ 'data-dir': flags['data-dir'] }, (store) => store.listTuningRules(filter));
  if (flags.json) {
    console.log(JSON.stringify(rules, null, 2));
    return;
  }
  if (rules.length === 0) console.log('No tuning rules.');
  for (const rule of rules) {
    console.log(
      `${rule.ruleId}  ${rule.orgId}:${rule.deviceId}  ${rule.field} = ${printable(rule.value)}  ` +
        `suppressed=${rule.suppressedEvents}  by ${printable(rule.createdBy)} at ${rule.createdAt}` +
        (rule.comment ? `  "${printable(rule.comment)}"` : ''),
    );
  }
}

async function remove(flags: Flags, ruleId: string | undefined): Promise<void> {
  if (ruleId === undefined) throw new CliError('TAP_MDR_USAGE', `expected a RULE_ID\n\n${USAGE}`, 2);
  const removed = await withStore({ 'data-dir': flags['data-dir'] }, (store) =>
    store.removeTuningRule(ruleId, actorFromEnv()),
  );
  if (!removed) {
    throw new CliError(
      'TAP_MDR_TUNING_NOT_FOUND',
      `tuning rule ${JSON.stringify(ruleId)} not found; see tap-mdr tuning list`,
    );
  }
  console.log(`Removed ${ruleId}.`);
}

async function run(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseFlags(argv);
  const [action, ...rest] = positionals;
  if (flags.help || action === undefined) {
    console.log(USAGE);
    return action === undefined && !flags.help ? 2 : 0;
  }
  if (action === 'add') await add(flags);
  else if (action === 'list') await list(flags);
  else if (action === 'remove') await remove(flags, rest[0]);
  else throw new CliError('TAP_MDR_USAGE', `unknown action ${JSON.stringify(action)}\n\n${USAGE}`, 2);
  return 0;
}

/** `tap-mdr tuning …` */
export const commands: Record<string, Command> = {
  tuning: { summary: 'Add, list and remove per-device alert suppression rules', run },
};
