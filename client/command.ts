/**
 * Shared shape of `tap-mdr` subcommands. A module in client/commands exports
 * `commands: Record<string, Command>`; the CLI loads every such module at start.
 */

/** One subcommand: a one-line summary for `--help`, and the function that runs it. */
export interface Command {
  summary: string;
  /** Runs the command with the arguments after its name; returns the process exit code (default 0). */
  run(argv: string[]): Promise<number | void> | number | void;
}

/**
 * An expected failure of a command (bad input, missing configuration): printed as one line
 * without a stack trace. `code` is stable for scripts; `exitCode` is 2 for usage errors, 1 otherwise.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}
