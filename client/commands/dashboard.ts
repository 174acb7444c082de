/**
 * `tap-mdr dashboard`: the "Alert Analysis" view, alert counts per device, type, severity and
 * state, with the TAP events stored per device (suppressed and informational ones included).
 */
import { parseArgs } from 'node:util';
import { CliError, type Command } from '../command.ts';
import { withStore } from '../store-config.ts';
import { validateId } from '../validate.ts';

const USAGE = `Usage: tap-mdr dashboard [--org ORG] [--device DEVICE] [--json] [--data-dir DIR]

Prints alert counts per device, alert type, severity and state, then stored TAP events per
device, event type and disposition (alert, closed, informational, suppressed, ignored, invalid).`;

const OPTIONS = {
  org: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function run(argv: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }

  // A filter that no id can match, such as --org '', would print empty tables as if nothing happened.
  const filter = {
    orgId: flags.org === undefined ? undefined : validateId('org', flags.org),
    deviceId: flags.device === undefined ? undefined : validateId('device', flags.device),
  };
  const { alerts, events } = await withStore({ 'data-dir': flags['data-dir'] }, async (store) => ({
    alerts: await store.countAlerts(filter),
    events: await store.countEvents(filter),
  }));

  if (flags.json) {
    console.log(JSON.stringify({ alerts, events }, null, 2));
    return 0;
  }
  console.log('Alerts (device, type, severity, state: count)');
  if (alerts.length === 0) console.log('  none');
  for (const row of alerts) {
    console.log(`  ${row.orgId}:${row.deviceId}  ${row.type}  ${row.severity}  ${row.state}: ${row.count}`);
  }
  console.log('TAP events (device, event type, disposition: count)');
  if (events.length === 0) console.log('  none');
  for (const row of events) {
    console.log(`  ${row.orgId}:${row.deviceId}  ${row.eventType}  ${row.disposition}: ${row.count}`);
  }
  return 0;
}

/** `tap-mdr dashboard` */
export const commands: Record<string, Command> = {
  dashboard: { summary: 'Show alert counts per device, type and severity (Alert Analysis)', run },
};
