/**
 * What an output over the network gives the transports: a framer, which
 * turns its batches into messages (syslog: a header and a line; IPFIX: a
 * record) and says how messages go on the wire of each transport. The
 * transports (connection.ts, tcp.ts, datagram.ts) know nothing of what
 * the messages hold.
 */
import type { Datagram } from '../../native.js';
import type { Lines } from '../ledger.js';

/** Where a framer puts the messages of a batch: the connection (connection.ts). */
export interface Outbox {
  /**
   * Queues one message (its own bytes: the batch's memory is reused once
   * it is done) with its line's kind; a full queue counts it lost.
   */
  push(msg: Buffer, kind: number): void;
  /**
   * Sends lines of `bytes` straight from the batch, each after `head` as
   * one datagram, while nothing waits before them: how many lines went,
   * and the byte where the first not sent starts. Only a datagram socket
   * can (others send none).
   */
  sendLines(head: Buffer, bytes: Buffer, kinds: Uint8Array): { line: number; at: number };
}

/** An output's side of a transport: how one batch becomes messages. */
export interface Framer {
  /** Queues the messages of `lines` in `out`, in order, each with its line's kind. */
  batch(lines: Lines, out: Outbox): void;
}

/** How queued messages go over a stream (TCP, TLS: tcp.ts). */
export interface StreamFraming {
  /** Bytes written first on every new connection, before any queued message; absent or empty: none. */
  greeting?(): Buffer | undefined;
  /**
   * The bytes of one write, for messages at the front of the queue, in
   * order; absent: the messages as they are (then where each one ends on
   * the wire is known, and a broken write sends again only what was not
   * acknowledged).
   */
  encode?(msgs: Buffer[]): Buffer;
}

/** What a datagram send did: how many queued messages went, and why the next did not (an errno name). */
export interface Sent {
  sent: number;
  error?: string | null;
}

/** How queued messages go as datagrams (datagram.ts). */
export interface DatagramFraming {
  /** A new socket. */
  fresh?(): void;
  /** Sends messages at the front of the queue (`front`, left queued) on `socket`, in order. */
  send(socket: Datagram, front: Buffer[]): Sent;
}
