/**
 * Seeded generator of realistic TAP SIEM events (real v2 dialect) for benchmarks and demos.
 *
 * Shapes follow real payloads. A message to several people yields one event per recipient,
 * sharing GUID, QID and messageID. Messages belong to campaigns that share a threat. A third of
 * messages are delivered and condemned later: their threatTime follows messageTime, so TAP
 * creates the event later. Recipients click on delivered messages; a click before the URL was
 * condemned is permitted, and one after it is blocked. Every event's creation time (the later
 * of messageTime or clickTime and threatTime) lies in [start, end).
 */
import type { TapEventType } from '../../activities/tap/types.ts';

/** An event as the simulator stores it: the array it belongs to and the event as TAP sends it. */
export interface SimulatorEvent {
  type: TapEventType;
  event: Record<string, unknown>;
}

/** Options of {@link generateTapEvents}. */
export interface GenerateOptions {
  /** Number of events to return. */
  count: number;
  seed: number;
  /** Earliest creation time; default one hour before `end`. */
  start?: Date;
  /** Creation times stay before this; default now. */
  end?: Date;
}

interface Campaign {
  campaignId: string | null;
  classification: 'phish' | 'malware' | 'spam' | 'impostor';
  threatType: 'url' | 'attachment' | 'message';
  threat: string;
  threatId: string;
  senderDomain: string;
  subject: string;
}

const FIRST_NAMES = ['alex', 'dana', 'jo', 'lee', 'morgan', 'priya', 'robin', 'casey', 'sam', 'kim', 'noor', 'eli'];
const LAST_NAMES = ['kim', 'lee', 'berg', 'chan', 'fry', 'nair', 'diaz', 'wu', 'okafor', 'silva', 'novak', 'haas'];
const SUBJECTS = [
  'Invoice #{n} overdue - action required',
  'Shared with you: Q{n} bonus plan',
  'Your mailbox is almost full',
  'Remittance advice {n}',
  'Parcel {n} could not be delivered',
  'Password expires today',
];
const TENANT = '0d2b7c1e-5a3f-4c8e-9b61-7f3e2a9c4d10';

/** Generates `count` events; the same options always produce the same events. */
export function generateTapEvents(options: GenerateOptions): SimulatorEvent[] {
  const random = mulberry32(options.seed);
  const endMs = (options.end ?? new Date()).getTime();
  const startMs = options.start?.getTime() ?? endMs - 60 * 60_000;
  const spanMs = Math.max(1, endMs - startMs);

  const campaigns = Array.from({ length: Math.max(3, Math.ceil(options.count / 500)) }, () => makeCampaign(random));
  const events: SimulatorEvent[] = [];

  while (events.length < options.count) {
    const campaign = pick(random, campaigns);
    const createdMs = startMs + Math.floor(random() * spanMs);
    events.push(...makeMessage(random, campaign, createdMs, endMs));
  }
  return events.slice(0, options.count);
}

function makeMessage(random: () => number, campaign: Campaign, createdMs: number, endMs: number): SimulatorEvent[] {
  // A third of messages are delivered first and condemned later; the rest were judged on arrival.
  const condemnedLater = random() < 0.33;
  const messageMs = condemnedLater ? createdMs - (5 * 60_000 + Math.floor(random() * 6 * 60 * 60_000)) : createdMs;
  const threatMs = condemnedLater ? createdMs : messageMs - Math.floor(random() * 10 * 60_000);
  const type: TapEventType = condemnedLater || random() < 0.25 ? 'messagesDelivered' : 'messagesBlocked';

  const recipientCount = random() < 0.5 ? 1 : 2 + Math.floor(random() * 4);
  const recipients = Array.from({ length: recipientCount }, () => userAddress(random));
  const shared = {
    guid: randomToken(random, 32),
    qid: `4${randomToken(random, 13)}`,
    messageId: `<${randomToken(random, 12)}.${messageMs}@${campaign.senderDomain}>`,
    sender: `${randomHex(random, 32)}@${campaign.senderDomain}`,
    senderIp: `198.51.100.${1 + Math.floor(random() * 254)}`,
    subject: campaign.subject.replace('{n}', String(1000 + Math.floor(random() * 9000))),
  };

  const events: SimulatorEvent[] = [];
  for (const recipient of recipients) {
    events.push({
      type,
      event: messageEvent(random, campaign, shared, recipient, recipients, type, messageMs, threatMs),
    });

    // Recipients of delivered URL messages sometimes click.
    if (type !== 'messagesDelivered' || campaign.threatType !== 'url' || random() >= 0.15) continue;
    const clickMs = messageMs + 60_000 + Math.floor(random() * 30 * 60_000);
    if (Math.max(clickMs, threatMs) >= endMs) continue;
    const clickType: TapEventType = clickMs < threatMs ? 'clicksPermitted' : 'clicksBlocked';
    events.push({ type: clickType, event: clickEvent(random, campaign, shared, recipient, clickMs, threatMs) });
  }
  return events;
}

