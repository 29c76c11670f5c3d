/**
 * ctlogd as a library: the conntrack event stream, typed, and the formats.
 *
 *   import { Capture } from 'ctlogd';
 *   const cap = await Capture.start({ events: ['destroy'] }, (events) => { ... });
 *   ...
 *   await cap.stop();
 */
export { Capture, CaptureError, type BatchHandler, type CaptureOptions, type CaptureStats, type WireBatchHandler } from './capture.js';
export type { ProtocolClass, Protocols } from './event-selection.js';
export {
  AddonError,
  type NativeFilterOptions as FilterOptions,
  type MarkMatch,
  type NatMatch,
  type NetMatch,
  type NumberMatch,
  type StatusMatch,
} from './native.js';
export { IPS, spanNs, timeNs, timeText, type ConntrackEvent, type Counters, type EventType, type Family, type Time, type Tuple } from './event.js';
export { formatConntrack, type ConntrackFormatOptions } from './format/conntrack.js';
export { formatJson } from './format/json.js';
export { formatEcs, ECS_VERSION } from './format/ecs.js';
export { communityId } from './format/community-id.js';
export { formatVyos } from './format/vyos.js';
export { loadConfig, ConfigError, type Config } from './config.js';
export type { Notices, WireBatch } from './wire.js';
export { queryStore, parseTime, LookupError, type StoreLookup, type LookupBy, type StoreRecord, type StoreFound } from './store-query.js';
