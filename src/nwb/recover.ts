// `rigd recover`: makes a file that a crash left open (the writer killed, the machine down) consistent and
// marks it closed. It works on a copy and puts the copy in place only once the copy passes its check; the
// file as the crash left it stays beside it as FILE.orig, since rows recover cuts (a frame without its
// timestamp) may still matter to someone. Synchronous h5wasm on the calling thread: for the CLI.
import { closeSync, constants, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import h5wasm from "h5wasm/node";
import { File, type Dataset, type Group, loadHdf5, readText, writeRows, writeText } from "./hdf5.js";
import { freeBytes, removeStaleReserves } from "./disk.js";
import { isHdf5File, WriteLock } from "./lock.js";
import { NwbInputError } from "./errors.js";
import { EVENTS_NAME } from "./model.js";
import { CLOSING_NOTE_PATH, SOURCE_SCRIPT, createEventRecord, writeClosingNote } from "./nwb-file.js";
import { isoNow } from "./time.js";

/** Why recover left a file alone. */
export type RefusalReason = "missing" | "not-rigd" | "closed" | "in-use" | "orig-exists" | "no-room";

/** Bytes as whole MB (10^6), for messages. */
const mb = (bytes: number) => Math.ceil(bytes / 1e6);

/** recover() left the file as it was; the message says why, for a person. */
export class RecoverRefused extends Error {
  override name = "RecoverRefused";
  constructor(
    message: string,
    readonly reason: RefusalReason,
  ) {
    super(message);
  }
}

export interface SeriesRecovery {
  path: string;
  neurodata_type: string;
  /** Samples in the recovered file. */
  samples: number;
  /** Rows the crash left: in data, and in the series' own timestamps when it has them. */
  found: { data: number; timestamps?: number };
  /** Session time (s) of the first and the last sample kept; absent when there is none. */
  span_s?: [number, number];
  /** What recover changed, in words; empty when the series was consistent. */
  repairs: string[];
}

export interface RecoveryReport {
  path: string;
  /** The file as the crash left it. */
  original: string;
  /** When the file was last written — its last checkpoint — as an ISO date and in session time (s). */
  lastCheckpoint: { at: string; session_s: number };
  series: SeriesRecovery[];
  /** Entries of the event record: rows found, of which unreadable (text lost), kept (before recover's own), and what was changed. */
  events: { found: number; unreadable: number; kept: number; repairs: string[] };
  /** Series with no sample: h5wasm cannot delete a link, so they stay (nwbinspector flags them). */
  empty: string[];
  /** Session time (s) of the event recover adds: the latest sample or event in the file. */
  ended_s: number;
}

/** Types of the growing series rigd writes (the event record, an AnnotationSeries, is handled apart). */
const SERIES_TYPES = new Set(["TimeSeries", "PlanarMicroscopySeries", "VolumetricMicroscopySeries", "MicroscopyResponseSeries"]);

/**
 * Recovers a file rigd left open: per series, data and timestamps cut to the same length and to the rows
 * whose timestamps were written (a half-written row reads as fill: a timestamp not after the one before);
 * the event record cut to entries whose text and time were both written, and sorted by time; an event
 * "recovered" added at the latest time in the file; the file marked closed (/general/data_collection).
 * Throws RecoverRefused for a file rigd did not write, one closed already, one a writer still holds, or
 * when FILE.orig exists; any other error leaves the original as it was.
 */
export async function recover(path: string): Promise<RecoveryReport> {
  await loadHdf5();
  if (!existsSync(path)) throw new RecoverRefused(`${path}: no such file`, "missing");
  if (!isHdf5File(path)) throw new RecoverRefused(`${path} is not an HDF5 file, so rigd did not write it`, "not-rigd");
  const original = `${path}.orig`;
  let lock: WriteLock;
  try {
    lock = WriteLock.take(path, { overwrite: true });
  } catch (e) {
    if (!(e instanceof NwbInputError)) throw e;
    throw new RecoverRefused(`${e.message}: it is still being recorded, not left by a crash`, "in-use");
  }
  // The killed writer's reserve (.NAME.rigd-reserve-PID) is of no use to anyone now.
  removeStaleReserves(dirname(path));
  try {
    const found = readLeftByCrash(path);
    if (existsSync(original)) throw new RecoverRefused(`${original} exists (the original of an earlier recovery?): move it away first`, "orig-exists");
    const { mtime: modified, size } = statSync(path);
    const work = `${path}.recovering`;
    // The repair works on a copy beside the file, so that a failure leaves the original as it was.
    const free = freeBytes(path);
    const noRoom = () =>
      new RecoverRefused(`recovering works on a copy beside the file: it needs ${mb(size)} MB free in ${dirname(path)}, which has ${mb(free)} MB; free some, or copy ${path} to a disk with room and recover it there (${path} is left as it was)`, "no-room");
    if (free < size) throw noRoom();
    try {
      copyFileSync(path, work, constants.COPYFILE_FICLONE);
    } catch (e) {
      rmSync(work, { force: true });
      if ((e as NodeJS.ErrnoException).code === "ENOSPC") throw noRoom();
      throw e;
    }
    try {
      const report = repair(work, path, original, modified, found);
      const problems = check(work, report.empty);
      if (problems.length) throw new Error(`the recovered copy failed its check (${problems.join("; ")}); ${path} is left as it was`);
      syncFile(work);
      renameSync(path, original);
      renameSync(work, path);
      syncFile(dirname(path));
      return report;
    } catch (e) {
      rmSync(work, { force: true });
      throw e;
    }
  } finally {
    lock.release();
  }
}

/** The event record's rows as found: a text is undefined where it cannot be read (see readText). */
interface EventsFound {
  texts: (string | undefined)[];
  times: Float64Array;
}

/**
 * Refuses a file without rigd's source_script, or one that says it was closed; reads its event record.
 * The events are read here, from the original opened read-only: a row that cannot be read leaves HDF5
 * holding that file open (see readText), which must not be the copy recover writes.
 */
function readLeftByCrash(path: string): EventsFound | undefined {
  const f = new File(path, "r");
  try {
    // Step by step: HDF5 fails on a path through a group that is not there.
    const script = (f.get("general") as Group | null)?.get("source_script") as Dataset | null | undefined;
    if (script?.attrs["file_name"]?.value !== SOURCE_SCRIPT) {
      throw new RecoverRefused(`${path} was not written by rigd (its /general/source_script does not name rigd): rigd recover repairs only its own files`, "not-rigd");
    }
    const note = f.get(CLOSING_NOTE_PATH) as Dataset | null;
    if (note) throw new RecoverRefused(`nothing to recover: ${path} was closed (${String(note.value)})`, "closed");
    const text = f.get(`acquisition/${EVENTS_NAME}/data`) as Dataset | null;
    if (!text) return undefined;
    return { texts: readText(text), times: (f.get(`acquisition/${EVENTS_NAME}/timestamps`) as Dataset).value as Float64Array };
  } finally {
    f.close();
  }
}

function repair(work: string, path: string, original: string, modified: Date, found: EventsFound | undefined): RecoveryReport {
  const f = new File(work, "a", { libver: ["earliest", "v110"] });
  try {
    const reference = Date.parse(String((f.get("timestamps_reference_time") as Dataset).value));
    const lastCheckpoint = { at: isoNow(modified), session_s: (modified.getTime() - reference) / 1000 };
    // Series sharing another's timestamps come after it, so they are cut to its repaired length.
    const paths = seriesPaths(f).sort((a, b) => Number(isLinked(f, a)) - Number(isLinked(f, b)));
    const series = paths.map((p) => repairSeries(f, p));
    const empty = series.filter((s) => s.samples === 0).map((s) => s.path);
    const events = repairEvents(f, found);
    const ended = Math.max(events.lastTime, ...series.map((s) => s.span_s?.[1] ?? -Infinity), 0);
    const when = isoNow();
    const cut = series.filter((s) => s.repairs.length).length;
    events.append(
      ended,
      `recovered [rigd recover] the session ended abnormally: the writer stopped without closing the file, last written ${lastCheckpoint.at} ` +
        `(session time ${lastCheckpoint.session_s.toFixed(3)} s); rigd recover made it consistent on ${when}` +
        (cut ? ` (${cut} series cut to their consistent rows; the file as the crash left it is ${basename(original)})` : ""),
    );
    writeClosingNote(
      f,
      `recovered on ${when} by rigd recover: the recording ended abnormally (the writer stopped without closing the file, last written ${lastCheckpoint.at}); ` +
        `the file holds what its last checkpoint made durable` +
        (empty.length ? `; series with no sample, which recover cannot remove: ${empty.join(", ")}` : "") +
        ".",
    );
    return { path, original, lastCheckpoint, series, events: { found: events.found, unreadable: events.unreadable, kept: events.kept, repairs: events.repairs }, empty, ended_s: ended };
  } finally {
    f.close();
  }
}

/** Paths of every growing series in /acquisition and /processing (links not followed). */
function seriesPaths(f: Group): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const g = f.get(path) as Group;
    for (const key of g.keys()) {
      const child = `${path}/${key}`;
      if (f.get_link(child)) continue;
      const obj = f.get(child);
      if (!(obj instanceof h5wasm.Group)) continue;
      const type = obj.attrs["neurodata_type"]?.value as string | undefined;
      if (type && SERIES_TYPES.has(type)) found.push(child);
      else if (type !== "AnnotationSeries") walk(child);
    }
  };
  walk("/acquisition");
  walk("/processing");
  return found;
}