function messageEvent(
  random: () => number,
  campaign: Campaign,
  shared: { guid: string; qid: string; messageId: string; sender: string; senderIp: string; subject: string },
  recipient: string,
  recipients: string[],
  type: TapEventType,
  messageMs: number,
  threatMs: number,
): Record<string, unknown> {
  const blocked = type === 'messagesBlocked';
  return {
    spamScore: Math.floor(random() * 60),
    phishScore: campaign.classification === 'phish' ? 80 + Math.floor(random() * 21) : Math.floor(random() * 30),
    threatsInfoMap: [
      {
        threatID: campaign.threatId,
        threatStatus: 'active',
        classification: campaign.classification,
        threatUrl: `https://threatinsight.proofpoint.com/${TENANT}/threat/email/${campaign.threatId}`,
        threatTime: new Date(threatMs).toISOString(),
        threat: campaign.threat,
        campaignID: campaign.campaignId,
        threatType: campaign.threatType,
      },
    ],
    messageTime: new Date(messageMs).toISOString(),
    impostorScore: campaign.classification === 'impostor' ? 90 : 0,
    malwareScore: campaign.classification === 'malware' ? 100 : 0,
    cluster: 'examplecorp_hosted',
    subject: shared.subject,
    quarantineFolder: blocked ? quarantineFolderFor(campaign.threatType) : null,
    quarantineRule: blocked ? 'module.sandbox.threat' : null,
    policyRoutes: ['default_inbound'],
    modulesRun: ['av', 'zerohour', 'spf', 'dkimv', 'dmarc', 'spam', 'pdr', 'sandbox', 'urldefense'],
    messageSize: 4000 + Math.floor(random() * 400_000),
    headerFrom: `"Notifications" <noreply@${campaign.senderDomain}>`,
    headerReplyTo: null,
    fromAddress: [`noreply@${campaign.senderDomain}`],
    ccAddresses: [],
    replyToAddress: [],
    toAddresses: recipients,
    xmailer: null,
    messageParts: [
      messagePart(random, 'inline', 'text.html', 'text/html'),
      campaign.threatType === 'attachment'
        ? { ...messagePart(random, 'attached', 'Document.xlsm', 'application/vnd.ms-excel'), sha256: campaign.threatId }
        : messagePart(random, 'inline', 'text.txt', 'text/plain'),
    ],
    completelyRewritten: true,
    id: uuid(random),
    QID: shared.qid,
    GUID: shared.guid,
    sender: shared.sender,
    recipient: [recipient],
    senderIP: shared.senderIp,
    messageID: shared.messageId,
  };
}

function clickEvent(
  random: () => number,
  campaign: Campaign,
  shared: { guid: string; messageId: string; sender: string; senderIp: string },
  recipient: string,
  clickMs: number,
  threatMs: number,
): Record<string, unknown> {
  return {
    campaignId: campaign.campaignId,
    classification: campaign.classification,
    clickIP: `192.0.2.${1 + Math.floor(random() * 254)}`,
    clickTime: new Date(clickMs).toISOString(),
    GUID: shared.guid,
    id: uuid(random),
    messageID: shared.messageId,
    recipient,
    sender: shared.sender,
    senderIP: shared.senderIp,
    threatID: campaign.threatId,
    threatTime: new Date(threatMs).toISOString(),
    threatURL: `https://threatinsight.proofpoint.com/${TENANT}/threat/email/${campaign.threatId}`,
    threatStatus: 'active',
    url: campaign.threat,
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0',
  };
}

/** Cumulative shares of campaign classifications; the remaining 5 % are impostor campaigns. */
const CLASSIFICATION_SHARES: ReadonlyArray<[Campaign['classification'], number]> = [
  ['phish', 0.6],
  ['malware', 0.85],
  ['spam', 0.95],
];

function makeCampaign(random: () => number): Campaign {
  const roll = random();
  const classification = CLASSIFICATION_SHARES.find(([, upTo]) => roll < upTo)?.[0] ?? 'impostor';
  let threatType: Campaign['threatType'] = 'url';
  if (classification === 'impostor') threatType = 'message';
  else if (classification === 'malware' && random() < 0.7) threatType = 'attachment';
  const senderDomain = `${randomToken(random, 8).toLowerCase()}.example.net`;
  const threatId = randomHex(random, 64);
  const threat =
    threatType === 'url'
      ? `https://${senderDomain}/login?id=${Math.floor(random() * 100_000)}`
      : threatType === 'attachment'
        ? threatId
        : `ceo@${senderDomain}`;
  return {
    campaignId: random() < 0.7 ? uuid(random) : null,
    classification,
    threatType,
    threat,
    threatId,
    senderDomain,
    subject: pick(random, SUBJECTS),
  };
}

function quarantineFolderFor(threatType: Campaign['threatType']): string {
  return threatType === 'attachment' ? 'Attachment Defense' : 'Phish';
}

function messagePart(
  random: () => number,
  disposition: string,
  filename: string,
  contentType: string,
): Record<string, unknown> {
  return {
    disposition,
    sha256: randomHex(random, 64),
    md5: randomHex(random, 32),
    filename,
    sandboxStatus: disposition === 'attached' ? 'threat' : null,
    oContentType: contentType,
    contentType,
  };
}

function userAddress(random: () => number): string {
  return `${pick(random, FIRST_NAMES)}.${pick(random, LAST_NAMES)}${Math.floor(random() * 20)}@example.com`;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function randomHex(random: () => number, length: number): string {
  let text = '';
  while (text.length < length)
    text += Math.floor(random() * 0x1_0000_0000)
      .toString(16)
      .padStart(8, '0');
  return text.slice(0, length);
}

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(random: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += TOKEN_ALPHABET[Math.floor(random() * TOKEN_ALPHABET.length)];
  return text;
}

function uuid(random: () => number): string {
  const hex = randomHex(random, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** mulberry32: a small, fast seeded PRNG returning floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
