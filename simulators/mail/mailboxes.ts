/**
 * In-memory mailboxes shared by the simulated Microsoft Graph and Gmail APIs.
 *
 * Folder names are Graph's well-known folder names. Gmail shows them as labels: `inbox` is
 * INBOX, `junkemail` is SPAM and `deleteditems` is TRASH. `recoverableitemsdeletions` holds
 * soft-deleted Graph messages, which neither API lists.
 */
import { randomBytes } from 'node:crypto';

/** Folder that Graph's DELETE moves a message to; hidden from `/messages` and from Gmail. */
export const SOFT_DELETED_FOLDER = 'recoverableitemsdeletions';

/** Well-known Graph folder names and the Gmail system label each one is shown as. */
export const FOLDER_LABELS: Readonly<Record<string, string>> = {
  inbox: 'INBOX',
  junkemail: 'SPAM',
  deleteditems: 'TRASH',
  sentitems: 'SENT',
};

/** One copy of a message in one mailbox. */
export interface StoredMessage {
  /** Graph item id; changes when the message moves, as Exchange ids do without immutable ids. */
  graphId: string;
  /** Gmail message id; stable for the life of the copy, as in Gmail. */
  gmailId: string;
  internetMessageId: string;
  subject: string;
  folder: string;
}

/** A copy of a message as tests see it. */
export type MessageView = Readonly<StoredMessage>;

/** Seed for {@link Mailboxes.addMessage}. */
export interface NewMessage {
  /** The Message-ID header, normally with angle brackets. */
  internetMessageId: string;
  subject?: string;
  /** Well-known Graph folder name or a custom folder; default `inbox`. */
  folder?: string;
}

/** One mailbox: its owner and state. */
interface Mailbox {
  address: string;
  /** False for a mailbox that exists but is not reachable over the REST APIs (unlicensed, on-premises). */
  enabled: boolean;
  messages: StoredMessage[];
}

/** The mailboxes of the simulated tenant, keyed by lower-cased address. */
export class Mailboxes {
  readonly #mailboxes = new Map<string, Mailbox>();

  /** Creates a mailbox if it does not exist; `enabled: false` makes both APIs reject it. */
  addMailbox(address: string, options: { enabled?: boolean } = {}): void {
    const key = address.toLowerCase();
    const existing = this.#mailboxes.get(key);
    if (existing) {
      if (options.enabled !== undefined) existing.enabled = options.enabled;
      return;
    }
    this.#mailboxes.set(key, { address, enabled: options.enabled ?? true, messages: [] });
  }

  /** Adds one copy of a message, creating the mailbox when needed; returns the copy. */
  addMessage(address: string, message: NewMessage): MessageView {
    this.addMailbox(address);
    const stored: StoredMessage = {
      graphId: newGraphId(),
      gmailId: randomBytes(8).toString('hex'),
      internetMessageId: message.internetMessageId,
      subject: message.subject ?? '(no subject)',
      folder: message.folder ?? 'inbox',
    };
    this.#mailbox(address)!.messages.push(stored);
    return { ...stored };
  }

  /** Returns every copy in the mailbox, soft-deleted ones included; [] for an unknown mailbox. */
  listMessages(address: string): MessageView[] {
    return (this.#mailbox(address)?.messages ?? []).map((message) => ({ ...message }));
  }

  /** Returns the address of every mailbox, in creation order. */
  addresses(): string[] {
    return [...this.#mailboxes.values()].map((mailbox) => mailbox.address);
  }

  /** Returns `missing`, `disabled` or `ok` for an address. */
  status(address: string): 'missing' | 'disabled' | 'ok' {
    const mailbox = this.#mailbox(address);
    if (!mailbox) return 'missing';
    return mailbox.enabled ? 'ok' : 'disabled';
  }

  /** Returns the live copies (not soft-deleted) whose Message-ID equals `internetMessageId`. */
  findByInternetMessageId(address: string, internetMessageId: string): StoredMessage[] {
    return this.#live(address).filter((message) => message.internetMessageId === internetMessageId);
  }

  /** Returns the live copy with this Graph id, or undefined. */
  findByGraphId(address: string, graphId: string): StoredMessage | undefined {
    return this.#live(address).find((message) => message.graphId === graphId);
  }

  /** Returns the live copy with this Gmail id, or undefined. */
  findByGmailId(address: string, gmailId: string): StoredMessage | undefined {
    return this.#live(address).find((message) => message.gmailId === gmailId);
  }

  /** Moves a copy to another folder and gives it a new Graph id, as an Exchange move does. */
  move(message: StoredMessage, folder: string): StoredMessage {
    message.folder = folder;
    message.graphId = newGraphId();
    return message;
  }

  /** Removes a copy for good. */
  purge(address: string, message: StoredMessage): void {
    const mailbox = this.#mailbox(address);
    if (!mailbox) return;
    mailbox.messages = mailbox.messages.filter((candidate) => candidate !== message);
  }

  #mailbox(address: string): Mailbox | undefined {
    return this.#mailboxes.get(address.toLowerCase());
  }

  #live(address: string): StoredMessage[] {
    return (this.#mailbox(address)?.messages ?? []).filter((message) => message.folder !== SOFT_DELETED_FOLDER);
  }
}

/** Stable opaque id of a folder, in the `AAMk…` style of Exchange ids. */
export function folderId(folder: string): string {
  return `AAMkFolder${Buffer.from(folder).toString('base64url')}`;
}

/** Returns the folder name for a well-known name or a {@link folderId}; undefined for neither. */
export function resolveFolder(idOrName: string): string | undefined {
  if (idOrName.startsWith('AAMkFolder'))
    return Buffer.from(idOrName.slice('AAMkFolder'.length), 'base64url').toString();
  const lower = idOrName.toLowerCase();
  // `archive` is well-known in Graph; `quarantine` stands for a custom folder that an admin created.
  if (lower in FOLDER_LABELS || lower === 'archive' || lower === 'quarantine') return lower;
  return undefined;
}

function newGraphId(): string {
  return `AAMkMsg${randomBytes(12).toString('base64url')}`;
}
