/**
 * `tap-mdr sim <name>`: runs a local simulator of an external API until Ctrl-C.
 * To add a simulator, add its runner to {@link simulators}.
 */
import { parseArgs } from 'node:util';
import { CliError, type Command } from '../command.ts';
import { listenOrExplain, loadScenarioOption, portNumber } from '../sim-options.ts';
import { parseFaultSpec, type Fault } from '../../simulators/tap/faults.ts';
import { startTapSimulator, type TapSimulatorOptions } from '../../simulators/tap/server.ts';
import { runMailSimulatorCli } from '../../simulators/mail/cli.ts';

/** Simulator runners by name; each parses its own options and resolves when the simulator has stopped. */
export const simulators: Record<string, (argv: string[]) => Promise<void>> = {
  tap: runTapSimulator,
  mail: runMailSimulatorCli,
};

const TAP_USAGE = `Usage: tap-mdr sim tap [options]

Runs a simulator of the Proofpoint TAP SIEM API on 127.0.0.1 until Ctrl-C.

Options:
  --port N           Port to listen on (default 0: a free port)
  --host HOST        Address to listen on (default 127.0.0.1)
  --data PATH        Scenario folder, SIEM response file (.json) or event stream (.jsonl)
  --principal NAME   Service principal to accept (default from the scenario, else tap-sim-principal)
  --secret SECRET    Secret to accept (default from the scenario, else tap-sim-secret)
  --generate N       Add N generated events created in the last hour
  --seed S           Seed of the generator (default 1)
  --generate-end T   Generated events are created in the hour before T (ISO-8601; default now)
  --indexing-lag S   Make events visible S seconds after their creation (default 0)
  --calls-per-day N  Calls per pool in the rolling 24 hours before 429 (default 1800)
  --fault SPEC       Inject a fault, repeatable: latency,ms=N | status,code=N | reset | truncate |
                     non-json | empty | no-content | throttle | revoke; options times=N, after=N`;

/** Parses the options of `sim tap`, starts the simulator and waits for SIGINT or SIGTERM. */
export async function runTapSimulator(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string' },
      principal: { type: 'string' },
      secret: { type: 'string' },
      generate: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'generate-end': { type: 'string' },
      'indexing-lag': { type: 'string', default: '0' },
      'calls-per-day': { type: 'string', default: '1800' },
      fault: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TAP_USAGE);
    return;
  }

  const generate =
    values.generate === undefined
      ? undefined
      : {
          count: wholeNumber('--generate', values.generate),
          seed: wholeNumber('--seed', values.seed),
          end: values['generate-end'] === undefined ? undefined : isoTime('--generate-end', values['generate-end']),
        };
  let faults: Fault[];
  try {
    faults = values.fault.map(parseFaultSpec);
  } catch (err) {
    throw new CliError('INVALID_FAULT', (err as Error).message, 2);
  }

  const port = portNumber('--port', values.port);
  const scenario = values.data === undefined ? undefined : loadScenarioOption('--data', values.data);
  const options: TapSimulatorOptions = {
    port,
    host: values.host,
    scenario,
    principal: values.principal,
    secret: values.secret,
    generate,
    indexingLagMs: wholeNumber('--indexing-lag', values['indexing-lag']) * 1000,
    callsPerDay: wholeNumber('--calls-per-day', values['calls-per-day']),
    faults,
    log: (record) => console.log(JSON.stringify({ time: new Date().toISOString(), simulator: 'tap', ...record })),
  };
  const simulator = await listenOrExplain(`${values.host}:${port}`, '--port or --host', () =>
    startTapSimulator(options),
  );

  console.log(`TAP simulator listening on ${simulator.url}`);
  console.log(`  principal: ${simulator.principal}`);
  console.log(`  secret:    ${simulator.secret}`);
  console.log(`  events:    ${simulator.eventCount()}`);
  console.log(`  admin:     ${simulator.url}/__admin/state`);
  console.log('Press Ctrl-C to stop.');

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await simulator.close();
  console.log('TAP simulator stopped.');
}

function isoTime(option: string, value: string): Date {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new CliError(
      'INVALID_OPTION',
      `${option} must be an ISO-8601 time such as 2025-06-02T10:00:00Z; got '${value}'`,
      2,
    );
  }
  return time;
}

function wholeNumber(option: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new CliError('INVALID_OPTION', `${option} must be a whole number of at least 0; got '${value}'`, 2);
  }
  return number;
}

export const commands: Record<string, Command> = {
  sim: {
    summary: `Run a local API simulator until Ctrl-C (${Object.keys(simulators).join(', ')})`,
    run: async (argv) => {
      const [name, ...rest] = argv;
      const runner = name === undefined ? undefined : simulators[name];
      if (!runner) {
        const known = Object.keys(simulators).join(', ');
        throw new CliError(
          'UNKNOWN_SIMULATOR',
          `unknown simulator '${name ?? ''}'; expected one of: ${known}. Run \`tap-mdr sim <name> --help\` for its options.`,
          2,
        );
      }
      await runner(rest);
    },
  },
};
