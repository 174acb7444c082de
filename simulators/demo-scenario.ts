/**
 * The demo scenario that `tap-mdr start` loads into the TAP and mail simulators: six hours of
 * a mid-size organization's TAP traffic around a start time `t0`, with one story of alerts in
 * it. The demo device reads {@link DEMO_BACKFILL_MS} back on its first poll, so it fetches the
 * four hours before t0 at once and the rest as it happens.
 *
 * Every time and id derives from `t0`, and `t0` is saved in the data directory, so a second
 * start serves the same events and the store sees duplicates, not new events.
 *
 * The story, as an analyst would tell it (times relative to t0):
 * - 48 min before: a payroll phish reaches 4 mailboxes; TAP condemns its URL 21 min before t0.
 *   Two recipients clicked before that (permitted clicks), one after (blocked click), and a
 *   second wave to 3 other people is blocked 15 min before t0.
 * - 36 min before: a malware attachment reaches 2 mailboxes and is condemned 6 min before t0.
 *   TAP indexes it late: it becomes visible 30 s after t0.
 * - 30 min before: a bank statement newsletter to 3 people is classified spam (a low alert,
 *   never deleted automatically). TAP reclassifies it as a false positive 4 min before t0,
 *   visible 50 s after t0, which closes the alert.
 * - Background: blocked messages of several campaigns, from 235 min before t0 to 2 h after.
 * Mailboxes also hold ordinary mail, so that a deletion of the wrong message shows.
 */
import { createHash } from 'node:crypto';
import type { TapEventType } from '../activities/tap/types.ts';
import { generateTapEvents, type SimulatorEvent } from './tap/generator.ts';
import type { NewMessage } from './mail/mailboxes.ts';

const MINUTE_MS = 60_000;

/** Organization and device that the demo registers. */
export const DEMO_ORG_ID = 'demo-org';
export const DEMO_DEVICE_ID = 'tap-demo';
export const DEMO_DEVICE_NAME = 'Proofpoint TAP (demo)';
export const DEMO_LOCATION = 'TAP simulator on 127.0.0.1';
/** The organization's mail domain: every recipient in the scenario is in it. */
export const DEMO_MAIL_DOMAIN = 'example.com';
/** How far back the demo device's first poll reads: the scenario's first event is 235 min before t0. */
export const DEMO_BACKFILL_MS = 4 * 60 * MINUTE_MS;

/** A TAP event with the time it becomes visible in the TAP API. */
export interface DemoEvent extends SimulatorEvent {
  /** Milliseconds since the epoch before which TAP has not indexed the event; null for at once. */
  visibleAtMs: number | null;
}

/** Everything the simulators serve. */
export interface DemoScenario {
  t0: Date;
  events: DemoEvent[];
  /** Ordinary mail in the organization's mailboxes, besides the delivered TAP messages. */
  ordinaryMail: { address: string; message: NewMessage }[];
}

const TENANT = '5c3e1d2a-8b7f-4e6a-9d21-0f4b6c8a2e71';

const PHISH_RECIPIENTS = [
  'priya.nair@example.com',
  'sam.okafor@example.com',
  'dana.berg@example.com',
  'lee.chan@example.com',
];
const PHISH_BLOCKED_RECIPIENTS = ['morgan.fry@example.com', 'eli.novak@example.com', 'noor.haas@example.com'];
const MALWARE_RECIPIENTS = ['morgan.silva@example.com', 'jo.haas@example.com'];
const NEWSLETTER_RECIPIENTS = ['alex.kim@example.com', 'robin.diaz@example.com', 'kim.wu@example.com'];

/** Builds the scenario for start time `t0`; the same `t0` always gives the same scenario. */
export function buildDemoScenario(t0: Date): DemoScenario {
  const ids = new IdSource(t0.toISOString());
  const at = (minutes: number) => new Date(t0.getTime() + minutes * MINUTE_MS);

  const events: DemoEvent[] = [
    ...payrollPhish(ids, at),
    ...malwareAttachment(ids, at).map((event) => ({ ...event, visibleAtMs: t0.getTime() + 30_000 })),
    ...falsePositiveNewsletter(ids, at, t0.getTime() + 50_000),
    ...backgroundTraffic(ids, at),
  ];
  return { t0, events, ordinaryMail: ordinaryMail() };
}

