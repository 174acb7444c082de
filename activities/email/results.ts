/** Builders of per-recipient results shared by both providers. */
import type { RecipientOutcome } from '../store/types.ts';
import type { MailboxResult, RecipientCode } from './types.ts';

/** Outcome of each non-retryable recipient code. */
const OUTCOME_BY_CODE: Record<RecipientCode, RecipientOutcome> = {
  external_domain: 'skipped',
  mailbox_not_found: 'skipped',
  mailbox_not_enabled: 'skipped',
  dry_run: 'skipped',
  permission_missing: 'failed',
  request_rejected: 'failed',
};

/** Builds a final result stamped with the current time. */
export function finalResult(
  recipient: string,
  outcome: RecipientOutcome,
  copies: number,
  found: number,
  code: RecipientCode | null,
  reason: string | null,
): MailboxResult {
  return { recipient, outcome, copies, found, code, reason, at: new Date().toISOString() };
}

/**
 * Builds the result of a recipient whose lookup or removal hit a non-retryable error. Copies
 * removed before the error still make the outcome `deleted`, with the error as its reason.
 */
export function settleRemovalError(
  recipient: string,
  removed: number,
  found: number,
  error: { code: RecipientCode; reason: string },
): MailboxResult {
  if (removed > 0)
    return finalResult(
      recipient,
      'deleted',
      removed,
      found,
      error.code,
      `removed ${removed} copies, then: ${error.reason}`,
    );
  return finalResult(recipient, OUTCOME_BY_CODE[error.code], 0, found, error.code, error.reason);
}
