/**
 * Normalised Proofpoint TAP SIEM events: the contract between the TAP client (which parses
 * both payload dialects into these shapes) and the detection stage.
 *
 * Every field that TAP may omit or send as null has a defined empty value here (`''`, `[]`,
 * `null`), so consumers never see `undefined`. The original event, with fields this type does
 * not name, stays in `raw`.
 */

/** The four SIEM arrays, named as in the `/v2/siem/all` response. */
export type TapEventType = 'messagesDelivered' | 'messagesBlocked' | 'clicksPermitted' | 'clicksBlocked';

/** TAP threat classification, lower-cased; `unknown` for a value TAP may add later. */
export type Classification = 'malware' | 'phish' | 'spam' | 'impostor' | 'unknown';

/** TAP threatStatus, lower-cased except `falsePositive`; a threat without one is `unknown`. */
export type ThreatStatus = 'active' | 'cleared' | 'falsePositive' | 'expired' | 'unknown';

/** One entry of a message's `threatsInfoMap`, or the threat fields of a click. */
export interface TapThreat {
  /** `threatID` (`threatId` in the older dialect): 64 hex digits; the sha256 for attachments. */
  threatId: string;
  /** The condemned artifact: URL, attachment sha256 or impostor sender address. */
  threat: string;
  /** `url`, `attachment` or `message`, lower-cased; `''` when absent (clicks carry none). */
  threatType: string;
  classification: Classification;
  threatStatus: ThreatStatus;
  /** When TAP assigned the threatStatus, ISO-8601 UTC with milliseconds; null when absent. */
  threatTime: string | null;
  /** TAP dashboard link (`threatUrl` in messages, `threatURL` in clicks). */
  threatUrl: string | null;
  campaignId: string | null;
}

/** Fields shared by message and click events. */
export interface TapEventBase {
  /** Idempotency key: `type:GUID:id` for messages, `type:id` for clicks, `type:sha256:<hash>` without an id. */
  key: string;
  /** Event `id` (a UUID), or null where TAP omitted it. */
  id: string | null;
  /** PPS message GUID; one message to several recipients yields one event each sharing it. */
  guid: string;
  /** Message-ID header, trimmed and wrapped in exactly one pair of angle brackets; `''` when TAP sent none. */
  messageId: string;
  /** Hashed user part, clear domain; `''` when absent. */
  sender: string;
  senderIp: string;
  /** `messageTime` or `clickTime`, ISO-8601 UTC with milliseconds. */
  eventTime: string;
  /** Problems that did not prevent parsing, such as `messageID is empty`. */
  warnings: string[];
  /** The event as TAP sent it, unknown fields included. */
  raw: Record<string, unknown>;
}

/** A `messagesDelivered` or `messagesBlocked` event. */
export interface TapMessageEvent extends TapEventBase {
  type: 'messagesDelivered' | 'messagesBlocked';
  qid: string | null;
  /** Recipients of this event (`recipient`, an array in messages). */
  recipients: string[];
  toAddresses: string[];
  ccAddresses: string[];
  fromAddress: string[];
  replyToAddress: string[];
  headerFrom: string | null;
  subject: string | null;
  threats: TapThreat[];
  spamScore: number | null;
  phishScore: number | null;
  malwareScore: number | null;
  impostorScore: number | null;
  quarantineFolder: string | null;
  quarantineRule: string | null;
  policyRoutes: string[];
  cluster: string | null;
}

/** A `clicksPermitted` or `clicksBlocked` event. */
export interface TapClickEvent extends TapEventBase {
  type: 'clicksPermitted' | 'clicksBlocked';
  /** The clicking recipient (`recipient`, a string in clicks). */
  recipient: string;
  url: string;
  clickIp: string;
  userAgent: string;
  threat: TapThreat;
}

/** Any normalised TAP SIEM event. */
export type TapEvent = TapMessageEvent | TapClickEvent;

/** An event that could not be understood: kept with the reason, never dropped silently. */
export interface InvalidTapEvent {
  /** The array it came from, when known. */
  type: TapEventType | null;
  reason: string;
  raw: unknown;
}

/** A parsed SIEM response. */
export interface TapSiemBatch {
  /** `queryEndTime` from the response, ISO-8601 UTC; null when TAP sent none (204, empty body). */
  queryEndTime: string | null;
  events: TapEvent[];
  invalid: InvalidTapEvent[];
}
