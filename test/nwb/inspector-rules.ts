// nwbinspector cannot run here, so files rigd writes are held to the rules of its checks that can fire
// on them (nwbinspector's checks/_time_series.py, _tables.py, _general.py, _nwbfile_metadata.py):
// violations() lists every one found.
import h5wasm from "h5wasm/node";

type Obj = InstanceType<typeof h5wasm.Group> | InstanceType<typeof h5wasm.Dataset>;
const TIME_SERIES = /(TimeSeries|MicroscopySeries|MicroscopyResponseSeries|AnnotationSeries)$/;
const PLACEHOLDERS = ["no description", "no desc", "none", "placeholder"];

export function violations(f: InstanceType<typeof h5wasm.File>): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const obj = f.get(path) as Obj;
    const name = path.split("/").pop()!;
    if (name.includes(":") || name.includes("\\")) found.push(`${path}: name has ':' or '\\'`);
    const description = obj.attrs["description"]?.value;
    if (typeof description === "string" && (description.trim() === "" || PLACEHOLDERS.includes(description.toLowerCase().replace(/\.+$/, "")))) {
      found.push(`${path}: placeholder description '${description}'`);
    }
    const type = obj.attrs["neurodata_type"]?.value as string | undefined;
    if (type && TIME_SERIES.test(type)) checkSeries(path, found);
    // check_empty_table (_tables.py): every DynamicTable (it has colnames and an id column) needs a row.
    const id = obj instanceof h5wasm.Group && obj.attrs["colnames"] ? (f.get(`${path}/id`) as InstanceType<typeof h5wasm.Dataset> | null) : null;
    if (id?.shape?.[0] === 0) found.push(`${path}: table has no rows`);
    if (obj instanceof h5wasm.Group) for (const k of obj.keys()) if (!f.get_link(`${path === "/" ? "" : path}/${k}`) && path !== "/specifications") walk(`${path === "/" ? "" : path}/${k}`);
  };
  const checkSeries = (path: string, out: string[]) => {
    const data = f.get(`${path}/data`) as InstanceType<typeof h5wasm.Dataset>;
    const shape = data.shape!;
    if (shape[0] === 0) out.push(`${path}: no data`);
    if (shape.slice(1).some((n) => n > shape[0]!)) out.push(`${path}: time is not the longest axis of ${JSON.stringify(shape)}`);
    const unit = data.attrs["unit"]?.value;
    if (!unit) out.push(`${path}: data has no unit`);
    const resolution = data.attrs["resolution"]?.value as number;
    if (!(resolution === -1 || resolution > 0)) out.push(`${path}: resolution ${resolution}`);
    const ts = f.get(`${path}/timestamps`) as InstanceType<typeof h5wasm.Dataset> | null;
    if (ts) {
      const t = Array.from(ts.value as Float64Array);
      if (t.length !== shape[0]) out.push(`${path}: ${t.length} timestamps for ${shape[0]} samples`);
      if (t.some((x) => Number.isNaN(x))) out.push(`${path}: NaN timestamps`);
      if (t.some((x, i) => i > 0 && x < t[i - 1]!)) out.push(`${path}: timestamps not ascending`);
      if (t[0]! < 0) out.push(`${path}: first timestamp negative`);
      const diffs = new Set(t.slice(1).map((x, i) => (x - t[i]!).toFixed(9)));
      if (t.length > 2 && diffs.size === 1) out.push(`${path}: regular timestamps should be starting_time + rate`);
    } else {
      const start = f.get(`${path}/starting_time`) as InstanceType<typeof h5wasm.Dataset>;
      const rate = start.attrs["rate"]!.value as number;
      if (!(rate > 0.01)) out.push(`${path}: rate ${rate}`);
      if ((start.value as number) < 0) out.push(`${path}: negative starting_time`);
    }
  };
  walk("/");
  // NWBFile and Subject metadata (DANDI raises these to critical).
  const text = (p: string) => (f.get(p) as InstanceType<typeof h5wasm.Dataset> | null)?.value;
  for (const p of ["general/experiment_description", "general/institution", "general/keywords", "general/experimenter"]) if (!text(p)) found.push(`/${p} missing`);
  for (const e of (text("general/experimenter") as string[]) ?? []) if (!/^([\w\s\-.']+),\s+([\w\s\-.']+)$/.test(e)) found.push(`experimenter '${e}' is not 'Last, First'`);
  // check_subject_species_form (fullmatch of a binomial or an NCBI taxonomy IRI), check_subject_sex (XO/XX for
  // C. elegans, else M/F/O/U), check_subject_age with check_subject_proper_age_range (a duration with decimals,
  // or a range "lower/upper" or "lower/" whose upper bound is longer).
  const species = String(text("general/subject/species"));
  if (!/^(?:[A-Z][a-z]* [a-z]+|http:\/\/purl\.obolibrary\.org\/obo\/NCBITaxon_\d+)$/.test(species)) found.push(`species '${species}' is not a Latin binomial or an NCBI taxonomy IRI`);
  const sex = String(text("general/subject/sex"));
  const worm = species === "Caenorhabditis elegans" || species === "C. elegans";
  if (!(worm ? ["XO", "XX"] : ["M", "F", "O", "U"]).includes(sex)) found.push(`sex '${sex}' is not ${worm ? "XO/XX" : "M/F/O/U"}`);
  const age = String(text("general/subject/age"));
  const duration = /^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$/;
  const [lower = "", upper, ...more] = age.split("/");
  const range = upper !== undefined && more.length === 0 && duration.test(lower) && (upper === "" || duration.test(upper));
  if (!duration.test(age) && !range) found.push(`age '${age}' is not an ISO 8601 duration or range`);
  // Ordered as isodate would: each unit at its length (a month 30.44 days, a year 365.25), the time part after T.
  const seconds = (d: string) => {
    const [date = "", time = ""] = d.slice(1).split("T");
    const n = (text: string, unit: string) => Number(new RegExp(`([\\d.]+)${unit}`).exec(text)?.[1] ?? 0);
    return (n(date, "Y") * 365.25 + n(date, "M") * 30.44 + n(date, "W") * 7 + n(date, "D")) * 86400 + n(time, "H") * 3600 + n(time, "M") * 60 + n(time, "S");
  };
  if (range && upper !== "" && seconds(upper!) <= seconds(lower)) found.push(`age range '${age}' does not increase`);
  if (Date.parse(String(text("session_start_time"))) >= Date.now()) found.push("session_start_time is in the future");
  for (const p of ((f.get("processing") as InstanceType<typeof h5wasm.Group>).keys())) {
    if (!["ophys", "ecephys", "icephys", "behavior", "misc", "ogen", "retinotopy"].includes(p)) found.push(`processing module '${p}'`);
  }
  return found;
}