/** Returns the payroll phish: delivered, condemned later, clicked twice before and once after, second wave blocked. */
function payrollPhish(ids: IdSource, at: (minutes: number) => Date): DemoEvent[] {
  const threat: Threat = {
    threatId: ids.hex('phish-threat', 64),
    threat: 'https://paysecure-hr.example.net/login?session=7f3a9c',
    threatType: 'url',
    classification: 'phish',
    campaignId: ids.uuid('phish-campaign'),
  };
  const message: Message = {
    guid: ids.guid('phish'),
    messageId: `<${ids.hex('phish-mid', 24)}@paysecure-hr.example.net>`,
    senderDomain: 'paysecure-hr.example.net',
    subject: 'Action required: confirm your direct deposit details',
    recipients: PHISH_RECIPIENTS,
  };
  const condemned = at(-21);
  const delivered = perRecipient(ids, 'messagesDelivered', message, threat, at(-48), condemned);

  const secondWave: Message = {
    ...message,
    guid: ids.guid('phish-wave-2'),
    messageId: `<${ids.hex('phish-wave-2-mid', 24)}@paysecure-hr.example.net>`,
    recipients: PHISH_BLOCKED_RECIPIENTS,
  };
  const blocked = perRecipient(ids, 'messagesBlocked', secondWave, threat, at(-15), condemned);

  const clicks = [
    click(ids, 'clicksPermitted', message, threat, PHISH_RECIPIENTS[0]!, at(-40), condemned),
    click(ids, 'clicksPermitted', message, threat, PHISH_RECIPIENTS[1]!, at(-27), condemned),
    click(ids, 'clicksBlocked', message, threat, PHISH_RECIPIENTS[2]!, at(-12), condemned),
  ];
  return [...delivered, ...blocked, ...clicks].map((event) => ({ ...event, visibleAtMs: null }));
}

/** Returns a malware attachment, delivered and condemned 30 minutes later. */
function malwareAttachment(ids: IdSource, at: (minutes: number) => Date): SimulatorEvent[] {
  const sha256 = ids.hex('malware-sha256', 64);
  const threat: Threat = {
    threatId: sha256,
    threat: sha256,
    threatType: 'attachment',
    classification: 'malware',
    campaignId: null,
  };
  const message: Message = {
    guid: ids.guid('malware'),
    messageId: `<${ids.hex('malware-mid', 20)}@mail.northbay-supplies.example.org>`,
    senderDomain: 'northbay-supplies.example.org',
    subject: 'Remittance advice 4471',
    recipients: MALWARE_RECIPIENTS,
    attachment: { filename: 'Remittance-4471.xlsm', sha256 },
  };
  return perRecipient(ids, 'messagesDelivered', message, threat, at(-36), at(-6));
}

/* * Returns a newsletter classified as spam on delivery (a low alert, never deleted automatically), then
 * reclassified by TAP as a false positive.
 */
function falsePositiveNewsletter(ids: IdSource, at: (minutes: number) => Date, reclassifiedVisibleAtMs: number) {
  const threat: Threat = {
    threatId: ids.hex('newsletter-threat', 64),
    threat: 'https://statements.contoso-bank.example.com/april',
    threatType: 'url',
    classification: 'spam',
    campaignId: null,
  };
  const message: Message = {
    guid: ids.guid('newsletter'),
    messageId: `<${ids.hex('newsletter-mid', 20)}@statements.contoso-bank.example.com>`,
    senderDomain: 'contoso-bank.example.com',
    subject: 'Your April account statement is ready',
    recipients: NEWSLETTER_RECIPIENTS,
  };
  const classified = perRecipient(ids, 'messagesDelivered', message, threat, at(-30), at(-29));
  const reclassified = perRecipient(ids, 'messagesDelivered', message, threat, at(-30), at(-4), 'falsePositive');
  return [
    ...classified.map((event) => ({ ...event, visibleAtMs: null })),
    ...reclassified.map((event) => ({ ...event, visibleAtMs: reclassifiedVisibleAtMs })),
  ];
}

/**
 * Blocked messages from 235 minutes before t0 to 2 hours after: realistic shapes from the
 * seeded generator, of which only the blocked ones are kept, so that they raise no alert.
 */
function backgroundTraffic(ids: IdSource, at: (minutes: number) => Date): DemoEvent[] {
  const generated = generateTapEvents({ count: 700, seed: ids.seed('background'), start: at(-235), end: at(120) });
  return generated
    .filter((event) => event.type === 'messagesBlocked')
    .map((event) => ({ ...event, visibleAtMs: null }));
}

function ordinaryMail(): { address: string; message: NewMessage }[] {
  const everyone = [...PHISH_RECIPIENTS, ...PHISH_BLOCKED_RECIPIENTS, ...MALWARE_RECIPIENTS, ...NEWSLETTER_RECIPIENTS];
  return everyone.flatMap((address, index) => [
    {
      address,
      message: { internetMessageId: `<weekly-${index}@example.com>`, subject: 'Weekly team update' },
    },
    {
      address,
      message: {
        internetMessageId: `<payroll-faq-${index}@example.com>`,
        subject: 'Payroll calendar for next quarter',
      },
    },
  ]);
}

interface Threat {
  threatId: string;
  threat: string;
  threatType: 'url' | 'attachment';
  classification: 'phish' | 'malware' | 'spam';
  campaignId: string | null;
}

interface Message {
  guid: string;
  messageId: string;
  senderDomain: string;
  subject: string;
  recipients: string[];
  attachment?: { filename: string; sha256: string };
}

/** Returns one event per recipient, sharing GUID and Message-ID, as TAP reports a message to several people. */
function perRecipient(
  ids: IdSource,
  type: TapEventType,
  message: Message,
  threat: Threat,
  messageTime: Date,
  threatTime: Date,
  threatStatus = 'active',
): SimulatorEvent[] {
  return message.recipients.map((recipient) => ({
    type,
    event: messageEvent(ids, type, message, threat, recipient, messageTime, threatTime, threatStatus),
  }));
}

