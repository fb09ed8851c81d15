// Session metadata: a --session file and command-line flags, merged with the flags winning.
import { describe, expect, it } from "vitest";
import { formatConfigError, loadSessionFile, mergeSession, parseSessionFile, type SessionPart } from "../../src/config/index.js";

async function sessionFile(): Promise<SessionPart> {
  const result = await loadSessionFile("test/config/fixtures/session.yaml");
  if (!result.ok) throw new Error(result.errors.map(formatConfigError).join("\n"));
  return result.value;
}

function errorsOf(result: ReturnType<typeof mergeSession>): string[] {
  return result.ok ? [] : result.errors.map(formatConfigError);
}

describe("mergeSession", () => {
  it("takes a complete session file as it is", async () => {
    const result = mergeSession(await sessionFile(), {});
    expect(result).toEqual({ ok: true, value: await sessionFile() });
  });

  it("lets flags override the file field by field, subject fields included", async () => {
    const result = mergeSession(await sessionFile(), {
      session_description: "Spontaneous activity",
      experimenter: ["Lovelace, Ada"],
      subject: { age: "P91D" },
    });
    if (!result.ok) throw new Error(errorsOf(result).join("\n"));
    expect(result.value.session_description).toBe("Spontaneous activity");
    expect(result.value.experimenter).toEqual(["Lovelace, Ada"]);
    expect(result.value.subject).toEqual({
      subject_id: "M12",
      species: "Mus musculus",
      sex: "F",
      age: "P91D",
      genotype: "Ai14 (tdTomato reporter)",
      strain: "C57BL/6J",
    });
    expect(result.value.lab).toBe("Visual Systems Lab");
  });

  it("ignores flags that were not given", async () => {
    const result = mergeSession(await sessionFile(), { lab: undefined, subject: { sex: undefined } });
    expect(result).toEqual({ ok: true, value: await sessionFile() });
  });

  it("needs no file when the flags say everything", () => {
    const flags = { session_description: "Bench test", subject: { subject_id: "M1", species: "Mus musculus", sex: "M" as const, age: "P60D" } };
    expect(mergeSession(undefined, flags)).toEqual({ ok: true, value: flags });
  });

  it("names what neither the file nor the flags gave", () => {
    expect(errorsOf(mergeSession({ subject: { subject_id: "M1", species: "Mus musculus", sex: "M" } }, {}))).toEqual([
      "session file and flags: session_description: expected text, found nothing (the key is missing)",
      "session file and flags: subject.age: expected an ISO 8601 duration such as P90D, found nothing (the key is missing)",
    ]);
  });

  it("rejects a bad flag value, naming the command line", async () => {
    expect(errorsOf(mergeSession(await sessionFile(), { subject: { species: "mouse" } }))).toEqual([
      'command line: subject.species: expected a Latin binomial such as "Mus musculus", found "mouse"',
    ]);
  });
});

describe("session files", () => {
  it("report mistakes with their position, like profiles", () => {
    const text = ["session_description: Gratings", "experimenter: Curie, Marie", "subject:", "  sex: female", "  age: 90 days", "  weight: 25 g", ""].join("\n");
    const result = parseSessionFile(text, "session.yaml");
    expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual([
      'session.yaml:2:15: experimenter: expected a list, found "Curie, Marie"',
      'session.yaml:4:8: subject.sex: expected one of "M", "F", "U", "O", found "female"',
      'session.yaml:5:8: subject.age: expected an ISO 8601 duration such as P90D, found "90 days"',
      'session.yaml:6:3: subject.weight: unknown key "weight"; expected one of subject_id, species, sex, age, description, genotype, strain',
    ]);
  });
});
