// How NWB's Subject is written so that nwbinspector 0.5 (check_subject_species_form, check_subject_age,
// check_subject_proper_age_range, check_subject_sex) and DANDI take it as it is. One place for the writer's
// model and the session files' schema; pure rules, no HDF5.

/** A Latin binomial ("Mus musculus") or an NCBI taxonomy term IRI (http://purl.obolibrary.org/obo/NCBITaxon_10090). */
export const SPECIES_FORM = /^(?:[A-Z][a-z]* [a-z]+|http:\/\/purl\.obolibrary\.org\/obo\/NCBITaxon_\d+)$/;
export const SPECIES_EXPECTED = 'a Latin binomial such as "Mus musculus", or an NCBI taxonomy IRI such as http://purl.obolibrary.org/obo/NCBITaxon_10090';

/** An ISO 8601 duration whose numbers may have decimals (P90D, P1.5Y, PT12H). */
const DURATION = /^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$/;
export const AGE_EXPECTED = "an ISO 8601 duration such as P90D or P1.5Y, or a range such as P90D/P120D, or P90D/ (90 days or older)";

/** A duration in days, months and years at their mean lengths: enough to order the bounds of an age range. */
function days(duration: string): number {
  const [date = "", time = ""] = duration.slice(1).split("T");
  const part = (text: string, unit: string) => Number(new RegExp(`([\\d.]+)${unit}`).exec(text)?.[1] ?? 0);
  return part(date, "Y") * 365.25 + part(date, "M") * 30.44 + part(date, "W") * 7 + part(date, "D") + (part(time, "H") * 3600 + part(time, "M") * 60 + part(time, "S")) / 86400;
}

/** A duration, or a range of two whose upper bound is longer or left empty (unknown). */
export function isAge(age: string): boolean {
  const [lower, upper, ...more] = age.split("/");
  if (upper === undefined) return DURATION.test(age);
  return more.length === 0 && DURATION.test(lower!) && (upper === "" || (DURATION.test(upper) && days(upper) > days(lower!)));
}

export const SEXES = ["M", "F", "U", "O", "XO", "XX"] as const;

/** What `sex` should be for `species` when it does not fit, or undefined: C. elegans are XO (male) or XX (hermaphrodite), other species M, F, O or U. */
export function sexMismatch(species: string, sex: string): string | undefined {
  const worm = species === "Caenorhabditis elegans" || species === "C. elegans";
  if (worm === (sex === "XO" || sex === "XX")) return undefined;
  return worm ? `expected XO (male) or XX (hermaphrodite) for ${species}` : "expected M, F, O or U (XO and XX are for C. elegans)";
}
