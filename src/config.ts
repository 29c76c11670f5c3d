/**
 * The configuration: the JSON that VyOS writes for `set system conntrack
 * log ...`, accepted unchanged, plus ctlogd's own keys; what the rest of
 * ctlogd imports. Its parts, one job each, are in config/: rules.ts (what
 * a value may be), schema.ts (every key, and the key table's export),
 * load.ts (file < environment < flags), across.ts (rules across keys),
 * error.ts (ConfigError), file.ts (reads the file), json.ts (its JSON
 * parser).
 */
export { ConfigError } from './config/error.js';
export { loadConfig, loadConfigAsync, type LoadOptions } from './config/load.js';
export { netnsPath, parseListen, type Listen } from './config/rules.js';
export { configKeys, DEFAULT_CONFIG, type Config, type ConfigKey, type EventConfig, type OutputConfig } from './config/schema.js';
