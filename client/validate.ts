/** Validation of operator input: each failure names the field, the value's problem and the fix. */
import { CliError } from './command.ts';

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
// Any C0/C1 control character, DEL included: the Unicode general category Cc.
const CONTROL_CHARACTERS = /\p{Cc}/u;
// A service principal is the HTTP Basic user-id, so it cannot contain ':' (RFC 7617). TAP's
// principals are opaque tokens; this accepts letters, digits, '.', '_', '@' and '-'.
const PRINCIPAL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{7,127}$/;

function invalid(field: string, problem: string): CliError {
  return new CliError('TAP_MDR_INVALID_INPUT', `invalid ${field}: ${problem}`, 2);
}

/** Checks an organization or device id: lower-case letters, digits, `.`, `_` and `-`, at most 63 characters. */
export function validateId(field: string, value: string | undefined): string {
  if (value === undefined || value === '') throw invalid(field, `missing; pass --${field} ID`);
  if (!ID_PATTERN.test(value)) {
    throw invalid(
      field,
      `${JSON.stringify(value)} must start with a lower-case letter or digit and contain only a-z, 0-9, '.', '_' ` +
        `and '-' (at most 63 characters)`,
    );
  }
  return value;
}

/** Checks free text such as a name or location: no control characters, at most `max` characters. */
export function validateText(
  field: string,
  value: string | undefined,
  options: { required: boolean; max: number },
): string {
  const text = (value ?? '').trim();
  if (options.required && text === '') throw invalid(field, `missing; pass --${field} TEXT`);
  if (text.length > options.max) throw invalid(field, `${text.length} characters; at most ${options.max} are allowed`);
  if (CONTROL_CHARACTERS.test(text)) throw invalid(field, 'contains a control character (a tab, newline or escape)');
  return text;
}

/** Checks a TAP service principal, as TAP shows it under Settings > Connected Applications. */
export function validatePrincipal(value: string | undefined): string {
  const principal = (value ?? '').trim();
  if (principal === '') throw invalid('principal', 'missing; pass --principal with the TAP service principal');
  if (!PRINCIPAL_PATTERN.test(principal)) {
    throw invalid(
      'principal',
      `a TAP service principal has 8 to 128 letters, digits, '.', '_', '@' or '-' and no spaces or ':'; ` +
        `got a ${principal.length}-character value that is not one (not shown, in case it is the secret)`,
    );
  }
  return principal;
}

/** Checks a TAP secret read from standard input or a file. Its value never appears in a message. */
export function validateSecret(value: string): string {
  const secret = value.replace(/\r?\n$/, '');
  if (secret.trim() === '')
    throw invalid('secret', 'empty; write the TAP secret to standard input or to --secret-file');
  if (secret.length > 512) throw invalid('secret', `${secret.length} characters; at most 512 are allowed`);
  if (CONTROL_CHARACTERS.test(secret)) throw invalid('secret', 'contains a control character; it must be one line');
  return secret;
}

/**
 * Checks a service base URL such as the TAP SIEM API's: http or https, with no user name or
 * password (a secret there would reach logs and the Web UI), no query and no fragment.
 * Returns it without a trailing slash.
 */
export function validateBaseUrl(field: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, `${JSON.stringify(value)} is not a URL; pass one such as https://tap-api-v2.proofpoint.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(field, `${url.protocol} is not http or https`);
  }
  if (url.username !== '' || url.password !== '') {
    // Not echoed: the password part may be the secret.
    throw invalid(
      field,
      'it contains a user name or password; pass the credentials with --principal and the secret file',
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw invalid(field, `${JSON.stringify(value)} has a query or fragment; pass the base URL only`);
  }
  return url.href.replace(/\/$/, '');
}

/**
 * Describes a `JSON.parse` failure without the text that V8 quotes from the input, because the
 * file may hold a secret: "not valid JSON", with the position when V8 reports one.
 */
export function describeJsonSyntaxError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Unexpected end of JSON input/.test(message)) return 'not valid JSON (it ends too early)';

  const position = /at position \d+(?: \(line \d+ column \d+\))?/.exec(message);
  if (position) return `not valid JSON (error ${position[0]})`;
  const token = /^Unexpected token '[^']{1,2}'/.exec(message);
  return token ? `not valid JSON (${token[0].toLowerCase()})` : 'not valid JSON';
}
