/**
 * `tap-mdr sim mail`: runs the Microsoft Graph and Gmail simulator until Ctrl-C and prints the
 * settings that point a mail provider at it.
 */
import { parseArgs } from 'node:util';
import { CliError } from '../../client/command.ts';
import { listenOrExplain, loadScenarioOption, portNumber, writeOptionFile } from '../../client/sim-options.ts';
import { startMailSimulator } from './index.ts';
import { seedFromTapEvents } from './seed.ts';
import { createSelfSignedCertificate } from './tls.ts';

const USAGE = `Usage: tap-mdr sim mail [options]

Runs a simulator of Microsoft Graph mail and the Gmail API on 127.0.0.1 until Ctrl-C.

Options:
  --port N             Port to listen on (default 0: a free port)
  --tls                Serve HTTPS with a new self-signed certificate (needed by the Graph client)
  --cert-out PATH      With --tls, write the certificate (PEM) to PATH for clients to trust
  --key-out PATH       Write the Google service account key (JSON) that the token endpoint accepts
  --data PATH          TAP scenario (folder, .json or .jsonl): each delivered message is put in
                       its recipients' mailboxes
  --mailbox ADDRESS    Create an empty mailbox, repeatable
  --latency-ms N       Delay of every API request, in milliseconds (default 0)
  --max-concurrent N   In-flight requests per mailbox before 429 (default 4)`;

/** Parses the options of `sim mail`, starts the simulator and waits for SIGINT or SIGTERM. */
export async function runMailSimulatorCli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '0' },
      tls: { type: 'boolean', default: false },
      'cert-out': { type: 'string' },
      'key-out': { type: 'string' },
      data: { type: 'string' },
      mailbox: { type: 'string', multiple: true, default: [] },
      'latency-ms': { type: 'string', default: '0' },
      'max-concurrent': { type: 'string', default: '4' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }

  // Every option is checked before the simulator listens, so a bad one leaves nothing running.
  const port = portNumber('--port', values.port);
  const latencyMs = wholeNumber('--latency-ms', values['latency-ms']);
  const maxConcurrentPerMailbox = wholeNumber('--max-concurrent', values['max-concurrent']);
  const scenario = values.data === undefined ? undefined : loadScenarioOption('--data', values.data);
  const tls = values.tls ? await createSelfSignedCertificate() : undefined;
  if (tls && values['cert-out']) writeOptionFile('--cert-out', values['cert-out'], tls.cert);

  const sim = await listenOrExplain(`127.0.0.1:${port}`, '--port', () =>
    startMailSimulator({ port, ...(tls ? { tls } : {}), latencyMs, maxConcurrentPerMailbox }),
  );
  if (values['key-out']) {
    try {
      writeOptionFile('--key-out', values['key-out'], JSON.stringify(sim.googleServiceAccountKey, null, 2), 0o600);
    } catch (err) {
      await sim.close();
      throw err;
    }
  }
  for (const address of values.mailbox) sim.addMailbox(address);
  const copies = scenario ? seedFromTapEvents(sim, scenario.events) : 0;

  console.log(`mail simulator listening on ${sim.url} (${copies} message copies seeded)`);
  console.log(
    `  Graph: authorityUrl=${sim.authorityUrl} graphBaseUrl=${sim.graphBaseUrl} tenantId=${sim.graphApp.tenantId} clientId=${sim.graphApp.clientId} clientSecret=${sim.graphApp.clientSecret}`,
  );
  console.log(
    `  Gmail: tokenUrl=${sim.googleTokenUrl} rootUrl=${sim.gmailRootUrl} serviceAccount=${sim.googleServiceAccountKey.client_email}`,
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
}

function wholeNumber(option: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new CliError('INVALID_OPTION', `${option} must be a whole number of at least 0; got '${value}'`, 2);
  }
  return number;
}
