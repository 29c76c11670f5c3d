#!/usr/bin/env node
// Both ends of the NAT router's traffic (nat-router.ts), run in the client
// and server namespaces:
//   node nat-traffic.mjs serve TCPPORTS UDPPORTS   listen on every address
//                                                  (IPv4 and IPv6) until killed:
//                                                  TCP answers "pong" and closes,
//                                                  UDP echoes
//   node nat-traffic.mjs STEP...                   the client: each step in turn
// Steps: tcp:HOST:PORT (a whole connection), udp:HOST:PORT (one datagram
// and its answer). Prints each step's local port, one per line.
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, ...rest] = process.argv.slice(2);

if (mode === 'serve') {
  const list = (s) => (s ? s.split(',').map(Number) : []);
  const [tcp, udp] = [list(rest[0]), list(rest[1])];
  for (const port of tcp) {
    const server = net.createServer((sock) => {
      sock.on('data', () => sock.end('pong'));
      sock.on('error', () => {});
    });
    // '::' takes IPv4 too (dual stack).
    server.listen(port, '::');
  }
  for (const port of udp) {
    for (const type of ['udp4', 'udp6']) {
      const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
      s.on('message', (m, r) => s.send(m, r.port, r.address));
      s.bind(port, type === 'udp4' ? '0.0.0.0' : '::');
    }
  }
  process.stdout.write('serving\n');
} else {
  const steps = [mode, ...rest];
  const split = (step) => {
    const kind = step.slice(0, step.indexOf(':'));
    const port = Number(step.slice(step.lastIndexOf(':') + 1));
    const host = step.slice(kind.length + 1, step.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    return { kind, host, port };
  };
  const tcp = (host, port) =>
    new Promise((resolve, reject) => {
      const c = net.connect(port, host, () => c.write('ping'));
      let lp;
      c.on('connect', () => (lp = c.localPort));
      c.on('data', () => c.end());
      c.on('close', () => resolve(lp));
      c.on('error', reject);
    });
  const udp = (host, port) =>
    new Promise((resolve, reject) => {
      const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      const t = setTimeout(() => reject(new Error(`no answer from udp ${host}:${port}`)), 3000);
      s.on('message', () => {
        clearTimeout(t);
        const lp = s.address().port;
        s.close(() => resolve(lp));
      });
      s.send('ping', port, host);
    });
  for (const step of steps) {
    const { kind, host, port } = split(step);
    const lp = kind === 'tcp' ? await tcp(host, port) : await udp(host, port);
    process.stdout.write(`${lp}\n`);
  }
}