function messageEvent(
  ids: IdSource,
  type: TapEventType,
  message: Message,
  threat: Threat,
  recipient: string,
  messageTime: Date,
  threatTime: Date,
  threatStatus: string,
): Record<string, unknown> {
  const key = `${message.guid}:${recipient}:${threatStatus}`;
  const blocked = type === 'messagesBlocked';
  return {
    spamScore: threat.classification === 'spam' ? 91 : 12,
    phishScore: threat.classification === 'phish' ? 96 : 3,
    threatsInfoMap: [
      {
        threatID: threat.threatId,
        threatStatus,
        classification: threat.classification,
        threatUrl: `https://threatinsight.proofpoint.com/${TENANT}/threat/email/${threat.threatId}`,
        threatTime: threatTime.toISOString(),
        threat: threat.threat,
        campaignID: threat.campaignId,
        threatType: threat.threatType,
      },
    ],
    messageTime: messageTime.toISOString(),
    impostorScore: 0,
    malwareScore: threat.classification === 'malware' ? 100 : 0,
    cluster: 'examplecorp_hosted',
    subject: message.subject,
    quarantineFolder: blocked ? 'Phish' : null,
    quarantineRule: blocked ? 'module.urldefense.phish' : null,
    policyRoutes: ['default_inbound'],
    modulesRun: ['av', 'zerohour', 'spf', 'dkimv', 'dmarc', 'spam', 'pdr', 'sandbox', 'urldefense'],
    messageSize: 18_342,
    headerFrom: `"Notifications" <noreply@${message.senderDomain}>`,
    headerReplyTo: null,
    fromAddress: [`noreply@${message.senderDomain}`],
    ccAddresses: [],
    replyToAddress: [],
    toAddresses: message.recipients,
    xmailer: null,
    messageParts: messageParts(ids, message),
    completelyRewritten: true,
    id: ids.uuid(`event:${key}`),
    QID: `4${ids.hex(`qid:${message.guid}`, 13)}`,
    GUID: message.guid,
    sender: `${ids.hex(`sender:${message.senderDomain}`, 32)}@${message.senderDomain}`,
    recipient: [recipient],
    senderIP: '198.51.100.23',
    messageID: message.messageId,
  };
}

function messageParts(ids: IdSource, message: Message): Record<string, unknown>[] {
  const body = {
    disposition: 'inline',
    sha256: ids.hex(`body:${message.guid}`, 64),
    md5: ids.hex(`body-md5:${message.guid}`, 32),
    filename: 'text.html',
    sandboxStatus: null,
    oContentType: 'text/html',
    contentType: 'text/html',
  };
  if (!message.attachment) return [body];
  const contentType = 'application/vnd.ms-excel.sheet.macroEnabled.12';
  return [
    body,
    {
      disposition: 'attached',
      sha256: message.attachment.sha256,
      md5: ids.hex(`attachment-md5:${message.guid}`, 32),
      filename: message.attachment.filename,
      sandboxStatus: 'threat',
      oContentType: contentType,
      contentType,
    },
  ];
}

function click(
  ids: IdSource,
  type: 'clicksPermitted' | 'clicksBlocked',
  message: Message,
  threat: Threat,
  recipient: string,
  clickTime: Date,
  threatTime: Date,
): SimulatorEvent {
  return {
    type,
    event: {
      campaignId: threat.campaignId,
      classification: threat.classification,
      clickIP: '192.0.2.44',
      clickTime: clickTime.toISOString(),
      GUID: message.guid,
      id: ids.uuid(`click:${message.guid}:${recipient}`),
      messageID: message.messageId,
      recipient,
      sender: `${ids.hex(`sender:${message.senderDomain}`, 32)}@${message.senderDomain}`,
      senderIP: '198.51.100.23',
      threatID: threat.threatId,
      threatTime: threatTime.toISOString(),
      threatURL: `https://threatinsight.proofpoint.com/${TENANT}/threat/email/${threat.threatId}`,
      threatStatus: 'active',
      url: threat.threat,
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0',
    },
  };
}

/**
 * Deterministic ids derived from the scenario's start time and a label, so that two demo data
 * directories sharing one PostgreSQL store never share an event id.
 */
class IdSource {
  readonly #scope: string;

  constructor(scope: string) {
    this.#scope = scope;
  }

  hex(label: string, length: number): string {
    let text = '';
    for (let block = 0; text.length < length; block++) {
      text += createHash('sha256').update(`${this.#scope}:${label}:${block}`).digest('hex');
    }
    return text.slice(0, length);
  }

  uuid(label: string): string {
    const hex = this.hex(label, 32);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }

  /** Returns a PPS GUID: 32 letters and digits. */
  guid(label: string): string {
    return Buffer.from(this.hex(`guid:${label}`, 48), 'hex')
      .toString('base64url')
      .replace(/[-_]/g, 'x')
      .slice(0, 32);
  }

  seed(label: string): number {
    return Number.parseInt(this.hex(`seed:${label}`, 8), 16);
  }
}
