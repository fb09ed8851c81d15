// JSON Schemas of the two config files, generated from the zod schemas so they cannot drift. Editors use
// them for completion and hover (a profile's first line: `# yaml-language-server: $schema=…`); the copies
// committed under schema/ are checked against these by the tests.
import { z } from "zod";
import { RigProfile } from "./rig-profile.js";
import { SessionPart } from "./session.js";

export const JSON_SCHEMAS = {
  rig: { file: "schema/rig-profile.schema.json", schema: RigProfile },
  session: { file: "schema/session.schema.json", schema: SessionPart },
} as const;

export type ConfigKind = keyof typeof JSON_SCHEMAS;

/** The JSON Schema of a config file, as the text committed under schema/. */
export function jsonSchemaText(kind: ConfigKind): string {
  // "input": what a user writes, so fields with defaults are optional.
  return `${JSON.stringify(z.toJSONSchema(JSON_SCHEMAS[kind].schema, { io: "input" }), null, 2)}\n`;
}
