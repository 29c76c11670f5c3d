/**
 * The certificates of a connection over TLS (syslog's, RFC 5425): the CA
 * bundle that the server's certificate must chain to, and the client's own
 * certificate and key when the server asks for one, read from PEM files at
 * start and again on SIGHUP (certificates an ACME client rotated are
 * picked up).
 *
 * Every file is checked when it is read, so that a bad one is refused in
 * one line naming the output's key, the file and why, rather than found
 * at the next handshake: the CA file must hold at least one certificate
 * and nothing that fails to parse, the certificate file a certificate, the
 * key file a private key (not encrypted: nobody is there to type a
 * passphrase) that matches it. At start that line is a config error (exit 78); on SIGHUP it
 * is reported and the files read before are kept.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import type * as Tls from 'node:tls';
import { echo } from '../../echo.js';
import { crypto, tls } from '../../on-demand.js';

/** What an empty CA file means: the system's CA store, as Debian (and VyOS, Alpine) keep it with update-ca-certificates. */
const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** The largest PEM file read: Debian's whole CA store is about 220 kB. */
const MAX_PEM_BYTES = 4 * 1024 * 1024;

/** The files, and the name the server's certificate must carry. */
export interface TlsOptions {
  /** How refusals name the keys that set the files: this and `_ca`, `_cert`, `_key` (`syslog_tls`: syslog_tls_ca, ...). */
  keys: string;
  /** The CA bundle; empty: the system store. */
  ca: string;
  /** The client's certificate (and chain) and its key; both empty: none. */
  cert: string;
  key: string;
  /** The name the server's certificate must carry: a DNS name, or an IP address. */
  name: string;
}

/** A file that cannot be used: `message` is the one line, `key file: why`. */
export class TlsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsFileError';
  }
}

// O_NONBLOCK: a FIFO at the path never blocks the daemon (it is refused as not a regular file).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function errno(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES' || err.code === 'EPERM') return `permission denied (uid ${process.getuid?.()})`;
  return err.code ?? err.message;
}

/** The file's text: a regular file of at most MAX_PEM_BYTES, or TlsFileError. */
function readPem(key: string, path: string): string {
  const where = `${key} ${echo(path)}`;
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    throw new TlsFileError(`${where}: cannot read: ${errno(e)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TlsFileError(`${where}: not a regular file; a PEM file is expected`);
    if (st.size > MAX_PEM_BYTES) throw new TlsFileError(`${where}: too big: ${st.size} bytes; at most ${MAX_PEM_BYTES}`);
    const buf = Buffer.allocUnsafe(Math.min(st.size + 1, MAX_PEM_BYTES + 1));
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_PEM_BYTES) throw new TlsFileError(`${where}: too big: more than ${MAX_PEM_BYTES} bytes`);
    return buf.toString('latin1', 0, n);
  } catch (e) {
    if (e instanceof TlsFileError) throw e;
    throw new TlsFileError(`${where}: cannot read: ${errno(e)}`);
  } finally {
    closeSync(fd);
  }
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** Every certificate in `pem`, each parsed; TlsFileError when there is none or one does not parse. */
function certificates(key: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsFileError(`${key} ${echo(path)}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it`);
  return blocks.map((b, i) => {
    try {
      return new (crypto().X509Certificate)(b);
    } catch (e) {
      throw new TlsFileError(`${key} ${echo(path)}: certificate ${i + 1} does not parse: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  });
}

/** What one read of the files made: Node's context for the handshake. */
function load(o: TlsOptions): Tls.SecureContext {
  const caPath = o.ca === '' ? SYSTEM_CA_FILE : o.ca;
  const caKey = o.ca === '' ? `${o.keys}_ca (empty: the system store)` : `${o.keys}_ca`;
  const caPem = readPem(caKey, caPath);
  // Parsed to refuse a bad bundle now; Node would skip what it cannot parse.
  const ca = certificates(caKey, caPath, caPem).map((c) => c.toString());
  if (o.cert === '') return tls().createSecureContext({ ca });
  const certKey = `${o.keys}_cert`;
  const keyKey = `${o.keys}_key`;
  const certPem = readPem(certKey, o.cert);
  const chain = certificates(certKey, o.cert, certPem);
  const keyPem = readPem(keyKey, o.key);
  let key: KeyObject;
  try {
    key = crypto().createPrivateKey(keyPem);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new TlsFileError(`${keyKey} ${echo(o.key)}: no private key that can be read without a passphrase (${code})`);
  }
  if (!chain[0].checkPrivateKey(key)) {
    throw new TlsFileError(`${keyKey} ${echo(o.key)}: does not match the certificate of ${certKey} ${echo(o.cert)} (${chain[0].subject.replace(/\n/g, ', ')})`);
  }
  return tls().createSecureContext({ ca, cert: certPem, key: keyPem });
}

/**
 * The TLS side of a connection: the certificates (read again by reload())
 * and what the server's certificate must name.
 */
export class TlsFiles {
  private context: Tls.SecureContext;
  /** The name the server's certificate must carry. */
  readonly name: string;

  /** Reads the files; throws TlsFileError with the line that says what is wrong. */
  constructor(private readonly opts: TlsOptions) {
    this.name = opts.name;
    this.context = load(opts);
  }

  /** SIGHUP: the files read again; on trouble, why (the files read before stay in use). */
  reload(): string | undefined {
    try {
      this.context = load(this.opts);
      return undefined;
    } catch (e) {
      if (e instanceof TlsFileError) return `${e.message}; the certificates read before are kept`;
      throw e;
    }
  }

  /**
   * tls.connect's options for one handshake over `socket`: the server's
   * certificate must chain to the CA and carry the name (an IP address is
   * checked against the certificate's IP SANs, and is sent as no SNI, which
   * RFC 6066 does not allow for addresses).
   */
  connectOptions(socket: Socket): Tls.ConnectionOptions {
    return {
      socket,
      secureContext: this.context,
      host: this.name,
      servername: isIP(this.name) === 0 ? this.name : undefined,
      rejectUnauthorized: true,
    };
  }

  /** A TLS client over `socket`, with connectOptions. */
  connect(socket: Socket): Tls.TLSSocket {
    return tls().connect(this.connectOptions(socket));
  }
}
