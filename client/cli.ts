/**
 * The `tap-mdr` command: operator entry point for devices, alerts, simulators and the stack.
 * Each module under client/commands exports `commands`, a record of subcommands by name.
 * A command is looked up first in the module of the same name (`device` in device.ts), so a
 * command loads only its own dependencies. `--help` and unknown names load every module.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { InvalidDataDirError } from '../workers/config.ts';
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
};

const commandsFolder = new URL('./commands/', import.meta.url);
const commandFiles = readdirSync(commandsFolder).filter((file) => file.endsWith('.ts'));

async function loadModule(file: string): Promise<Record<string, Command>> {
  const module = (await import(new URL(file, commandsFolder).href)) as { commands?: Record<string, Command> };
  return module.commands ?? {};
}

async function loadAllCommands(): Promise<Record<string, Command>> {
  const all: Record<string, Command> = { ...builtinCommands };
  for (const file of commandFiles.sort()) Object.assign(all, await loadModule(file));
  return all;
}

async function findCommand(name: string): Promise<Command | undefined> {
  if (builtinCommands[name]) return builtinCommands[name];
  if (commandFiles.includes(`${name}.ts`)) {
    const command = (await loadModule(`${name}.ts`))[name];
    if (command) return command;
  }
  return (await loadAllCommands())[name];
}

async function usage(): Promise<string> {
  const commands = await loadAllCommands();
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
    console.log(await usage());
    return 0;
  }
  if (name === '--version') {
    console.log(packageJson.version);
    return 0;
  }

  const command = await findCommand(name);
  if (!command) {
    console.error(`tap-mdr: unknown command '${name}'.\n\n${await usage()}`);
    return 2;
  }

  try {
    return (await command.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      // The code is stable for scripts and searches; the message may change.
      console.error(`tap-mdr ${name}: ${err.message} (${err.code})`);
      return err.exitCode;
    }
    if (err instanceof InvalidDataDirError) {
      console.error(`tap-mdr ${name}: ${err.message} (${err.code})`);
      return 2;
    }
    // node:util parseArgs errors (unknown option, missing value) are usage errors.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      console.error(`tap-mdr ${name}: ${(err as Error).message}; see \`tap-mdr ${name} --help\``);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));
