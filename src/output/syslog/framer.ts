/**
 * Syslog messages as each transport carries them: the header (header.ts),
 * made once per batch, and one line. Over TCP and TLS in RFC 6587
 * octet-counting framing (`LEN SP MSG`, RFC 5425 the same inside the TLS
 * session), written back to back; over UDP and the local socket one
 * datagram each.
 */
import type { Lines } from '../ledger.js';
import type { DatagramFraming, Framer, Outbox, StreamFraming } from '../net/framer.js';

const NO_HEAD = Buffer.alloc(0);
const NEWLINE = 0x0a;

/** One message in octet-counting framing: its length in bytes (not characters), a space, the message. */
export function octetCounted(head: Buffer, line: Buffer): Buffer {
  const len = head.length + line.length;
  let digits = 1;
  for (let n = len; n >= 10; n = Math.floor(n / 10)) digits++;
  const out = Buffer.allocUnsafe(digits + 1 + len);
  // The digits written as bytes: no string per line.
  for (let i = digits - 1, n = len; i >= 0; i--, n = Math.floor(n / 10)) out[i] = 0x30 + (n % 10);
  out[digits] = 0x20;
  head.copy(out, digits + 1);
  line.copy(out, digits + 1 + head.length);
  return out;
}

/**
 * One message as it waits for sendLines: newline-ended, the newline not
 * sent. Messages hold no newline (a line ends at one), so the queue's
 * messages joined are sendLines' `lines` as they are.
 */
export function newlineEnded(head: Buffer, line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(head.length + line.length + 1);
  head.copy(out, 0);
  line.copy(out, head.length);
  out[out.length - 1] = NEWLINE;
  return out;
}

/**
 * Queues the lines of `bytes` from line `line`, which starts at byte
 * `from`, each as `frame` makes it of `head` and the line: new bytes, for
 * the line is a view of the batch, whose memory is reused once it is done.
 */
function queueLines(out: Outbox, head: Buffer, frame: (head: Buffer, line: Buffer) => Buffer, { bytes, kinds }: Lines, line = 0, from = 0): void {
  for (let at = from, i = line; at < bytes.length; i++) {
    let end = bytes.indexOf(NEWLINE, at);
    if (end < 0) end = bytes.length;
    out.push(frame(head, bytes.subarray(at, end)), kinds[i]);
    at = end + 1;
  }
}

/** Over TCP or TLS: each line octet-counted; the messages written as they are. */
export function streamFramer(header: () => Buffer): Framer & StreamFraming {
  return { batch: (lines, out) => queueLines(out, header(), octetCounted, lines) };
}

/**
 * Over datagrams: each line one datagram, sent straight from the batch
 * while nothing waits before it; what waits is newline-ended, and sent by
 * sendLines from the queue's messages joined.
 */
export function datagramFramer(header: () => Buffer): Framer & DatagramFraming {
  return {
    batch(lines, out) {
      const head = header();
      const sent = out.sendLines(head, lines.bytes, lines.kinds);
      queueLines(out, head, newlineEnded, lines, sent.line, sent.at);
    },
    send: (socket, front) => socket.sendLines(NO_HEAD, Buffer.concat(front)),
  };
}
