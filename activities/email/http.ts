/**
 * The fetch both providers use: undici's, with extra CA certificates when configured. Node's
 * global fetch cannot take a dispatcher from the undici package (their versions differ), so
 * the providers never use the global one.
 */
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { rootCertificates } from 'node:tls';

/** A fetch function with the signature of the global one. */
export type FetchFunction = typeof globalThis.fetch;

/** Returns a fetch that trusts the system roots plus `caCertificates`. */
export function createFetch(caCertificates: readonly string[] = []): FetchFunction {
  const dispatcher: Dispatcher | undefined =
    caCertificates.length > 0 ? new Agent({ connect: { ca: [...rootCertificates, ...caCertificates] } }) : undefined;
  return ((input: Parameters<FetchFunction>[0], init?: RequestInit) =>
    undiciFetch(input as string, {
      ...(init as object),
      ...(dispatcher ? { dispatcher } : {}),
    })) as unknown as FetchFunction;
}
