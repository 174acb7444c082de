/**
 * Seeds simulated mailboxes from TAP simulator events, so that each delivered message sits in
 * its recipients' mailboxes as it would after TAP let it through.
 */
import type { SimulatorEvent } from '../tap/generator.ts';
import type { MailSimulator } from './index.ts';

/**
 * Adds one copy of each `messagesDelivered` event's message to each of its recipients; returns
 * the number of copies added. Events without a messageID are left out, because nothing can
 * find them by Message-ID.
 */
export function seedFromTapEvents(sim: Pick<MailSimulator, 'addMessage'>, events: readonly SimulatorEvent[]): number {
  let copies = 0;
  for (const { type, event } of events) {
    // Scenarios may hold deliberately malformed events for the TAP client; they seed nothing.
    if (type !== 'messagesDelivered' || event === null || typeof event !== 'object') continue;
    const messageId = typeof event.messageID === 'string' ? event.messageID.trim() : '';
    if (messageId === '') continue;

    const internetMessageId = messageId.startsWith('<') ? messageId : `<${messageId}>`;
    const subject = typeof event.subject === 'string' ? event.subject : undefined;
    const recipients = Array.isArray(event.recipient)
      ? event.recipient
      : Array.isArray(event.toAddresses)
        ? event.toAddresses
        : [];
    for (const recipient of new Set(recipients.filter((r): r is string => typeof r === 'string'))) {
      sim.addMessage(recipient, { internetMessageId, ...(subject === undefined ? {} : { subject }) });
      copies += 1;
    }
  }
  return copies;
}
