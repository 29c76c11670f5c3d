/**
 * What an output is to the rest of ctlogd: one definition, in its own
 * folder, listed once in registry.ts. The config's schema takes its keys,
 * the rules across keys its checks, the daemon its event types, encoder
 * and sink, the README's key table and --help its keys' docs: nothing else
 * names an output's keys.
 */
import type { EventConfig } from '../config/schema.js';
import type { Items, Values } from '../config/rules.js';
import type { ConntrackEvent, EventType } from '../event.js';
import type { LineWriter } from '../format/line.js';
import type { WireBatch } from '../wire.js';
import type { Ledger } from './ledger.js';
import type { EventSink, Report } from './sink.js';

/**
 * How an output wants each event: its line and a newline, or for IPFIX a
 * record, or for the store the event's bytes as the capture gave them
 * (`wire`: the batch, at this event). Returns false for an event it has
 * nothing for.
 */
export type Encoder = (ev: ConntrackEvent, w: LineWriter, wire: WireBatch) => boolean;

/** The keys every output's checks may read beside its own. */
export interface Chosen {
  /** The output the config chose. */
  output: string;
  event: EventConfig;
}

/** Where the capture that feeds it reads, for an output that reads the kernel too (the store's snapshots). */
export interface Opening {
  /** The network namespace's file; undefined for ctlogd's own. */
  netns?: string;
}

export interface OutputDefinition<N extends string = string, K extends Items = Items> {
  /** The `output` value that picks it. */
  readonly name: N;
  /** What it is, as the `output` key's doc says it. */
  readonly doc: string;
  /** Its keys: names, defaults, checks, docs, variables and flags (config/rules.ts option). */
  readonly keys: K;
  /** The event types it has something for: the others are not subscribed. */
  readonly types: readonly EventType[];
  /**
   * What its keys ask of each other and of the config's `event`, whichever
   * output was chosen (each rule says when it applies): the first broken
   * rule's message, `key: what is wrong: value was ...`, or undefined.
   */
  check?(c: Values<K> & Chosen): string | undefined;
  /** Makes its values whole once checked (a default that depends on another key). */
  complete?(c: Values<K>): void;
  /** The files it reads, set or not, by key: none may be the file an output appends to. */
  reads?(c: Values<K>): Array<[key: string, path: string]>;
  /** The private keys it reads, by key, as its keys set it: others should not read them (a hint at start). */
  secrets?(c: Values<K>): Array<[key: string, path: string]>;
  /** The file it appends to, by key, when it is the output. */
  writes?(c: Values<K>): [key: string, path: string];
  /** How it wants each event, if not as the format's line. */
  encoder?(c: Values<K>): Encoder;
  /** What it writes instead of the format's lines, if it has an encoder, as the `listening` line says it. */
  readonly writesAs?: string;
  /**
   * The keys whose change a reload opens it anew for; the others its sink
   * takes as it runs (EventSink.apply). All its keys if not said.
   */
  readonly reopenedBy?: readonly (keyof K & string)[];
  /** Opens it now; throws OutputError (exit 73), or ConfigError (78) for a file its keys name that cannot be used. */
  open(c: Values<K>, report: Report, ledger: Ledger, at: Opening): EventSink;
}

/** An output's definition, its name and keys' types kept. */
export function defineOutput<const N extends string, K extends Items>(d: OutputDefinition<N, K>): OutputDefinition<N, K> {
  return d;
}
