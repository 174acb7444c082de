/**
 * Contract of the mail providers that delete a delivered message from recipients' mailboxes,
 * and the per-organization provider configuration.
 */
import type { RecipientResult } from '../store/types.ts';

/**
 * Action applied to each copy: `softDelete` (recoverable: Graph DELETE, Gmail trash),
 * `hardDelete` (Graph permanentDelete, Gmail delete), `quarantine` (move to the configured
 * folder or label) or `dryRun` (find and report, change nothing).
 */
export type RemovalAction = 'softDelete' | 'hardDelete' | 'quarantine' | 'dryRun';

/** Every {@link RemovalAction}, for validation and help text. */
export const REMOVAL_ACTIONS: readonly RemovalAction[] = ['softDelete', 'hardDelete', 'quarantine', 'dryRun'];

/**
 * Stable code of a skipped or failed recipient:
 * - `external_domain`: the address is outside the organization's domains (skipped)
 * - `mailbox_not_found`: no such user or mailbox (skipped)
 * - `mailbox_not_enabled`: the mailbox exists but the API cannot reach it (skipped)
 * - `permission_missing`: the app lacks the permission or scope for this mailbox (failed)
 * - `request_rejected`: the API rejected a request for another reason (failed)
 * - `dry_run`: copies were found and left in place (skipped)
 */
export type RecipientCode =
  | 'external_domain'
  | 'mailbox_not_found'
  | 'mailbox_not_enabled'
  | 'permission_missing'
  | 'request_rejected'
  | 'dry_run';

/** A final result for one recipient, with the stable code behind `reason`. */
export interface MailboxResult extends RecipientResult {
  /** Null for `deleted` and `not_found`. */
  code: RecipientCode | null;
  /** Copies found in this call; for a dry run, the copies that would be removed. */
  found: number;
}

/** A recipient with no final result yet because the API asked to come back later. */
export interface DeferredRecipient {
  recipient: string;
  /** `throttled` (429, rate limit) or `unavailable` (5xx, network error). */
  code: 'throttled' | 'unavailable';
  reason: string;
  /** Delay the API asked for (Retry-After), in milliseconds; null when it gave none. */
  retryAfterMs: number | null;
  /** Copies removed before the API pushed back; pass them back in {@link RemovalOptions.copiesRemovedEarlier}. */
  copiesRemoved: number;
}

/** Result of {@link MailProvider.findAndRemoveMany}: final results, and recipients left for a later attempt. */
export interface BatchRemovalResult {
  results: MailboxResult[];
  deferred: DeferredRecipient[];
}

/** Per-call options. */
export interface RemovalOptions {
  /**
   * Copies already removed per recipient by an earlier attempt (from heartbeat details). They
   * count towards `copies`, so a message that an interrupted attempt removed is reported
   * `deleted`, not `not_found`, when the retry finds nothing.
   */
  copiesRemovedEarlier?: Readonly<Record<string, number>>;
  /** Called after each removed copy with the recipient's running total, for heartbeats. */
  onCopyRemoved?: (recipient: string, copiesRemoved: number) => void;
  /** Aborts in-flight requests and inline retry waits. */
  signal?: AbortSignal;
}

/** Deletes one message, found by its Message-ID, from recipients' mailboxes. */
export interface MailProvider {
  readonly kind: EmailProviderConfig['kind'];

  /**
   * Finds every copy of `internetMessageId` (angle brackets included) in the recipient's
   * mailbox and applies `action` to each. Throws {@link MailRetryLaterError} when the API
   * kept throttling or failing, and {@link EmailProviderConfigError} when the provider's
   * credentials or consent are wrong.
   */
  findAndRemove(
    recipient: string,
    internetMessageId: string,
    action: RemovalAction,
    options?: RemovalOptions,
  ): Promise<MailboxResult>;

  /** The same for many recipients, batched and run concurrently within the API's limits. */
  findAndRemoveMany(
    recipients: readonly string[],
    internetMessageId: string,
    action: RemovalAction,
    options?: RemovalOptions,
  ): Promise<BatchRemovalResult>;

  /** Gets a token and makes one read for `mailbox`, to check credentials and permissions. */
  check(mailbox: string): Promise<void>;
}

/** Microsoft 365 through Microsoft Graph, with an app registration and client credentials. */
export interface Microsoft365Config {
  kind: 'microsoft365';
  /** Entra tenant id (GUID) or primary domain. */
  tenantId: string;
  /** Application (client) id of the app registration that has the Mail.ReadWrite application permission. */
  clientId: string;
  /** Reference of the stored client secret; one of `secretRef` and `certificateRef` is required. */
  secretRef?: string;
  /** Reference of the stored certificate and key. NOTE: certificate credentials are not implemented yet. */
  certificateRef?: string;
  /** Authority host; default `https://login.microsoftonline.com`. */
  authorityUrl?: string;
  /** Graph root; default `https://graph.microsoft.com/`. */
  graphBaseUrl?: string;
  /** Domains whose recipients are handled; others are skipped. All recipients are tried when omitted. */
  domains?: string[];
  /** Destination of `quarantine`: well-known folder name or folder id; default `junkemail`. */
  quarantineFolder?: string;
}

/** Google Workspace through the Gmail API, with a service account with domain-wide delegation. */
export interface GoogleWorkspaceConfig {
  kind: 'googleWorkspace';
  /** Reference of the stored service account key (the JSON key file). */
  serviceAccountKeyRef: string;
  /** Token endpoint; default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  /** Google APIs root; default `https://gmail.googleapis.com/`. */
  rootUrl?: string;
  /** Domains whose recipients are handled; others are skipped. All recipients are tried when omitted. */
  domains?: string[];
  /** Label added by `quarantine` (the INBOX label is removed); default `SPAM`. */
  quarantineLabelId?: string;
}

/** The email provider of one organization. */
export type EmailProviderConfig = Microsoft365Config | GoogleWorkspaceConfig;

/** Connection settings that are not part of the stored configuration. */
export interface ProviderRuntimeOptions {
  /** Extra PEM CA certificates to trust, e.g. the simulator's self-signed certificate. */
  caCertificates?: string[];
  /** Maximum concurrent requests per mailbox; default 4 (Exchange Online's limit). */
  maxConcurrentPerMailbox?: number;
  /** Maximum concurrent mailboxes (Gmail) or `$batch` calls (Graph); default 8. */
  maxConcurrentBatches?: number;
  /** Retries of throttled or failed requests inside one call before deferring; default 3. */
  maxInlineRetries?: number;
  /** Longest Retry-After waited inside one call; longer waits defer the recipient. Default 10,000 ms. */
  maxInlineDelayMs?: number;
  /** Gmail quota units per user per minute that the provider stays under; default 15,000. */
  gmailUserQuotaPerMinute?: number;
}

export { EmailProviderConfigError, MailRetryLaterError } from './errors.ts';
