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

  it("takes the subjects nwbinspector 0.5 and DANDI take: age ranges and decimals, NCBI taxonomy IRIs, C. elegans' sexes", async () => {
    const file = await sessionFile();
    const accepted = [
      { age: "P90D/P120D" },
      { age: "P90D/" },
      { age: "P1.5Y" },
      { age: "PT36H" },
      { species: "http://purl.obolibrary.org/obo/NCBITaxon_10090" },
      { species: "Caenorhabditis elegans", sex: "XX" },
      { species: "Caenorhabditis elegans", sex: "XO" },
    ] as const;
    for (const subject of accepted) expect(errorsOf(mergeSession(file, { subject }))).toEqual([]);
  });

  it("refuses the subjects nwbinspector flags, saying what it expected", async () => {
    const file = await sessionFile();
    const refused: [SessionPart["subject"], string][] = [
      [{ species: "Mus musculus domesticus" }, 'subject.species: expected a Latin binomial such as "Mus musculus", or an NCBI taxonomy IRI such as http://purl.obolibrary.org/obo/NCBITaxon_10090, found "Mus musculus domesticus"'],
      [{ species: "https://www.ncbi.nlm.nih.gov/Taxonomy/Browser/wwwtax.cgi?id=10090" }, 'subject.species: expected a Latin binomial such as "Mus musculus", or an NCBI taxonomy IRI such as http://purl.obolibrary.org/obo/NCBITaxon_10090, found "https://www.ncbi.nlm.nih.gov/Taxonomy/Br…"'],
      [{ age: "P120D/P90D" }, 'subject.age: expected an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older), found "P120D/P90D"'],
      [{ age: "P1.5" }, 'subject.age: expected an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older), found "P1.5"'],
      [{ age: "/P90D" }, 'subject.age: expected an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older), found "/P90D"'],
      [{ species: "Caenorhabditis elegans", sex: "M" }, 'subject.sex: expected XO (male) or XX (hermaphrodite) for Caenorhabditis elegans, found "M"'],
      [{ sex: "XX" }, 'subject.sex: expected M, F, O or U (XO and XX are for C. elegans), found "XX"'],
    ];
    // The flags are checked first, field by field (the sex against the species once they are merged).
    for (const [subject, error] of refused) expect(errorsOf(mergeSession(file, { subject }))).toEqual([error.startsWith("subject.sex") ? `session file and flags: ${error}` : `command line: ${error}`]);
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
      "session file and flags: subject.age: expected an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older), found nothing (the key is missing)",
    ]);
  });

  it("rejects a bad flag value, naming the command line", async () => {
    expect(errorsOf(mergeSession(await sessionFile(), { subject: { species: "mouse" } }))).toEqual([
      'command line: subject.species: expected a Latin binomial such as "Mus musculus", or an NCBI taxonomy IRI such as http://purl.obolibrary.org/obo/NCBITaxon_10090, found "mouse"',
    ]);
  });
});

describe("session files", () => {
  it("report mistakes with their position, like profiles", () => {
    const text = ["session_description: Gratings", "experimenter: Curie, Marie", "subject:", "  sex: female", "  age: 90 days", "  weight: 25 g", ""].join("\n");
    const result = parseSessionFile(text, "session.yaml");
    expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual([
      'session.yaml:2:15: experimenter: expected a list, found "Curie, Marie"',
      'session.yaml:4:8: subject.sex: expected one of "M", "F", "U", "O", "XO", "XX", found "female"',
      'session.yaml:5:8: subject.age: expected an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older), found "90 days"',
      'session.yaml:6:3: subject.weight: unknown key "weight"; expected one of subject_id, species, sex, age, description, genotype, strain',
    ]);
  });
});
