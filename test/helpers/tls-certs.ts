// Test certificates made with the system's openssl at test time: a CA, and leaf certificates it signs for
// given DNS names (servers) or a subject (clients). Written to a fresh temporary folder; nothing is checked in.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly certPem: Buffer;
}

export class TestCa {
  readonly dir: string;
  readonly cert: string;
  private readonly key: string;
  private serial: number;

  constructor(name = 'Fulcrum Test CA') {
    this.dir = mkdtempSync(join(tmpdir(), 'fulcrum-tls-'));
    this.cert = join(this.dir, 'ca.pem');
    this.key = join(this.dir, 'ca-key.pem');
    this.serial = 1;
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.key, '-out', this.cert, '-days', '2', '-subj', `/CN=${name}`]);
  }

  get pem(): Buffer {
    return readFileSync(this.cert);
  }

  /** A server certificate for `names` (DNS SANs); CN is the first name. */
  server(file: string, names: readonly string[]): Issued {
    return this.issue(file, `/CN=${names[0]}`, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth`);
  }

  /** A client certificate with subject `/CN=…/O=…`. */
  client(file: string, subject: string): Issued {
    return this.issue(file, subject, 'extendedKeyUsage=clientAuth');
  }

  private issue(file: string, subject: string, ext: string): Issued {
    const cert = join(this.dir, `${file}.pem`);
    const key = join(this.dir, `${file}-key.pem`);
    const csr = join(this.dir, `${file}.csr`);
    const extFile = join(this.dir, `${file}.ext`);
    writeFileSync(extFile, ext + '\n');
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
    openssl(['x509', '-req', '-in', csr, '-CA', this.cert, '-CAkey', this.key, '-set_serial', String(this.serial++), '-days', '2', '-out', cert, '-extfile', extFile]);
    return { cert, key, certPem: readFileSync(cert) };
  }
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
