/**
 * Graph JSON batching with the retries the Graph client leaves out: the client's RetryHandler
 * gets only the outer 200 of a `$batch`, so throttled sub-requests (429, 503, 504) are retried
 * here, after the longest Retry-After among them. Requests in flight per mailbox stay within
 * the mailbox concurrency limit, counting each batch's sub-requests.
 */
import type { Client } from '@microsoft/microsoft-graph-client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KeyedSemaphore, Semaphore } from './limiter.ts';
import { backoffDelay, parseRetryAfter } from './retry-after.ts';

/** Maximum requests in one `$batch` (Graph JSON batching limit). */
export const GRAPH_BATCH_LIMIT = 20;

/** One sub-request; `mailbox` is the user it addresses, for the concurrency limit. */
export interface BatchStep {
  id: string;
  mailbox: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** URL relative to the Graph version root, already percent-encoded. */
  url: string;
  body?: unknown;
}

/** A sub-response; status 0 stands for a batch call that failed without a response. */
export interface StepResponse {
  status: number;
  body: unknown;
  /** Delay asked for by a throttled response, in milliseconds; null when none was given. */
  retryAfterMs: number | null;
}

/** Limits and retry settings of {@link runBatchSteps}. */
export interface BatchSettings {
  client: Client;
  mailboxLimit: KeyedSemaphore;
  batchLimit: Semaphore;
  maxInlineRetries: number;
  maxInlineDelayMs: number;
  /** Called when a response is 401, so that the next attempt gets a new token. */
  onUnauthorized?: () => void;
  signal?: AbortSignal;
}

/** True for statuses that a later attempt may turn into a success. */
export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 401 || status === 429 || status >= 500;
}

/**
 * Sends `steps` in batches of at most 20 and retries transient sub-responses inline while
 * the wait stays within `maxInlineDelayMs`. Returns a response for every step id; steps still
 * transient after the retries keep their last transient response.
 */
export async function runBatchSteps(
  steps: readonly BatchStep[],
  settings: BatchSettings,
): Promise<Map<string, StepResponse>> {
  const responses = new Map<string, StepResponse>();
  let pending = [...steps];

  for (let attempt = 1; pending.length > 0; attempt++) {
    const chunks = chunk(pending, GRAPH_BATCH_LIMIT);
    const answered = await Promise.all(chunks.map((part) => sendBatch(part, settings)));
    for (const chunkResponses of answered) for (const [id, response] of chunkResponses) responses.set(id, response);

    const transient = pending.filter((step) => isTransientStatus(responses.get(step.id)!.status));
    if (transient.some((step) => responses.get(step.id)!.status === 401)) settings.onUnauthorized?.();
    if (transient.length === 0 || attempt > settings.maxInlineRetries) break;

    const waitMs = Math.max(...transient.map((step) => responses.get(step.id)!.retryAfterMs ?? backoffDelay(attempt)));
    if (waitMs > settings.maxInlineDelayMs) break;
    await sleep(waitMs, undefined, { signal: settings.signal });
    pending = transient;
  }
  return responses;
}

async function sendBatch(steps: readonly BatchStep[], settings: BatchSettings): Promise<Map<string, StepResponse>> {
  const perMailbox = new Map<string, number>();
  for (const step of steps) perMailbox.set(step.mailbox, (perMailbox.get(step.mailbox) ?? 0) + 1);

  return settings.batchLimit.run(async () => {
    const release = await settings.mailboxLimit.acquire(perMailbox);
    try {
      return await postBatch(steps, settings.client);
    } finally {
      release();
    }
  });
}

async function postBatch(steps: readonly BatchStep[], client: Client): Promise<Map<string, StepResponse>> {
  const requests = steps.map((step) => ({
    id: step.id,
    method: step.method,
    url: step.url,
    ...(step.body === undefined ? {} : { body: step.body, headers: { 'Content-Type': 'application/json' } }),
  }));

  const responses = new Map<string, StepResponse>();
  try {
    const result = (await client.api('/$batch').post({ requests })) as { responses?: RawSubResponse[] };
    for (const sub of result.responses ?? []) {
      responses.set(String(sub.id), {
        status: sub.status,
        body: sub.body ?? null,
        retryAfterMs: parseRetryAfter(headerValue(sub.headers, 'retry-after')),
      });
    }
  } catch (err) {
    // The whole batch failed (429 on the batch, 5xx, network): every step is retried or deferred.
    const graphError = err as { statusCode?: number; headers?: Headers; message?: string };
    const status = typeof graphError.statusCode === 'number' && graphError.statusCode > 0 ? graphError.statusCode : 0;
    const retryAfterMs = parseRetryAfter(graphError.headers?.get?.('retry-after'));
    const body = { error: { code: 'BatchFailed', message: graphError.message ?? String(err) } };
    for (const step of steps) responses.set(step.id, { status, body, retryAfterMs });
  }

  // A response Graph left out is treated as a failure to retry.
  for (const step of steps) {
    if (!responses.has(step.id)) {
      responses.set(step.id, {
        status: 0,
        body: { error: { code: 'MissingResponse', message: 'no sub-response' } },
        retryAfterMs: null,
      });
    }
  }
  return responses;
}

interface RawSubResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | null {
  if (!headers) return null;
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  return entry ? entry[1] : null;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
