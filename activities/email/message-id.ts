/**
 * Message-ID handling for both APIs. A Message-ID may legally contain `' + / = # & % ?`, so each
 * API gets its own escaping, and one function per API builds every URL that carries it.
 */

/**
 * Returns the percent-encoded `$filter` value that selects messages by Message-ID. The value
 * becomes an OData string literal (single quotes doubled), and the whole expression is then
 * percent-encoded, because the Graph JS client sends `$filter` as given.
 */
export function graphMessageIdFilter(internetMessageId: string): string {
  const literal = `'${internetMessageId.replaceAll("'", "''")}'`;
  return encodeURIComponent(`internetMessageId eq ${literal}`);
}

/**
 * Returns the Gmail search query for a Message-ID. googleapis percent-encodes `q` itself, so
 * the value goes in unencoded.
 */
export function gmailMessageIdQuery(internetMessageId: string): string {
  return `rfc822msgid:${internetMessageId}`;
}

/** Wraps a Message-ID in exactly one pair of angle brackets, as both APIs store it. */
export function normalizeMessageId(messageId: string): string {
  const bare = messageId.trim().replace(/^<+/, '').replace(/>+$/, '');
  return `<${bare}>`;
}

/** True when `recipient` is in one of `domains` (case-insensitive); true for every recipient when `domains` is undefined or empty. */
export function isInDomains(recipient: string, domains: readonly string[] | undefined): boolean {
  if (!domains || domains.length === 0) return true;
  const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
  return domains.some((allowed) => allowed.toLowerCase() === domain);
}
