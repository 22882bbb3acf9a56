// A throwaway certificate for the TLS rows of `npm run bench`: a self-signed ECDSA P-256 certificate for
// localhost and 127.0.0.1, made with openssl in the run's temp folder and removed with it. Load generators
// do not verify it; the P-256 key keeps the few handshakes cheap (connections are kept alive).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** Certificate and key in one file, as HAProxy's `crt` reads them. */
  readonly pem: string;
}

export function makeCertificate(dir: string, openssl: string): TlsFiles {
  const files = { cert: `${dir}/bench-cert.pem`, key: `${dir}/bench-key.pem`, pem: `${dir}/bench.pem` };
  execFileSync(
    openssl,
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', files.key, '-out', files.cert,
    ],
    { stdio: 'pipe' },
  );
  writeFileSync(files.pem, readFileSync(files.cert, 'utf8') + readFileSync(files.key, 'utf8'), { mode: 0o644 });
  return files;
}
