// Errors a caller can act on: they name the object, what was expected and what came.
import { z } from "zod";

/** Bad input to the writer. Nothing already written is affected and the file stays valid. */
export class NwbInputError extends Error {
  override name = "NwbInputError";
}

/** Parses `value` with `schema`, or throws an NwbInputError naming `what` and every problem found. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "";
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  throw new NwbInputError(`${what}: ${problems.join("; ")}`);
}
