// `rigd acquire`: one session from a rig profile into an NWB file, with a live status line (or one JSON
// object per second with --json), stopped by --duration, --frames, SIGINT or SIGTERM.
import { resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { describeLosses, Session, type SessionStatus, sessionWarnings } from "../../acquisition/session.js";
import { describeTrouble, rejectedTotal } from "../../acquisition/devices.js";
import { formatConfigError, loadRigProfile, loadSessionFile, mergeSession, type SessionPart } from "../../config/index.js";
import { checkOutput, OutputRefused } from "../../acquisition/output.js";
import { SEXES } from "../../nwb/subject-rules.js";
import { openRig, type RunningRig } from "../running-rig.js";
import { stopSignals } from "../stop-signals.js";

interface AcquireArgs {
  profile: string;
  session?: string;
  out: string;
  duration?: string;
  frames?: number;
  force: boolean;
  json: boolean;
  "session-description"?: string;
  experimenter?: string[];
  "subject-id"?: string;
  species?: string;
  sex?: string;
  age?: string;
}

/** "30s", "2m", "500ms" or a plain number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--duration: expected a time such as 30s, 2m or 500ms, found '${text}'`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
}

class UsageError extends Error {}

export const acquireCommand: CommandModule<object, AcquireArgs> = {
  command: "acquire",
  describe: "Record one session from a rig profile into an NWB file",
  builder: (yargs: Argv) =>
    yargs
      .option("profile", { type: "string", demandOption: true, describe: "Rig profile (YAML)" })
      .option("session", { type: "string", describe: "Session metadata (YAML): subject, experimenter, description" })
      .option("out", { type: "string", demandOption: true, describe: "NWB file to write" })
      .option("duration", { type: "string", describe: "Stop after this long, e.g. 30s or 5m" })
      .option("frames", { type: "number", describe: "Stop once every series holds this many frames (volumes, for a volumetric series)" })
      .option("force", { type: "boolean", default: false, describe: "Replace an existing output file" })
      .option("json", { type: "boolean", default: false, describe: "One JSON status object per second, and a JSON summary" })
      .option("session-description", { type: "string", describe: "Overrides the session file's" })
      .option("experimenter", { type: "string", array: true, describe: "'Last, First' (repeatable)" })
      .option("subject-id", { type: "string" })
      .option("species", { type: "string", describe: "Latin binomial, e.g. 'Mus musculus'" })
      .option("sex", { type: "string", choices: SEXES, describe: "M, F, O or U; XO or XX for C. elegans" })
      .option("age", { type: "string", describe: "ISO 8601 duration, e.g. P90D" })
      .conflicts("duration", "frames") as unknown as Argv<AcquireArgs>,
  handler: async (args) => {
    try {
      const summary = await acquire(args);
      // A session that stopped on its own still has a summary (what the file holds): a script reads it, a
      // person reads the one line on stderr.
      for (const w of summary.warnings) process.stderr.write(`warning: ${w}\n`);
      if (args.json) process.stdout.write(`${JSON.stringify({ summary })}\n`);
      else if (!summary.error) process.stdout.write(`${summary.line}\n`);
      if (summary.error) {
        process.stderr.write(`rigd acquire: ${summary.error}\n`);
        process.exitCode = 1;
      }
    } catch (e) {
      process.stderr.write(`rigd acquire: ${(e as Error).message}\n`);
      process.exitCode = e instanceof UsageError ? 2 : 1;
    }
  },
};

/** What a session left: the summary line, status as the file holds it, and why it stopped on its own, if it did. */
interface Summary {
  line: string;
  status: SessionStatus;
  out: string;
  /** Series nwbinspector will call too short (fewer samples than pixels along an axis). */
  warnings: string[];
  error?: string;
}

async function acquire(args: AcquireArgs): Promise<Summary> {
  const profile = await loadRigProfile(args.profile);
  if (!profile.ok) throw new UsageError(`invalid profile:\n${profile.errors.map(formatConfigError).join("\n")}`);
  let fromFile: SessionPart | undefined;
  if (args.session) {
    const file = await loadSessionFile(args.session);
    if (!file.ok) throw new UsageError(`invalid session file:\n${file.errors.map(formatConfigError).join("\n")}`);
    fromFile = file.value;
  }
  const subject = { subject_id: args["subject-id"], species: args.species, sex: args.sex, age: args.age };
  const flags = {
    session_description: args["session-description"],
    experimenter: args.experimenter,
    ...(Object.values(subject).some((v) => v !== undefined) ? { subject } : {}),
  } as SessionPart;
  const metadata = mergeSession(fromFile, flags);
  if (!metadata.ok) {
    // Nothing given for them at all: say in one line where the session's subject and description come from.
    const missing = metadata.errors.filter((e) => e.message.endsWith("found nothing (the key is missing)"));
    if (!args.session && missing.length === metadata.errors.length) {
      throw new UsageError(`session metadata missing (${missing.map((e) => e.path).join(", ")}): give --session FILE.yaml (like examples/session.yaml), or --session-description, --subject-id, --species, --sex and --age`);
    }
    throw new UsageError(`session metadata:\n${metadata.errors.map(formatConfigError).join("\n")}`);
  }
  const stopAfterMs = args.duration === undefined ? undefined : parseDuration(args.duration);
  if (args.frames !== undefined && !(Number.isInteger(args.frames) && args.frames > 0)) throw new UsageError(`--frames: expected a whole number of frames ≥ 1, found '${args.frames}'`);
  const out = resolve(args.out);
  try {
    checkOutput(out, args.out, args.force, { out: "--out", force: "--force" });
  } catch (e) {
    throw e instanceof OutputRefused ? new UsageError(e.message) : e;
  }

  let running: RunningRig | undefined;
  let session: Session | undefined;
  const statusShown = process.stdout.isTTY && !args.json;
  // A line said on a terminal clears the status line first, which the next tick draws again below it.
  const log = (line: string) => {
    if (statusShown) process.stdout.write("\r\x1b[K");
    process.stderr.write(`${line}\n`);
  };
  const signals = stopSignals(log);
  try {
    running = await openRig(profile.value);
    const { rig, sims } = running;
    session = await Session.start({
      profile: profile.value,
      metadata: metadata.value,
      out,
      overwrite: args.force,
      devices: rig,
      log,
      ...(args.frames === undefined ? {} : { samplesPerSeries: args.frames }),
    });
    void session.filled.then(signals.request);
    void session.mustStop.then(signals.request);
    sims?.startScanners();

    const live = session;
    const ticker = setInterval(() => {
      const s = live.status();
      if (args.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else if (statusShown) process.stdout.write(`\r${statusLine(s)}   `);
    }, 1000);
    const timer = stopAfterMs === undefined ? undefined : setTimeout(signals.request, stopAfterMs);
    await signals.stopped;
    sims?.stopScanners();
    clearInterval(ticker);
    if (timer) clearTimeout(timer);
    if (statusShown) process.stdout.write("\n");
    const report = await live.stop().catch((e: Error) => e);
    // After the drain: what the file holds, not what had been written when stop was asked for.
    const status = live.status();
    // A failed write: stop() says what failed and what the file holds; status counts the same.
    const warnings = sessionWarnings(profile.value, status.samples);
    if (report instanceof Error) return { out, status, line: report.message, warnings, error: report.message };
    const frames = Object.entries(report.samples).filter(([name]) => name in status.samples);
    // A series that never got a sample is not in the file (an empty series fails nwbinspector): say which.
    const empty = report.empty.filter((name) => name in status.samples);
    const unused = report.unused.length ? `; not in the file, as no recorded series uses them: ${report.unused.join(", ")}` : "";
    const trouble = describeTrouble(status.devices);
    // Not the session's loss, but frames that reached rigd and are not in the file: said, as everything is.
    const before = status.frames_before_start;
    const early = before ? `; ${before} frame${before === 1 ? "" : "s"} from before the start not recorded (a producer already streaming)` : "";
    const line = `${out}: ${frames.map(([n, k]) => `${n} ${k}`).join(", ") || "no"} samples${empty.length ? ` (none for ${empty.join(", ")}, so not in the file)` : ""}${unused}; ${describeLosses(status.losses)}${early}${trouble ? `; ${trouble}` : ""}; ${report.events} event${report.events === 1 ? "" : "s"}; ${status.elapsed_s.toFixed(1)} s${latencyText(status)}`;
    return {
      out,
      status: { ...status, samples: Object.fromEntries(frames) },
      line,
      warnings,
      // Stopped on its own (a nearly full disk) with the file closed: the summary stands, the exit status is 1.
      ...(status.error ? { error: `${status.error}; ${line}` } : {}),
    };
  } finally {
    signals.dispose();
    if (session?.state === "recording") await session.stop().catch(() => undefined);
    await running?.close();
  }
}

/** "; arrival → durable p50 … p99 … ms" for the summary, when any sample was timed. */
function latencyText(s: SessionStatus): string {
  const d = s.latency_ms.durable;
  return d ? `; arrival to durable p50 ${d.p50.toFixed(0)} ms, p99 ${d.p99.toFixed(0)} ms` : "";
}

function statusLine(s: SessionStatus): string {
  const elapsed = Math.max(s.elapsed_s, 0.001);
  const rates = Object.entries(s.samples).map(([name, n]) => `${name.replace(/^(Planar|Volumetric)MicroscopySeries/, "") || name} ${n} (${(n / elapsed).toFixed(1)}/s)`);
  const devices = Object.entries(s.devices);
  const gone = devices.filter(([, d]) => d.lost.since !== null).map(([name]) => name);
  const faults = devices.filter(([, d]) => d.fault).map(([name]) => name);
  const rejected = devices.reduce((n, [, d]) => n + rejectedTotal(d), 0);
  const trouble = `${gone.length ? `  gone: ${gone.join(", ")}` : ""}${faults.length ? `  fault: ${faults.join(", ")}` : ""}${rejected ? `  rejected ${rejected}` : ""}`;
  return `${s.elapsed_s.toFixed(0).padStart(4)} s  ${rates.join("  ")}  ${(s.written_bytes / 1e6 / elapsed).toFixed(1)} MB/s  lost ${s.dropped}  queue ${(s.queue_bytes / 1e6).toFixed(1)} MB  file ${(s.file_bytes / 1e6).toFixed(0)} MB  disk ${s.disk_free_MB} MB free${s.minutes_left === null ? "" : ` (${s.minutes_left} min)`}${s.latency_ms.durable ? `  durable p99 ${s.latency_ms.durable.p99.toFixed(0)} ms` : ""}${trouble}`;
}
