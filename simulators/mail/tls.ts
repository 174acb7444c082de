/**
 * A self-signed certificate for serving the mail simulator over HTTPS on 127.0.0.1. Clients
 * trust it by passing `cert` as their CA certificate.
 */
import { generate } from 'selfsigned';

/** PEM key and certificate valid for `127.0.0.1` and `localhost` for one day. */
export interface SelfSignedCertificate {
  key: string;
  cert: string;
}

/** Generates a 2048-bit RSA key and a certificate for `127.0.0.1` and `localhost`. */
export async function createSelfSignedCertificate(): Promise<SelfSignedCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
