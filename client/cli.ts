/**
 * The `tap-mdr` command: operator entry point for devices, alerts, simulators and the stack.
 * Each subcommand is a module under client/commands with a `run(argv)` function.
 */
import { readFileSync } from 'node:fs';
import { CliError, type Command } from './command.ts';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const commands: Record<string, Command> = {
  version: {
    summary: 'Print the tap-mdr version',
    run: () => {
      console.log(packageJson.version);
    },
  },
  start: {
    summary: 'Run the integration: Temporal dev server, worker and Workbench store',
    run: () => {
      console.log('tap-mdr: no device is configured yet; nothing to start.');
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: tap-mdr <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `tap-mdr <command> --help` for the options of a command.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === '--version') {
    console.log(packageJson.version);
    return 0;
  }

  const command = commands[name];
  if (!command) {
    console.error(`tap-mdr: unknown command '${name}'.\n\n${usage()}`);
    return 2;
  }

  try {
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`tap-mdr ${name}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
