/**
 * Mail providers for email remediation. {@link createMailProvider} builds the provider of an
 * organization from its stored configuration and the secret that `secretRef` or
 * `serviceAccountKeyRef` points to.
 */
import { EmailProviderConfigError } from './errors.ts';
import { GmailMailProvider } from './gmail.ts';
import { GraphMailProvider } from './graph.ts';
import type { EmailProviderConfig, MailProvider, ProviderRuntimeOptions } from './types.ts';

export * from './types.ts';
export { normalizeMessageId } from './message-id.ts';

/** Loads a decrypted provider secret by reference; supplied by the caller that owns secret storage. */
export type LoadEmailProviderSecret = (ref: string) => Promise<string>;

/** Returns the reference of the secret that `config` needs. */
export function secretRefOf(config: EmailProviderConfig): string {
  if (config.kind === 'googleWorkspace') return config.serviceAccountKeyRef;
  if (config.secretRef) return config.secretRef;
  if (config.certificateRef) {
    throw new EmailProviderConfigError(
      'invalid_config',
      'certificate credentials for Microsoft 365 are not supported yet; configure a client secret (secretRef)',
    );
  }
  throw new EmailProviderConfigError(
    'invalid_config',
    `Microsoft 365 provider of application '${config.clientId}' has neither secretRef nor certificateRef`,
  );
}

/** Builds the provider for `config`, loading its secret through `loadSecret`. */
export async function createMailProvider(
  config: EmailProviderConfig,
  loadSecret: LoadEmailProviderSecret,
  runtime: ProviderRuntimeOptions = {},
): Promise<MailProvider> {
  const secret = await loadSecret(secretRefOf(config));
  if (config.kind === 'microsoft365') return new GraphMailProvider(config, secret, runtime);
  return new GmailMailProvider(config, secret, runtime);
}
