/**
 * `tap-mdr email-provider set | check`: the mail provider that deletes delivered messages for
 * an organization. Secrets are read from standard input or a file, never from the command line.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { REMOVAL_ACTIONS, type RemovalAction } from '../../activities/email/types.ts';
import { loadSecretKey } from '../../activities/secrets.ts';
import { resolveRuntimeConfig } from '../../workers/config.ts';
import { CliError, type Command } from '../command.ts';
import {
  checkEmailProvider,
  configureEmailProvider,
  EmailProviderInputError,
  type EmailProviderInput,
} from '../email-providers.ts';
import { actorFromEnv, withStore } from '../store-config.ts';
import { validateId } from '../validate.ts';

const USAGE = `Usage: tap-mdr email-provider <action> [options]

Actions:
  set --org ORG --provider microsoft365 --tenant-id TENANT --client-id ID [--secret-file FILE]
      [--authority-url URL] [--graph-url URL] [--quarantine-folder FOLDER]
                         Microsoft 365: an app registration with the Mail.ReadWrite application
                         permission; the client secret's value is read from --secret-file,
                         else from standard input
  set --org ORG --provider google-workspace [--key-file FILE] [--token-url URL] [--root-url URL]
      [--quarantine-label LABEL]
                         Google Workspace: a service account with domain-wide delegation; its
                         JSON key is read from --key-file, else from standard input
  check --org ORG [--mailbox ADDRESS]
                         get a token and read one message id from ADDRESS (default: a recipient
                         of the organization's newest delivered-message alert), and explain a
                         failure

Options of set:
  --domain DOMAIN        handle recipients of DOMAIN only, repeatable (default: every recipient)
  --action ACTION        softDelete (default, recoverable), hardDelete, quarantine or dryRun

Common options:
  --json                 print JSON instead of text
  --data-dir DIR         data directory of the stack (default: TAP_MDR_DATA_DIR or ./.tap-mdr)`;

const OPTIONS = {
  org: { type: 'string' },
  provider: { type: 'string' },
  'tenant-id': { type: 'string' },
  'client-id': { type: 'string' },
  'secret-file': { type: 'string' },
  'key-file': { type: 'string' },
  'authority-url': { type: 'string' },
  'graph-url': { type: 'string' },
  'token-url': { type: 'string' },
  'root-url': { type: 'string' },
  'quarantine-folder': { type: 'string' },
  'quarantine-label': { type: 'string' },
  domain: { type: 'string', multiple: true, default: [] as string[] },
  action: { type: 'string' },
  mailbox: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Flags = ReturnType<typeof parseFlags>['values'];

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError('TAP_MDR_USAGE', `${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

function readSecretInput(file: string | undefined, what: string): string {
  try {
    return readFileSync(file ?? 0, 'utf8');
  } catch (err) {
    throw new CliError(
      'TAP_MDR_SECRET_UNREADABLE',
      `cannot read the ${what} from ${file ?? 'standard input'}: ${(err as Error).message}`,
      2,
    );
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

/** Builds the provider input from the flags; reads the secret last, so usage errors come first. */
function providerInput(flags: Flags): EmailProviderInput {
  const common = { domains: flags.domain, action: parseAction(flags.action) };
  if (flags.provider === 'microsoft365') {
    return {
      kind: 'microsoft365',
      tenantId: flags['tenant-id'] ?? '',
      clientId: flags['client-id'] ?? '',
      authorityUrl: flags['authority-url'],
      graphBaseUrl: flags['graph-url'],
      quarantineFolder: flags['quarantine-folder'],
      ...common,
      clientSecret: readSecretInput(flags['secret-file'], 'client secret'),
    };
  }
  if (flags.provider === 'google-workspace') {
    return {
      kind: 'googleWorkspace',
      tokenUrl: flags['token-url'],
      rootUrl: flags['root-url'],
      quarantineLabelId: flags['quarantine-label'],
      ...common,
      serviceAccountKeyJson: readSecretInput(flags['key-file'], 'service account key'),
    };
  }
  throw new CliError(
    'TAP_MDR_INVALID_INPUT',
    `invalid provider: ${JSON.stringify(flags.provider ?? '')}; pass --provider microsoft365 or --provider google-workspace`,
    2,
  );
}

async function set(flags: Flags): Promise<void> {
  const orgId = validateId('org', flags.org);
  const input = providerInput(flags);
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });

  await withStore({ dataDir: config.dataDir }, async (store) => {
    try {
      const stored = await configureEmailProvider(
        { store, secretKey: loadSecretKey(config.dataDir), actor: actorFromEnv() },
        orgId,
        input,
      );
      const text = `email provider of ${orgId}: ${stored.config.kind}, action ${stored.action}; check it with \`tap-mdr email-provider check --org ${orgId}\``;
      console.log(flags.json ? JSON.stringify({ orgId, ...stored }, null, 2) : text);
    } catch (err) {
      if (err instanceof EmailProviderInputError) throw new CliError(err.code, err.message, 2);
      throw err;
    }
  });
}

async function check(flags: Flags): Promise<number> {
  const orgId = validateId('org', flags.org);
  const config = resolveRuntimeConfig({ dataDir: flags['data-dir'] });

  return withStore({ dataDir: config.dataDir }, async (store) => {
    let mailbox = flags.mailbox;
    if (mailbox === undefined) {
      const [newest] = await store.listAlerts({ orgId, type: 'delivered_message', limit: 1 });
      mailbox = newest?.recipients[0];
    }
    if (mailbox === undefined) {
      throw new CliError(
        'TAP_MDR_USAGE',
        `organization ${orgId} has no delivered-message alert to take a mailbox from; pass --mailbox ADDRESS`,
        2,
      );
    }

    const result = await checkEmailProvider({ store, secretKey: loadSecretKey(config.dataDir) }, orgId, mailbox);
    const text = result.ok
      ? `email provider of ${orgId}: token and read of ${mailbox} succeeded`
      : `email provider of ${orgId}: check of ${mailbox} failed (${result.code}): ${result.explanation}`;
    console.log(flags.json ? JSON.stringify({ orgId, mailbox, ...result }, null, 2) : text);
    return result.ok ? 0 : 1;
  });
}

/** `tap-mdr email-provider …` */
export const commands: Record<string, Command> = {
  'email-provider': {
    summary: 'Configure and check the mail provider that deletes delivered messages',
    run: async (argv) => {
      const { values: flags, positionals } = parseFlags(argv);
      const action = positionals[0];
      if (flags.help || action === undefined) {
        console.log(USAGE);
        return 0;
      }
      if (action === 'set') return set(flags);
      if (action === 'check') return check(flags);
      throw new CliError('TAP_MDR_USAGE', `unknown action '${action}'\n\n${USAGE}`, 2);
    },
  },
};
