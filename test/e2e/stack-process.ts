/**
 * Runs `tap-mdr start` as a subprocess, as an operator would, and reads its output and the
 * files it leaves in the data directory.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readStackFile, type StackFile } from '../../workers/config.ts';

const CLI = fileURLToPath(new URL('../../bin/tap-mdr.js', import.meta.url));

/** A running `tap-mdr start`. */
export interface StackProcess {
  /** Every line printed so far, stdout and stderr interleaved. */
  lines: string[];
  /** Resolves with the first line, from the start, that matches; fails after `timeoutMs` with the output. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Sends `signal` to the process, for example SIGKILL to simulate a crash. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts `node bin/tap-mdr.js start` with `args`, without the caller's TAP_MDR_ / Temporal / database variables. */
export function startStackProcess(args: string[]): StackProcess {
  const env = { ...process.env };
  for (const name of [
    'TEMPORAL_ADDRESS',
    'TEMPORAL_NAMESPACE',
    'DATABASE_URL',
    'TAP_MDR_DATA_DIR',
    'TAP_MDR_SECRET_KEY',
  ]) {
    delete env[name];
  }
  const child = spawn(process.execPath, [CLI, 'start', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
      for (const wake of waiters) wake();
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLine = (pattern: RegExp, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find((line) => pattern.test(line));
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no line matched ${pattern} within ${timeoutMs} ms; output:\n${lines.join('\n')}`));
      }, timeoutMs);
      const onExit = (code: number | null) => {
        check();
        cleanup();
        reject(new Error(`tap-mdr start exited with ${code} before ${pattern} matched; output:\n${lines.join('\n')}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
      };
      waiters.add(check);
      child.once('exit', onExit);
      // 'exit' fires once: a process that has exited before this call gets no second event.
      if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode);
      else check();
    });

  return {
    lines,
    waitForLine,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
    kill: (signal) => {
      child.kill(signal);
    },
  };
}

/** Returns a port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Reads the stack file, failing when the stack has not written one. */
export function requireStackFile(dataDir: string): StackFile {
  const stack = readStackFile(dataDir);
  if (!stack) throw new Error(`no stack.json in ${dataDir}`);
  return stack;
}

/** One copy of a message in the mail simulator. */
export interface MailboxCopy {
  internetMessageId: string;
  subject: string;
  folder: string;
}

/** Reads every mailbox of the demo's mail simulator through its admin endpoint. */
export function readMailboxes(stack: StackFile): Promise<Map<string, MailboxCopy[]>> {
  if (!stack.demo) throw new Error('the stack runs no demo simulators');
  const ca = readFileSync(stack.demo.mailCaFile, 'utf8');
  const url = new URL('/__admin/mailboxes', stack.demo.mailUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`GET ${url.href}: ${response.statusCode} ${body}`));
        const parsed = JSON.parse(body) as { mailboxes: { address: string; messages: MailboxCopy[] }[] };
        resolve(new Map(parsed.mailboxes.map((mailbox) => [mailbox.address.toLowerCase(), mailbox.messages])));
      });
    });
    req.on('error', reject);
    req.end();
  });
}
