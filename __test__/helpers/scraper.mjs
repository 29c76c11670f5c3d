#!/usr/bin/env node
// A scrape flood, for the metrics tests, run inside a test namespace:
//   node scraper.mjs PORT CONNECTIONS SECONDS
// Holds CONNECTIONS keep-alive connections to 127.0.0.1:PORT, each asking
// GET /metrics again as soon as its answer is in; a connection that is
// closed or refused is made again at once. Prints "flooding" once every
// connection has been tried, and, after SECONDS or on SIGTERM, one JSON
// line:
//   ok           answers 200
//   other        other answers, by status
//   connects     connections made
//   unanswered   connections closed before any answer (refused by the server after accept)
//   refused      connections refused by the kernel (ECONNREFUSED), or that failed
//   maxAnswered  the most connections open at once that had had an answer
import net from 'node:net';

const [port, connections, seconds] = process.argv.slice(2).map(Number);
const REQUEST = Buffer.from('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const tally = { ok: 0, other: {}, connects: 0, unanswered: 0, refused: 0, maxAnswered: 0 };
const open = new Set();
let answeredOpen = 0;
let stopping = false;

function client() {
  if (stopping) return;
  const s = net.connect(port, '127.0.0.1');
  open.add(s);
  let buf = Buffer.alloc(0);
  let connected = false;
  let answered = false;
  s.on('connect', () => {
    connected = true;
    tally.connects++;
    s.write(REQUEST);
  });
  s.on('data', (d) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      const at = buf.indexOf(HEAD_END);
      if (at < 0) return;
      const head = buf.subarray(0, at).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const end = at + HEAD_END.length + length;
      if (buf.length < end) return;
      const status = Number(head.slice(9, 12));
      if (status === 200) tally.ok++;
      else tally.other[status] = (tally.other[status] ?? 0) + 1;
      if (!answered) {
        answered = true;
        answeredOpen++;
        tally.maxAnswered = Math.max(tally.maxAnswered, answeredOpen);
      }
      buf = buf.subarray(end);
      if (!stopping) s.write(REQUEST);
    }
  });
  s.on('error', () => {
    if (!connected) tally.refused++;
  });
  s.on('close', () => {
    open.delete(s);
    if (answered) answeredOpen--;
    else if (connected) tally.unanswered++;
    // Again at once, as a flood does; a refused connect is tried again after a breath, not in a spin.
    if (connected) setImmediate(client);
    else setTimeout(client, 10);
  });
}

function finish() {
  if (stopping) return;
  stopping = true;
  for (const s of open) s.destroy();
  process.stdout.write(`${JSON.stringify(tally)}\n`, () => process.exit(0));
}

for (let i = 0; i < connections; i++) client();
console.log('flooding');
setTimeout(finish, seconds * 1000);
process.on('SIGTERM', finish);