const isLinked = (f: Group, series: string) => !!f.get_link(`${series}/timestamps`);

/** Rows of `t` that were written: up to the first that is not a finite time after the one before. */
function writtenTimes(t: Float64Array): number {
  for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!) || (i > 0 && !(t[i]! > t[i - 1]!))) return i;
  return t.length;
}

function repairSeries(f: Group, path: string): SeriesRecovery {
  const g = f.get(path) as Group;
  const type = String(g.attrs["neurodata_type"]!.value);
  const data = f.get(`${path}/data`) as Dataset;
  const [rows = 0, ...rowShape] = data.shape ?? [];
  const repairs: string[] = [];
  const timestamps = f.get(`${path}/timestamps`) as Dataset | null;
  let samples = rows;
  let span: [number, number] | undefined;
  let found: SeriesRecovery["found"] = { data: rows };
  if (timestamps) {
    const t = timestamps.value as Float64Array;
    const linked = isLinked(f, path);
    const written = linked ? t.length : writtenTimes(t);
    samples = Math.min(rows, written);
    if (!linked) {
      found = { data: rows, timestamps: t.length };
      if (written < t.length) repairs.push(`${t.length - written} half-written timestamps from sample ${written} on (${t[written]} after ${written ? t[written - 1] : "none"}) removed`);
      if (samples < t.length) timestamps.resize([samples]);
      if (samples < written) repairs.push(`${written - samples} timestamps past the last sample removed`);
    }
    if (samples < rows) repairs.push(`${rows - samples} samples past the last timestamp removed`);
    if (samples) span = [t[0]!, t[samples - 1]!];
  } else {
    const start = f.get(`${path}/starting_time`) as Dataset;
    const rate = start.attrs["rate"]!.value as number;
    if (rows) span = [start.value as number, (start.value as number) + (rows - 1) / rate];
  }
  if (samples < rows) data.resize([samples, ...rowShape]);
  return { path, neurodata_type: type, samples, found, ...(span ? { span_s: span } : {}), repairs };
}

