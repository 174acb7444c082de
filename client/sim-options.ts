/**
 * Option checks shared by the simulator commands (`tap-mdr sim tap`, `tap-mdr sim mail`): each
 * bad value becomes a one-line usage error (exit code 2) naming the option and the value.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { loadScenario, type Scenario } from '../simulators/tap/scenario.ts';
import { CliError } from './command.ts';
import { describeJsonSyntaxError } from './validate.ts';

/** Checks a TCP port: a whole number from 0 (any free port) to 65535. */
export function portNumber(option: string, value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < 0 || number > 65_535) {
    throw new CliError(
      'INVALID_OPTION',
      `${option} must be a port number from 0 (a free port) to 65535; got '${value}'`,
      2,
    );
  }
  return number;
}

/** Loads a scenario named by an option; a missing or malformed one is a usage error naming the path. */
export function loadScenarioOption(option: string, path: string): Scenario {
  try {
    return loadScenario(path);
  } catch (err) {
    const where = existsSync(path) && statSync(path).isDirectory() ? 'one of its files' : 'it';
    const problem = err instanceof SyntaxError ? `${where} is ${describeJsonSyntaxError(err)}` : (err as Error).message;
    throw new CliError('INVALID_OPTION', `${option} '${path}' cannot be loaded as a TAP scenario: ${problem}`, 2);
  }
}

/**
 * Runs `start`, turning the errors of binding the listening socket (port in use, address not
 * available, unknown host, no permission) into a usage error naming `address` and the options
 * that choose it (`options`, such as `--port or --host`).
 */
export async function listenOrExplain<T>(address: string, options: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    const { code, syscall } = err as NodeJS.ErrnoException;
    if (syscall !== 'listen' && syscall !== 'getaddrinfo' && code !== 'ERR_SOCKET_BAD_PORT') throw err;
    throw new CliError(
      'LISTEN_FAILED',
      `cannot listen on ${address}: ${(err as Error).message}; pass another ${options} (--port 0 picks a free port)`,
      2,
    );
  }
}

/** Writes a file named by an option; a path that cannot be written is a usage error naming it. */
export function writeOptionFile(option: string, path: string, data: string, mode?: number): void {
  try {
    writeFileSync(path, data, mode === undefined ? undefined : { mode });
  } catch (err) {
    throw new CliError('INVALID_OPTION', `${option} '${path}' cannot be written: ${(err as Error).message}`, 2);
  }
}
