/**
 * Simulated token endpoints: Microsoft identity platform client credentials
 * (`POST /{tenant}/oauth2/v2.0/token`) and Google's JWT bearer grant for a service account
 * with domain-wide delegation (`POST /google/token`).
 *
 * Error bodies follow the real endpoints: Entra returns `error` plus an `AADSTS…` description,
 * Google returns `error` plus `error_description`.
 */
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { SimResponse } from './http.ts';
import type { Mailboxes } from './mailboxes.ts';

/** Scope a client-credentials request for Graph must ask for. */
export const GRAPH_DEFAULT_SCOPE = 'https://graph.microsoft.com/.default';

/** Audience Google requires in the assertion; the simulator accepts it and its own token URL. */
export const GOOGLE_TOKEN_AUDIENCE = 'https://oauth2.googleapis.com/token';

const TOKEN_LIFETIME_SECONDS = 3599;

/** The app registration the Graph token endpoint accepts. */
export interface GraphApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Application permissions granted with admin consent, e.g. `Mail.ReadWrite`. */
  roles: string[];
}

/** A Google service account key file (the JSON that the Cloud console downloads). */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  token_uri: string;
}

/** An issued access token. */
export interface IssuedToken {
  api: 'graph' | 'gmail';
  /** Graph: application roles. Gmail: granted OAuth scopes. */
  grants: string[];
  /** Gmail: the impersonated user (JWT `sub`); null when the assertion had none. */
  subject: string | null;
  expiresAt: number;
}

/** Issues and checks access tokens for both APIs. */
export class TokenIssuer {
  readonly graphApp: GraphApp;
  readonly serviceAccountKey: ServiceAccountKey;
  /** Scopes the admin delegated to the service account; others are refused with `unauthorized_client`. */
  delegatedScopes: string[];
  readonly #serviceAccountPublicKey: KeyObject;
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #mailboxes: Mailboxes;

  constructor(mailboxes: Mailboxes, graphApp: GraphApp, delegatedScopes: string[], tokenUri: string) {
    this.#mailboxes = mailboxes;
    this.graphApp = graphApp;
    this.delegatedScopes = delegatedScopes;

    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#serviceAccountPublicKey = publicKey;
    this.serviceAccountKey = {
      type: 'service_account',
      project_id: 'tap-mdr-sim',
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: 'remediation@tap-mdr-sim.iam.gserviceaccount.com',
      client_id: '100000000000000000001',
      token_uri: tokenUri,
    };
  }

  /** Returns the token's grants, or undefined for an unknown or expired token. */
  lookup(token: string | null): IssuedToken | undefined {
    if (token === null) return undefined;
    const issued = this.#tokens.get(token);
    if (!issued || issued.expiresAt < Date.now()) return undefined;
    return issued;
  }

  /** Handles `POST /{tenant}/oauth2/v2.0/token` (client credentials with a client secret). */
  graphToken(tenantId: string, form: URLSearchParams): SimResponse {
    const app = this.graphApp;
    if (tenantId !== app.tenantId) {
      return entraError(400, 'invalid_request', 90002, `Tenant '${tenantId}' not found.`);
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    }
    if (form.get('client_id') !== app.clientId) {
      return entraError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id') ?? ''}' was not found in the directory '${tenantId}'.`,
      );
    }
    if (form.has('client_assertion')) {
      // TODO: certificate credentials (client_assertion) are not simulated; only client secrets are.
      return entraError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    if (form.get('client_secret') !== app.clientSecret) {
      return entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    }
    if (form.get('scope') !== GRAPH_DEFAULT_SCOPE) {
      return entraError(
        400,
        'invalid_scope',
        70011,
        `The provided value for the input parameter 'scope' is not valid.`,
      );
    }
    return this.#issue({ api: 'graph', grants: [...app.roles], subject: null });
  }

  /** Handles `POST /google/token` (JWT bearer grant signed with the service account key). */
  googleToken(form: URLSearchParams, ownTokenUrl: string): SimResponse {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return googleError(400, 'unsupported_grant_type', 'Invalid grant_type: ' + (form.get('grant_type') ?? ''));
    }
    const claims = this.#verifyAssertion(form.get('assertion') ?? '');
    if (typeof claims === 'string') return googleError(400, 'invalid_grant', claims);

    if (claims.aud !== GOOGLE_TOKEN_AUDIENCE && claims.aud !== ownTokenUrl) {
      return googleError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.',
      );
    }
    const scopes = String(claims.scope ?? '')
      .split(/\s+/)
      .filter(Boolean);
    if (scopes.length === 0 || scopes.some((scope) => !this.delegatedScopes.includes(scope))) {
      return googleError(
        401,
        'unauthorized_client',
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
      );
    }
    const subject = typeof claims.sub === 'string' ? claims.sub : null;
    if (subject !== null && this.#mailboxes.status(subject) === 'missing') {
      return googleError(400, 'invalid_grant', 'Invalid email or User ID');
    }
    return this.#issue({ api: 'gmail', grants: scopes, subject });
  }

  #verifyAssertion(assertion: string): Record<string, unknown> | string {
    const [header, payload, signature] = assertion.split('.');
    if (!header || !payload || !signature) return 'Invalid JWT: malformed assertion.';

    const valid = verify(
      'RSA-SHA256',
      Buffer.from(`${header}.${payload}`),
      this.#serviceAccountPublicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return 'Invalid JWT Signature.';

    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    if (claims.iss !== this.serviceAccountKey.client_email) return 'Invalid JWT: unknown issuer.';
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
      return 'Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.';
    }
    return claims;
  }

  #issue(grant: Omit<IssuedToken, 'expiresAt'>): SimResponse {
    const token = `sim-${grant.api}-${randomBytes(18).toString('base64url')}`;
    this.#tokens.set(token, { ...grant, expiresAt: Date.now() + TOKEN_LIFETIME_SECONDS * 1000 });
    return {
      status: 200,
      body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, access_token: token },
    };
  }
}

function entraError(status: number, error: string, code: number, text: string): SimResponse {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${text}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomBytes(16).toString('hex'),
      correlation_id: randomBytes(16).toString('hex'),
    },
  };
}

function googleError(status: number, error: string, description: string): SimResponse {
  return { status, body: { error, error_description: description } };
}
