/**
 * Builders of normalised TAP events for detection tests: a valid event with every field set,
 * and overrides for the fields a test is about.
 */
import type { TapClickEvent, TapMessageEvent, TapThreat } from '../../activities/tap/types.ts';

const THREAT_ID = 'b79c2af3626580908e65f3651ca00c04592d657809ffdf204689955f1fb7e51e';

/** Builds a threat: an active phishing URL unless overridden. */
export function threat(overrides: Partial<TapThreat> = {}): TapThreat {
  const threatId = overrides.threatId ?? THREAT_ID;
  return {
    threatId,
    threat: 'https://login-verify.example.net/o365/auth?id=7781',
    threatType: 'url',
    classification: 'phish',
    threatStatus: 'active',
    threatTime: '2025-06-02T09:41:07.000Z',
    threatUrl: `https://threatinsight.proofpoint.com/tenant/threat/email/${threatId}`,
    campaignId: null,
    ...overrides,
  };
}

/** Builds a `messagesDelivered` event to one recipient, carrying {@link threat}. */
export function message(overrides: Partial<TapMessageEvent> = {}): TapMessageEvent {
  const type = overrides.type ?? 'messagesDelivered';
  const guid = overrides.guid ?? 'GUID-1';
  const id = overrides.id ?? 'id-1';
  return {
    type,
    key: `${type}:${guid}:${id}`,
    id,
    guid,
    messageId: '<m1@invoices.example.net>',
    sender: '8efdd10756595e9a58dc3d7fee6f53ee@invoices.example.net',
    senderIp: '198.51.100.23',
    eventTime: '2025-06-02T09:15:14.000Z',
    warnings: [],
    raw: {},
    qid: 'Q1',
    recipients: ['dana.lee@example.com'],
    toAddresses: ['dana.lee@example.com'],
    ccAddresses: [],
    fromAddress: ['billing@invoices.example.net'],
    replyToAddress: [],
    headerFrom: 'Billing <billing@invoices.example.net>',
    subject: 'Invoice overdue',
    threats: [threat()],
    spamScore: 10,
    phishScore: 90,
    malwareScore: 0,
    impostorScore: 0,
    quarantineFolder: null,
    quarantineRule: null,
    policyRoutes: ['default_inbound'],
    cluster: 'example_hosted',
    ...overrides,
  };
}

/** Builds a `clicksPermitted` event on message `GUID-1`, carrying {@link threat}. */
export function click(overrides: Partial<TapClickEvent> = {}): TapClickEvent {
  const type = overrides.type ?? 'clicksPermitted';
  const id = overrides.id ?? 'click-1';
  return {
    type,
    key: `${type}:${id}`,
    id,
    guid: 'GUID-1',
    messageId: '<m1@invoices.example.net>',
    sender: '8efdd10756595e9a58dc3d7fee6f53ee@invoices.example.net',
    senderIp: '198.51.100.23',
    eventTime: '2025-06-02T09:52:03.000Z',
    warnings: [],
    raw: {},
    recipient: 'dana.lee@example.com',
    url: 'https://login-verify.example.net/o365/auth?id=7781',
    clickIp: '192.0.2.45',
    userAgent: 'Mozilla/5.0',
    threat: threat({ threatType: '' }),
    ...overrides,
  };
}
