#!/usr/bin/env node
// A TCP peer that accepts every connection and closes it soon after: a
// receiver that is up enough to accept but takes nothing (a full rsyslog
// that drops new clients, a proxy with no backend). Run inside a test
// namespace:
//   node closing.mjs PORT DELAY_MS             plain TCP: closed DELAY_MS after the accept
//   node closing.mjs PORT DELAY_MS CERT KEY    TLS: closed DELAY_MS after the handshake
// Prints "listening" once it listens, then "accepted N" for each connection.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [port, delay, cert, key] = process.argv.slice(2);
let n = 0;
const close = (s) => {
  s.on('error', () => {});
  if (Number(delay) === 0) s.destroy();
  else setTimeout(() => s.destroy(), Number(delay));
};
const server = cert ? tls.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, close).on('tlsClientError', () => {}) : net.createServer(close);
server.on('connection', () => console.log(`accepted ${++n}`));
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
