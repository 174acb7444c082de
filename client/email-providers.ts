/**
 * Email provider configuration of an organization, shared by `tap-mdr email-provider …`,
 * `tap-mdr start` and tests. Secrets are sealed into the store here; the stored configuration,
 * the audit log and Temporal only ever see their references.
 */
import { randomUUID } from 'node:crypto';
import {
  createMailProvider,
  EmailProviderConfigError,
  MailRetryLaterError,
  REMOVAL_ACTIONS,
  type EmailProviderConfig,
  type ProviderRuntimeOptions,
  type RemovalAction,
} from '../activities/email/index.ts';
import { openSecret, sealSecret } from '../activities/secrets.ts';
import type { Actor, WorkbenchStore } from '../activities/store/types.ts';

/** Microsoft 365 settings with the client secret in clear, as an operator enters them. */
export interface Microsoft365Input {
  kind: 'microsoft365';
  /** Entra tenant id (GUID) or primary domain. */
  tenantId: string;
  /** Application (client) id of an app registration with the Mail.ReadWrite application permission. */
  clientId: string;
  /** The client secret's value (not its id). */
  clientSecret: string;
  /** Default `https://login.microsoftonline.com`. */
  authorityUrl?: string;
  /** Default `https://graph.microsoft.com/`; must be https. */
  graphBaseUrl?: string;
  /** Recipient domains to handle; others are skipped. An empty list tries every recipient. */
  domains: string[];
  /** Default action; `softDelete` when omitted. */
  action?: RemovalAction;
  /** Destination of `quarantine`: a well-known folder name or folder id; default `junkemail`. */
  quarantineFolder?: string;
}

/** Google Workspace settings with the service account key in clear. */
export interface GoogleWorkspaceInput {
  kind: 'googleWorkspace';
  /** The JSON key file of a service account with domain-wide delegation. */
  serviceAccountKeyJson: string;
  /** Default `https://oauth2.googleapis.com/token`. */
  tokenUrl?: string;
  /** Default `https://gmail.googleapis.com/`. */
  rootUrl?: string;
  domains: string[];
  action?: RemovalAction;
  /** Label that `quarantine` adds; default `SPAM`. */
  quarantineLabelId?: string;
}

/** Input of {@link configureEmailProvider}. */
export type EmailProviderInput = Microsoft365Input | GoogleWorkspaceInput;

/** Store, secret key and operator used by {@link configureEmailProvider}. */
export interface EmailProviderContext {
  store: WorkbenchStore;
  secretKey: Buffer;
  actor: Actor;
}

/** Raised for provider input that cannot work; `code` is stable and the message names the field and the fix. */
export class EmailProviderInputError extends Error {
  readonly code = 'TAP_MDR_INVALID_EMAIL_PROVIDER';

  constructor(message: string) {
    super(message);
    this.name = 'EmailProviderInputError';
  }
}

/**
 * Validates `input`, seals its secret into the store under a fresh reference, and stores the
 * organization's provider configuration (replacing an earlier one). Returns what was stored.
 */
export async function configureEmailProvider(
  context: EmailProviderContext,
  orgId: string,
  input: EmailProviderInput,
): Promise<{ config: EmailProviderConfig; action: RemovalAction }> {
  const action = input.action ?? 'softDelete';
  if (!REMOVAL_ACTIONS.includes(action)) {
    throw new EmailProviderInputError(
      `action '${String(action)}' is invalid; use one of ${REMOVAL_ACTIONS.join(', ')}`,
    );
  }
  const domains = validateDomains(input.domains);

  const secretRef = `email:${orgId}:${input.kind}:${randomUUID()}`;
  const { config, secret } =
    input.kind === 'microsoft365'
      ? microsoft365Config(input, domains, secretRef)
      : googleWorkspaceConfig(input, domains, secretRef);

  await context.store.ensureOrganization(orgId, context.actor);
  await context.store.putSecret(secretRef, sealSecret(secret, secretRef, context.secretKey), context.actor);
  await context.store.setEmailProvider(orgId, config, action, context.actor);
  return { config, action };
}

function microsoft365Config(
  input: Microsoft365Input,
  domains: string[],
  secretRef: string,
): { config: EmailProviderConfig; secret: string } {
  const tenantId = required('tenantId', input.tenantId);
  const clientId = required('clientId', input.clientId);
  const secret = oneLineSecret('clientSecret', input.clientSecret);
  const graphBaseUrl = optionalUrl('graphBaseUrl', input.graphBaseUrl);
  if (graphBaseUrl && !graphBaseUrl.startsWith('https:')) {
    throw new EmailProviderInputError(
      `graphBaseUrl '${graphBaseUrl}' must use https: the Graph client sends its token to https URLs only`,
    );
  }

  const config: EmailProviderConfig = {
    kind: 'microsoft365',
    tenantId,
    clientId,
    secretRef,
    domains,
    ...defined('authorityUrl', optionalUrl('authorityUrl', input.authorityUrl)),
    ...defined('graphBaseUrl', graphBaseUrl),
    ...defined('quarantineFolder', input.quarantineFolder?.trim() || undefined),
  };
  return { config, secret };
}

