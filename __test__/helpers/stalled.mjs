#!/usr/bin/env node
// A TCP peer that accepts connections and does not read them: what a hung
// syslog receiver is to its senders (no real receiver can be made to
// hang). Run inside a test namespace:
//   node stalled.mjs PORT
// Prints "listening" once it listens. On SIGUSR2 it reads what its
// connections hold, until they close, and prints the number of complete
// RFC 6587 octet-counted frames it got, then exits.
import net from 'node:net';

const port = Number(process.argv[2]);
const conns = [];
const server = net.createServer((s) => {
  s.pause();
  conns.push(s);
});
server.listen(port, '127.0.0.1', () => console.log('listening'));

/** Complete frames in `buf` (`LEN SP MSG`), and where the first incomplete one starts. */
function frames(buf) {
  let n = 0;
  let at = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(buf.toString('latin1', at, sp));
    if (!Number.isInteger(len) || sp + 1 + len > buf.length) break;
    at = sp + 1 + len;
    n++;
  }
  return n;
}

process.on('SIGUSR2', async () => {
  server.close();
  let total = 0;
  await Promise.all(
    conns.map(
      (s) =>
        new Promise((resolve) => {
          const chunks = [];
          s.on('data', (d) => chunks.push(d));
          s.on('error', () => {});
          s.on('close', () => {
            total += frames(Buffer.concat(chunks));
            resolve();
          });
          s.resume();
        }),
    ),
  );
  console.log(String(total));
  process.exit(0);
});
