/**
 * The simulators of the demo: a TAP SIEM API and a Microsoft Graph mail service on 127.0.0.1,
 * loaded with the demo scenario, with their state kept in `<dataDir>/demo/` so that a second
 * start serves the same world:
 *
 * - `state.json`: the scenario's start time and the simulator ports. The ports are kept
 *   because the device record and the email provider configuration store the URLs.
 * - `mailboxes.json`: the mailboxes as the last run left them, deletions included.
 * - `mail-simulator-ca.pem`: the certificate of this run's HTTPS mail simulator, for clients
 *   in other processes.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMailSimulator, type MailSimulator, type NewMessage } from './mail/index.ts';
import { seedFromTapEvents } from './mail/seed.ts';
import { createSelfSignedCertificate } from './mail/tls.ts';
import { startTapSimulator, type TapSimulator } from './tap/server.ts';
import { buildDemoScenario, type DemoEvent, type DemoScenario } from './demo-scenario.ts';

/** Contents of `<dataDir>/demo/state.json`, kept between starts. */
export interface DemoState {
  /** ISO-8601 UTC: the scenario's t0, fixed at the first start. */
  scenarioStart: string;
  tapPort: number;
  mailPort: number;
  /** True once the demo organization, its preference and its email provider are configured. */
  organizationConfigured: boolean;
}

/** The running simulators of the demo. */
export interface DemoSimulators {
  scenario: DemoScenario;
  state: DemoState;
  tap: TapSimulator;
  mail: MailSimulator;
  /** PEM certificate that the mail simulator serves; the worker trusts it. */
  mailCaCertificate: string;
  /** Path of the same certificate in the data directory. */
  mailCaFile: string;
  /** Records a change of {@link DemoState} (for example `organizationConfigured`). */
  saveState(patch: Partial<DemoState>): void;
  /** Writes the mailboxes to the data directory; cheap enough to call every few seconds. */
  saveMailboxes(): void;
  /** Saves the mailboxes and stops both simulators. */
  close(): Promise<void>;
}

/** Raised when a simulator port kept from an earlier start is taken. */
export class DemoPortInUseError extends Error {
  readonly code = 'TAP_MDR_DEMO_PORT_IN_USE';

  constructor(simulator: string, port: number, stateFile: string) {
    super(
      `port ${port} of the ${simulator}, kept from an earlier start in ${stateFile}, is in use. ` +
        'The demo device stores that URL, so the simulator must listen there: stop what uses the port, ' +
        'or start the demo afresh with another --data-dir.',
    );
    this.name = 'DemoPortInUseError';
  }
}

/** Starts both simulators for the demo in `dataDir`, creating the demo state on the first start. */
export async function startDemoSimulators(dataDir: string, now = new Date()): Promise<DemoSimulators> {
  const folder = join(dataDir, 'demo');
  mkdirSync(folder, { recursive: true });
  const stateFile = join(folder, 'state.json');
  let state = readJson<DemoState>(stateFile);
  const scenario = buildDemoScenario(new Date(state?.scenarioStart ?? now.toISOString()));

  const tap = await listenOrExplain(
    () => startTapSimulator({ host: '127.0.0.1', port: state?.tapPort ?? 0, events: visibleEvents(scenario, now) }),
    'TAP simulator',
    state?.tapPort,
    stateFile,
  );
  const releaseTimer = scheduleLateEvents(scenario, tap, now);

  const tls = await createSelfSignedCertificate();
  const mail = await listenOrExplain(
    () => startMailSimulator({ port: state?.mailPort ?? 0, tls }),
    'mail simulator',
    state?.mailPort,
    stateFile,
  ).catch(async (err: unknown) => {
    clearInterval(releaseTimer);
    await tap.close();
    throw err;
  });

  const mailboxesFile = join(folder, 'mailboxes.json');
  loadMailboxes(mail, scenario, mailboxesFile);
  const mailCaFile = join(folder, 'mail-simulator-ca.pem');
  writeFileSync(mailCaFile, tls.cert);

  state = {
    scenarioStart: scenario.t0.toISOString(),
    tapPort: tap.port,
    mailPort: Number(new URL(mail.url).port),
    organizationConfigured: state?.organizationConfigured ?? false,
  };
  writeJson(stateFile, state);

  const saveMailboxes = () => writeJson(mailboxesFile, snapshotMailboxes(mail));
  saveMailboxes();
  // Deletions arrive as requests; saving after each burst keeps the file current even if the
  // process is killed without a chance to save at close.
  let savedRequests = mail.requestLog.length;
  const saveTimer = setInterval(() => {
    if (mail.requestLog.length === savedRequests) return;
    savedRequests = mail.requestLog.length;
    saveMailboxes();
  }, 2_000);
  saveTimer.unref();
  return {
    scenario,
    state,
    tap,
    mail,
    mailCaCertificate: tls.cert,
    mailCaFile,
    saveState: (patch) => {
      Object.assign(state, patch);
      writeJson(stateFile, state);
    },
    saveMailboxes,
    close: async () => {
      clearInterval(releaseTimer);
      clearInterval(saveTimer);
      saveMailboxes();
      await Promise.all([tap.close(), mail.close()]);
    },
  };
}