function googleWorkspaceConfig(
  input: GoogleWorkspaceInput,
  domains: string[],
  secretRef: string,
): { config: EmailProviderConfig; secret: string } {
  let key: { type?: unknown; client_email?: unknown; private_key?: unknown };
  try {
    key = JSON.parse(input.serviceAccountKeyJson) as typeof key;
  } catch {
    throw new EmailProviderInputError(
      'the service account key is not valid JSON; pass the key file that the Google Cloud console downloads',
    );
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
    throw new EmailProviderInputError(
      'the service account key lacks client_email or private_key; pass the JSON key file of the service account',
    );
  }

  const config: EmailProviderConfig = {
    kind: 'googleWorkspace',
    serviceAccountKeyRef: secretRef,
    domains,
    ...defined('tokenUrl', optionalUrl('tokenUrl', input.tokenUrl)),
    ...defined('rootUrl', optionalUrl('rootUrl', input.rootUrl)),
    ...defined('quarantineLabelId', input.quarantineLabelId?.trim() || undefined),
  };
  return { config, secret: input.serviceAccountKeyJson };
}

/** Result of {@link checkEmailProvider}. */
export interface ProviderCheckResult {
  ok: boolean;
  /** The provider error's stable code when not ok: `tenant_not_found`, `credentials_rejected`, `consent_missing`, … */
  code: string | null;
  /** Cause of the failure and its fix; null when ok. */
  explanation: string | null;
}

/** Likely cause and fix per provider error code, printed after the provider's own message. */
const CHECK_HINTS: Record<string, string> = {
  tenant_not_found: 'wrong tenant: the tenant id or domain is not an Entra tenant',
  application_not_found: 'the application (client) id is not registered in this tenant',
  credentials_rejected:
    'the secret or key was rejected or has expired: create a new one and store it with `tap-mdr email-provider set`',
  consent_missing:
    'consent missing: grant admin consent for the Mail.ReadWrite application permission (Microsoft 365), ' +
    'or the mailbox is outside the application access policy',
  delegation_missing:
    'delegation missing: authorize the service account client id for the Gmail scopes under Security > API controls > ' +
    'Domain-wide delegation in the Google Admin console',
  invalid_config: 'the configuration or the mailbox is wrong',
  throttled: 'the API is throttling this application; try again later',
  unavailable: 'the API or token endpoint is unreachable or failing; try again later',
};

/**
 * Gets a token and reads one message id from `mailbox` with the organization's stored
 * provider, and explains a failure: wrong tenant, rejected or expired secret, consent
 * missing, delegation missing.
 */
export async function checkEmailProvider(
  context: Pick<EmailProviderContext, 'store' | 'secretKey'> & { mail?: ProviderRuntimeOptions },
  orgId: string,
  mailbox: string,
): Promise<ProviderCheckResult> {
  const record = await context.store.getEmailProvider(orgId);
  if (!record) {
    return {
      ok: false,
      code: 'not_configured',
      explanation: `no email provider is configured for organization ${orgId}; set one with \`tap-mdr email-provider set\``,
    };
  }

  try {
    const loadSecret = async (ref: string) => {
      const sealed = await context.store.getSecret(ref);
      if (sealed === null) throw new EmailProviderConfigError('invalid_config', `secret ${ref} is not in the store`);
      return openSecret(sealed, ref, context.secretKey);
    };
    const provider = await createMailProvider(record.config, loadSecret, context.mail ?? {});
    await provider.check(mailbox);
    return { ok: true, code: null, explanation: null };
  } catch (err) {
    if (!(err instanceof EmailProviderConfigError) && !(err instanceof MailRetryLaterError)) throw err;
    const hint = CHECK_HINTS[err.code];
    return { ok: false, code: err.code, explanation: hint ? `${hint}. ${err.message}` : err.message };
  }
}

function required(field: string, value: string | undefined): string {
  const text = (value ?? '').trim();
  if (text === '') throw new EmailProviderInputError(`${field} is missing`);
  if (/\s|\p{Cc}/u.test(text))
    throw new EmailProviderInputError(`${field} must not contain spaces or control characters`);
  return text;
}

function oneLineSecret(field: string, value: string | undefined): string {
  const secret = (value ?? '').replace(/\r?\n$/, '');
  if (secret.trim() === '') throw new EmailProviderInputError(`${field} is empty`);
  if (/\p{Cc}/u.test(secret))
    throw new EmailProviderInputError(`${field} contains a control character; it must be one line`);
  return secret;
}

function optionalUrl(field: string, value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    const url = new URL(value.trim());
    if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
  } catch {
    // Reported below.
  }
  throw new EmailProviderInputError(`${field} '${value}' is not an http(s) URL`);
}

const DOMAIN_PATTERN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function validateDomains(domains: readonly string[] | undefined): string[] {
  const normalized = (domains ?? []).map((domain) => domain.trim().toLowerCase().replace(/^@/, ''));
  for (const domain of normalized) {
    if (!DOMAIN_PATTERN.test(domain)) {
      throw new EmailProviderInputError(`domain '${domain}' is not a domain name such as example.com`);
    }
  }
  return [...new Set(normalized)];
}

function defined<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
