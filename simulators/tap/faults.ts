/**
 * Faults the TAP simulator can inject, set by `--fault` flags or by `POST /__admin/faults`.
 *
 * Spec syntax (flag and admin endpoint alike): `KIND[,key=value...]`, for example
 * `status,code=503,times=2`, `latency,ms=3000`, `reset`, `revoke,after=10`.
 */

/** Effect of a fault on the request it applies to. */
export type FaultKind =
  /** Wait `ms`, then respond normally. */
  | 'latency'
  /** Respond with HTTP `code` (default 500) and an empty body. */
  | 'status'
  /** Destroy the connection without a response. */
  | 'reset'
  /** Send only the first half of a normal JSON body, framed as complete. */
  | 'truncate'
  /** Respond 200 with an HTML page instead of JSON. */
  | 'non-json'
  /** Answer 200 with an empty body. */
  | 'empty'
  /** Answer 204 No Content. */
  | 'no-content'
  /** Answer 429 as if the pool's budget were spent. */
  | 'throttle'
  /** Revoke the credentials: every later request gets 401 until the fault is cleared. */
  | 'revoke';

/** One injected fault. */
export interface Fault {
  kind: FaultKind;
  /** Requests the fault applies to before it expires; unlimited when absent. `revoke` ignores it. */
  times?: number;
  /** SIEM requests to serve normally before the fault starts. Default 0. */
  after?: number;
  /** Delay for `latency`, in milliseconds. */
  ms?: number;
  /** Status for `status`. */
  code?: number;
}

const KINDS: ReadonlySet<string> = new Set([
  'latency',
  'status',
  'reset',
  'truncate',
  'non-json',
  'empty',
  'no-content',
  'throttle',
  'revoke',
]);

/** Parses a fault spec such as `status,code=503,times=2`; throws a RangeError that names the bad part. */
export function parseFaultSpec(spec: string): Fault {
  const [kind = '', ...options] = spec.split(',').map((part) => part.trim());
  if (!KINDS.has(kind)) {
    throw new RangeError(`Unknown fault '${kind}' in '${spec}'; expected one of ${[...KINDS].join(', ')}`);
  }

  const fault: Fault = { kind: kind as FaultKind };
  for (const option of options) {
    const [key, value] = option.split('=');
    const number = Number(value);
    if ((key !== 'times' && key !== 'after' && key !== 'ms' && key !== 'code') || !Number.isInteger(number)) {
      throw new RangeError(`Invalid fault option '${option}' in '${spec}'; expected times=N, after=N, ms=N or code=N`);
    }
    fault[key] = number;
  }
  return checkFault(fault);
}

/** Validates a fault object received by the admin endpoint. */
export function checkFault(value: unknown): Fault {
  const fault = value as Partial<Fault> | null;
  if (!fault || typeof fault.kind !== 'string' || !KINDS.has(fault.kind)) {
    throw new RangeError(`Invalid fault ${JSON.stringify(value)}; 'kind' must be one of ${[...KINDS].join(', ')}`);
  }
  for (const key of ['times', 'after', 'ms', 'code'] as const) {
    const option = fault[key];
    if (option !== undefined && (!Number.isInteger(option) || option < 0)) {
      throw new RangeError(`Invalid fault ${JSON.stringify(value)}; '${key}' must be a whole number of at least 0`);
    }
  }
  return fault as Fault;
}
