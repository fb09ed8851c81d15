// Rig profiles and session metadata: YAML in, typed objects out, or errors a user can act on.
export * from "./rig-profile.js";
export { Subject, SessionMetadata, SessionPart, mergeSession } from "./session.js";
export { loadRigProfile, parseRigProfile, loadSessionFile, parseSessionFile } from "./load.js";
export { formatConfigError, type Checked, type ConfigError } from "./errors.js";
export { MAX_CONFIG_BYTES } from "./yaml-source.js";
export { JSON_SCHEMAS, jsonSchemaText, type ConfigKind } from "./json-schema.js";
