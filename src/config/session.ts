// Session metadata: what changes every day (subject, experimenter, description), kept out of the rig
// profile. It comes from a --session file and/or command-line flags; flags win. Field names are those of
// NWBFile and Subject in NWB core 2.7.0.
import { z } from "zod";
import { text } from "./fields.js";
import { formatPath, type Checked, type ConfigError, type Problem } from "./errors.js";
import { validate } from "./validate.js";
import { AGE_EXPECTED, SEXES, SPECIES_EXPECTED, SPECIES_FORM, isAge, sexMismatch } from "../nwb/subject-rules.js";

const SPECIES = `expected ${SPECIES_EXPECTED}`;
const AGE = `expected ${AGE_EXPECTED}`;
const EXPERIMENTER = "expected a name written \"Last, First\"";

export const Subject = z.strictObject({
  subject_id: text,
  species: z.string({ error: SPECIES }).regex(SPECIES_FORM, { error: SPECIES }),
  sex: z.enum(SEXES),
  age: z.string({ error: AGE }).refine(isAge, { error: AGE }),
  description: text.optional(),
  genotype: text.optional(),
  strain: text.optional(),
});
export type Subject = z.output<typeof Subject>;

const sessionFields = {
  session_description: text,
  experimenter: z.array(z.string({ error: EXPERIMENTER }).regex(/^[^,]+, [^,]+$/, { error: EXPERIMENTER }), { error: "expected a list" }).optional(),
  lab: text.optional(),
  institution: text.optional(),
  experiment_description: text.optional(),
  session_id: text.optional(),
  keywords: z.array(text, { error: "expected a list" }).optional(),
};

export const SessionMetadata = z.strictObject({ ...sessionFields, subject: Subject }).superRefine(({ subject }, ctx) => {
  const mismatch = sexMismatch(subject.species, subject.sex);
  if (mismatch) ctx.addIssue({ code: "custom", path: ["subject", "sex"], message: mismatch });
});
export type SessionMetadata = z.output<typeof SessionMetadata>;

/** What a --session file or the flags give: any part of the metadata. Merged, they must be complete. */
export const SessionPart = z
  .strictObject({ ...sessionFields, session_description: text.optional(), subject: Subject.partial().optional() })
  .meta({ title: "rigd session metadata", description: "Subject and session metadata for one recording (rigd --session FILE)" });
export type SessionPart = z.output<typeof SessionPart>;

/**
 * The session metadata from a --session file (already checked, see loadSessionFile) and command-line
 * flags, the flags winning field by field, subject fields included. Flags left undefined do not override.
 */
export function mergeSession(fromFile: SessionPart | undefined, fromFlags: SessionPart): Checked<SessionMetadata> {
  const flags = validate(SessionPart, fromFlags);
  if (!flags.ok) return { ok: false, errors: flags.problems.map((p) => toError("command line", p)) };
  const { subject: fileSubject, ...fileFields } = fromFile ?? {};
  const { subject: flagSubject, ...flagFields } = definedOnly(flags.value);
  const subject = { ...fileSubject, ...definedOnly(flagSubject ?? {}) };
  const merged = validate(SessionMetadata, { ...fileFields, ...flagFields, ...(fileSubject || flagSubject ? { subject } : {}) });
  if (!merged.ok) return { ok: false, errors: merged.problems.map((p) => toError("session file and flags", p)) };
  return { ok: true, value: merged.value };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function toError(source: string, problem: Problem): ConfigError {
  return { source, path: formatPath(problem.path), message: problem.message };
}
