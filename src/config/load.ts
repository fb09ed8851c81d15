// Loading rig profiles and session files: read the file (bounded), parse the YAML keeping positions, check
// its shape against the schema, then the rules across values. All errors of a file come back at once,
// in the order they appear in it, each with file:line:col.
import { readFile, stat } from "node:fs/promises";
import type { z } from "zod";
import { crossCheck } from "./cross-checks.js";
import { formatConfigError, formatPath, type Checked, type ConfigError, type Problem } from "./errors.js";
import { RigProfile } from "./rig-profile.js";
import { SessionPart } from "./session.js";
import { parseYaml, sizeError } from "./yaml-source.js";
import { validate } from "./validate.js";

/** Past this many, more errors of one file are noise (usually one mistake seen many times). */
const MAX_ERRORS = 50;

export function parseRigProfile(text: string | Uint8Array, source: string): Checked<RigProfile> {
  return parseConfig(text, source, RigProfile, crossCheck);
}

export function loadRigProfile(file: string): Promise<Checked<RigProfile>> {
  return loadConfig(file, parseRigProfile);
}

/** A --session file: any part of the session metadata; mergeSession completes it with the flags. */
export function parseSessionFile(text: string | Uint8Array, source: string): Checked<SessionPart> {
  return parseConfig(text, source, SessionPart);
}

export function loadSessionFile(file: string): Promise<Checked<SessionPart>> {
  return loadConfig(file, parseSessionFile);
}

function parseConfig<S extends z.ZodType>(
  text: string | Uint8Array,
  source: string,
  schema: S,
  crossChecks?: (value: z.output<S>) => Problem[],
): Checked<z.output<S>> {
  const parsed = parseYaml(typeof text === "string" ? new TextEncoder().encode(text) : text, source);
  if (!parsed.ok) return { ok: false, errors: inFileOrder(parsed.errors) };
  const { data, locate } = parsed.yaml;
  const validated = validate(schema, data);
  // Rules across values need the shape right, so they run once the schema passes.
  const problems = validated.ok ? (crossChecks?.(validated.value) ?? []) : validated.problems;
  if (validated.ok && problems.length === 0) return validated;
  const errors = problems.map((p) => ({ source, ...locate(p.path, p.at), path: formatPath(p.path), message: p.message }));
  return { ok: false, errors: inFileOrder(errors) };
}

async function loadConfig<T>(file: string, parse: (bytes: Uint8Array, source: string) => Checked<T>): Promise<Checked<T>> {
  const fileError = (message: string): Checked<T> => ({ ok: false, errors: [{ source: file, path: "", message }] });
  let bytes: Uint8Array;
  try {
    const info = await stat(file);
    if (!info.isFile()) return fileError("expected a YAML file, found a directory or a device");
    // Checked before reading: a 50 MB file is refused without being read.
    const tooBig = sizeError(file, info.size);
    if (tooBig) return { ok: false, errors: [tooBig] };
    bytes = await readFile(file);
  } catch (error) {
    return fileError(`cannot read the file: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (error as Error).message}`);
  }
  return parse(bytes, file);
}

function inFileOrder(errors: ConfigError[]): ConfigError[] {
  const unique = [...new Map(errors.map((e) => [formatConfigError(e), e])).values()];
  unique.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  if (unique.length <= MAX_ERRORS) return unique;
  const { source } = unique[0]!;
  return [...unique.slice(0, MAX_ERRORS), { source, path: "", message: `${unique.length - MAX_ERRORS} more errors not shown` }];
}
