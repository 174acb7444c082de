/**
 * The `tap-mdr` command: operator entry point for devices, alerts, simulators and the stack.
 * Each module under client/commands exports `commands`, a record of subcommands by name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { CliError, type Command } from './command.ts';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const builtinCommands: Record<string, Command> = {
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

async function loadCommands(): Promise<Record<string, Command>> {
  const folder = new URL('./commands/', import.meta.url);
  const files = readdirSync(folder)
    .filter((file) => file.endsWith('.ts'))
    .sort();

  const all: Record<string, Command> = { ...builtinCommands };
  for (const file of files) {
    const module = (await import(new URL(file, folder).href)) as { commands?: Record<string, Command> };
    Object.assign(all, module.commands);
  }
  return all;
}

const commands = await loadCommands();

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