/** The event record cut to entries written whole and sorted by time; `append` adds one after them. */
function repairEvents(f: Group, found: EventsFound | undefined) {
  const { text, timestamps } = found
    ? { text: f.get(`acquisition/${EVENTS_NAME}/data`) as Dataset, timestamps: f.get(`acquisition/${EVENTS_NAME}/timestamps`) as Dataset }
    : createEventRecord(f);
  const { texts, times } = found ?? { texts: [], times: new Float64Array(0) };
  // An entry is whole when both its text and its time were written: a text never written reads as "", and
  // one whose string had not reached the file (HDF5's global heap) cannot be read at all.
  const whole = Array.from({ length: Math.min(texts.length, times.length) }, (_, i) => ({ text: texts[i], time: times[i]! }));
  const entries = whole.filter((e): e is { text: string; time: number } => !!e.text && Number.isFinite(e.time));
  const kept = entries.length;
  const rows = Math.max(texts.length, times.length);
  const repairs: string[] = [];
  const unreadable = texts.filter((t) => t === undefined).length;
  if (kept < rows) repairs.push(`${rows - kept} half-written entries removed (${texts.length} texts of which ${unreadable} unreadable, ${times.length} times)`);
  const sorted = [...entries].sort((a, b) => a.time - b.time); // stable: equal times keep their order
  if (sorted.some((e, i) => e !== entries[i])) repairs.push("entries put in time order");
  // Rows from the first that changes (removed or moved) on are written anew, with recover's own entry after
  // them. Overwriting a string HDF5 cannot read fails (it frees the old one first), so the text is cut back
  // to the start of that row's chunk: whole chunks past the end are dropped, and the rows go into new ones.
  const changed = sorted.findIndex((e, i) => e !== whole[i]);
  const chunkRows = text.metadata.chunks?.[0] ?? 1;
  const first = Math.floor((changed < 0 ? kept : changed) / chunkRows) * chunkRows;
  text.resize([first]);
  timestamps.resize([first]);
  return {
    found: rows,
    unreadable,
    kept,
    repairs,
    lastTime: kept ? sorted[kept - 1]!.time : -Infinity,
    append(time: number, entry: string) {
      const rest = [...sorted.slice(first), { text: entry, time }];
      writeText(text, first, rest.map((e) => e.text));
      writeRows(timestamps, first, rest.length, [], Float64Array.from(rest, (e) => e.time));
    },
  };
}

