/**
 * Certificates for the TLS tests, made with openssl in a temp dir: two CAs
 * (the one the tests trust, and an unknown one), a server certificate for
 * the names asked for, signed by either, and a client certificate. EC
 * P-256 keys: quick to make.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function checkOpenssl(): void {
  try {
    execFileSync('sh', ['-c', 'command -v openssl'], { stdio: 'ignore' });
  } catch {
    throw new Error("the TLS tests need 'openssl' (Debian package openssl)");
  }
}

export class Certs {
  readonly dir: string;

  constructor() {
    checkOpenssl();
    this.dir = mkdtempSync(path.join(tmpdir(), 'ctlogd-certs-'));
    this.ca('ca');
    this.ca('other-ca');
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }

  private ca(name: string): void {
    this.openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ]);
  }

  /**
   * A certificate `name`.pem with its key `name`.key, for the subject
   * alternative names `sans` (`DNS:x`, `IP:a.b.c.d`), signed by `ca`.
   */
  leaf(name: string, sans: string[], usage: 'serverAuth' | 'clientAuth', ca = 'ca'): { cert: string; key: string } {
    writeFileSync(this.file(`${name}.ext`), `subjectAltName=${sans.join(',')}\nextendedKeyUsage=${usage}\n`);
    this.openssl([
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    ]);
    this.openssl([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
    return { cert: this.file(`${name}.pem`), key: this.file(`${name}.key`) };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