/** Events TAP has indexed by `now`. */
function visibleEvents(scenario: DemoScenario, now: Date): DemoEvent[] {
  return scenario.events.filter((event) => event.visibleAtMs === null || event.visibleAtMs <= now.getTime());
}

/**
 * Adds each late-indexed event to the TAP simulator once its time comes, as TAP indexes some
 * events minutes after their creation time.
 */
function scheduleLateEvents(scenario: DemoScenario, tap: TapSimulator, now: Date): NodeJS.Timeout {
  const pending = scenario.events.filter((event) => event.visibleAtMs !== null && event.visibleAtMs > now.getTime());
  const timer = setInterval(() => {
    const due = pending.filter((event) => event.visibleAtMs! <= Date.now());
    if (due.length === 0) return;
    tap.addEvents(due);
    pending.splice(0, pending.length, ...pending.filter((event) => !due.includes(event)));
  }, 1_000);
  timer.unref();
  return timer;
}

/** One copy of a message as `mailboxes.json` keeps it. */
interface SavedCopy {
  internetMessageId: string;
  subject: string;
  folder: string;
}

/** Restores the mailboxes of the last run, or seeds them from the scenario on the first start. */
function loadMailboxes(mail: MailSimulator, scenario: DemoScenario, file: string): void {
  const saved = readJson<Record<string, SavedCopy[]>>(file);
  if (saved) {
    for (const [address, copies] of Object.entries(saved)) {
      mail.addMailbox(address);
      for (const copy of copies) mail.addMessage(address, copy satisfies NewMessage);
    }
    return;
  }
  for (const { address, message } of scenario.ordinaryMail) mail.addMessage(address, message);
  seedFromTapEvents(mail, oneEventPerDelivery(scenario.events));
}

/**
 * Keeps the first `messagesDelivered` event of each GUID and recipient. TAP reports a message
 * again when its threat status changes, but the mailbox contains one copy.
 */
function oneEventPerDelivery(events: readonly DemoEvent[]): DemoEvent[] {
  const seen = new Set<string>();
  return events.filter(({ type, event }) => {
    if (type !== 'messagesDelivered') return false;
    const key = `${String(event.GUID)}|${JSON.stringify(event.recipient)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function snapshotMailboxes(mail: MailSimulator): Record<string, SavedCopy[]> {
  const snapshot: Record<string, SavedCopy[]> = {};
  for (const address of mail.listMailboxes()) {
    snapshot[address] = mail.listMessages(address).map(({ internetMessageId, subject, folder }) => ({
      internetMessageId,
      subject,
      folder,
    }));
  }
  return snapshot;
}

async function listenOrExplain<T>(
  start: () => Promise<T>,
  simulator: string,
  keptPort: number | undefined,
  stateFile: string,
): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && keptPort !== undefined) {
      throw new DemoPortInUseError(simulator, keptPort, stateFile);
    }
    throw err;
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}; delete it to start the demo afresh`, {
      cause: err,
    });
  }
}

/** Writes through a temporary file and a rename, so that a crash never leaves half a file. */
function writeJson(file: string, value: unknown): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temporary, file);
}