/** What keeps the recovered copy from passing as a closed file; empty when it passes. */
function check(work: string, knownEmpty: string[]): string[] {
  const f = new File(work, "r");
  try {
    const problems: string[] = [];
    for (const p of seriesPaths(f)) {
      const rows = (f.get(`${p}/data`) as Dataset).shape![0]!;
      const ts = f.get(`${p}/timestamps`) as Dataset | null;
      if (rows === 0 && !knownEmpty.includes(p)) problems.push(`${p} has no samples`);
      if (!ts) continue;
      const t = ts.value as Float64Array;
      if (isLinked(f, p) ? rows > t.length : rows !== t.length) problems.push(`${p}: ${rows} samples, ${t.length} timestamps`);
      if (!isLinked(f, p) && writtenTimes(t) !== t.length) problems.push(`${p}: timestamps do not increase`);
    }
    const texts = readText(f.get(`acquisition/${EVENTS_NAME}/data`) as Dataset);
    const times = (f.get(`acquisition/${EVENTS_NAME}/timestamps`) as Dataset).value as Float64Array;
    if (texts.length !== times.length) problems.push(`events: ${texts.length} texts, ${times.length} times`);
    if (texts.some((t) => !t)) problems.push("events: some texts cannot be read");
    if (times.some((t, i) => i > 0 && t < times[i - 1]!)) problems.push("events are not in time order");
    if (!f.get(CLOSING_NOTE_PATH)) problems.push("not marked closed");
    return problems;
  } finally {
    f.close();
  }
}

/** fsync a file or directory: the rename that puts the copy in place must survive power loss too. */
function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
