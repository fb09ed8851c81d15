// Crash trials: records the simulated two-photon rig with `rigd acquire` for 30 s, kills it with SIGKILL at a
// random moment (2–28 s into the session), recovers the file with `rigd recover`, and prints per trial what
// the crash cost: per series the frames in the file and the latest frame's time, and the seconds lost beyond
// the last second (kill time − 1 s − latest time, floored at 0) for frames, telemetry and events; whether
// recover succeeded and the file passes nwbinspector's rules (test/nwb/inspector-rules.ts, built with the
// bench); and the helper processes (socat) and rigd-pty-* folders the killed rigd left behind, which the
// bench then removes. Some trials (all with --load) run 3 busy processes beside rigd on the 2-core machine.
//
//   npm run crash -- --trials N [--load] [--dir DIR] [--keep]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import h5wasm from "h5wasm/node";
import pidtree from "pidtree";
import type { RecoveryReport } from "../src/nwb/recover.js";
import { violations } from "../test/nwb/inspector-rules.js";

const { values: args } = parseArgs({
  options: {
    trials: { type: "string", default: "5" },
    load: { type: "boolean", default: false },
    dir: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const trials = Number(args.trials);
if (!(Number.isInteger(trials) && trials >= 1)) throw new Error(`--trials: expected a whole number ≥ 1, got ${args.trials}`);
const root = fileURLToPath(new URL("../../", import.meta.url));
const rigd = join(root, "dist/src/cli/main.js");
const dir = args.dir ?? mkdtempSync(join(tmpdir(), "rigd-crash-"));
const SESSION_S = 30;
/** nwbinspector requires more frames than pixels along an axis: 512×512 frames at 30 Hz need 17 s. */
const SHORT = "time is not the longest axis";

/** A process that survived the trial: pid and command line. */
interface Leftover {
  pid: number;
  command: string;
}

interface Trial {
  k: number;
  loaded: boolean;
  kill_s?: number;
  /** Why the trial did not end in a recovered, consistent file. */
  error?: string;
  frames: { series: string; samples: number; last_s: number; lost_s: number }[];
  telemetry?: { last_s: number; lost_s: number };
  /** In the file (recover's own aside); handed to the writer by the last status a second or more before the kill. */
  events?: { count: number; handed: number; last_s: number | undefined; lost_s: number | undefined };
  violations: string[];
  leftovers: Leftover[];
  ptyDirs: string[];
}

const commandOf = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return undefined;
  }
};

/** Three busy loops, for two cores: rigd gets a share of a busy machine. */
const hogs = (): ChildProcess[] => Array.from({ length: 3 }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

const lost = (kill: number, last: number) => Math.max(0, kill - 1 - last);

async function trial(k: number, loaded: boolean): Promise<Trial> {
  const out = join(dir, `trial-${k}.nwb`);
  const result: Trial = { k, loaded, frames: [], violations: [], leftovers: [], ptyDirs: [] };
  const load = loaded ? hogs() : [];
  try {
    const child = spawn(process.execPath, [rigd, "acquire", "--profile", join(root, "profiles/sim-2p.yaml"), "--session", join(root, "examples/session.yaml"), "--out", out, "--duration", `${SESSION_S}s`, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    // Its status each second: how many events the session had handed to the writer by then.
    const statuses: { elapsed_s: number; events: number }[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const status = JSON.parse(line) as { elapsed_s?: number; events?: number };
      if (status.elapsed_s !== undefined && status.events !== undefined) statuses.push({ elapsed_s: status.elapsed_s, events: status.events });
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    // The file appears when the session starts; the kill falls 2–28 s after.
    if (!(await waitFor(() => existsSync(out) || child.exitCode !== null, 60_000)) || child.exitCode !== null) {
      child.kill("SIGKILL");
      await exited;
      result.error = `rigd acquire did not start a session: ${stderr.trim().split("\n").pop() || "(no message)"}`;
      return result;
    }
    await new Promise((r) => setTimeout(r, 2000 + Math.random() * 26_000));
    const helpers = (await pidtree(child.pid!)).map((pid) => ({ pid, command: commandOf(pid) ?? "" }));
    child.kill("SIGKILL");
    const killedAt = Date.now();
    await exited;
    // Still running a second after their rigd was killed (the same pid with the same command line).
    const alive = () => helpers.filter((h) => h.command && commandOf(h.pid) === h.command);
    await waitFor(() => alive().length === 0, 1000);
    result.leftovers = alive();
    result.ptyDirs = [...new Set(helpers.flatMap((h) => [...h.command.matchAll(/link=(\S*rigd-pty-[^/\s]+)\//g)].map((m) => m[1]!)))].filter((d) => existsSync(d));
    for (const h of result.leftovers) process.kill(h.pid, "SIGKILL");
    for (const d of result.ptyDirs) rmSync(d, { recursive: true, force: true });

    // Status 0: recovered; 2: recovered, but a series with no sample remains; otherwise refused or failed.
    const recovery = spawnSync(process.execPath, [rigd, "recover", out, "--json"], { encoding: "utf8" });
    if (recovery.status !== 0 && recovery.status !== 2) {
      result.error = `rigd recover (status ${recovery.status}): ${recovery.stderr.trim()}`;
      return result;
    }
    const report = JSON.parse(recovery.stdout) as RecoveryReport;
    if (report.empty.length) result.error = `recovered, but with series of no sample: ${report.empty.join(", ")}`;
    const f = new h5wasm.File(out, "r");
    try {
      const start = Date.parse(String((f.get("timestamps_reference_time") as InstanceType<typeof h5wasm.Dataset>).value));
      const kill = (killedAt - start) / 1000;
      result.kill_s = kill;
      for (const s of report.series.filter((x) => x.neurodata_type.endsWith("MicroscopySeries"))) {
        const last = s.span_s?.[1] ?? 0;
        result.frames.push({ series: s.path.split("/").pop()!, samples: s.samples, last_s: last, lost_s: lost(kill, last) });
      }
      const telemetry = report.series.filter((x) => x.neurodata_type === "TimeSeries" && x.span_s);
      if (telemetry.length) {
        const last = Math.max(...telemetry.map((x) => x.span_s![1]));
        result.telemetry = { last_s: last, lost_s: lost(kill, last) };
      }
      // The events before recover's own, the last entry.
      const times = (f.get("acquisition/rig_events/timestamps") as InstanceType<typeof h5wasm.Dataset>).value as Float64Array;
      const handed = statuses.filter((x) => x.elapsed_s <= kill - 1).pop()?.events ?? 0;
      const last = times.length > 1 ? times[times.length - 2]! : undefined;
      result.events = { count: times.length - 1, handed, last_s: last, lost_s: last === undefined ? undefined : lost(kill, last) };
      result.violations = violations(f);
    } finally {
      f.close();
    }
    return result;
  } finally {
    for (const hog of load) hog.kill("SIGKILL");
    if (!args.keep) for (const p of [out, `${out}.orig`]) rmSync(p, { force: true });
  }
}

const s = (t: number | undefined) => (t === undefined ? "-" : `${t.toFixed(2)} s`);

function print(t: Trial): void {
  const lines = [`trial ${t.k}${t.loaded ? " (3 CPU hogs)" : ""}: killed at ${s(t.kill_s)} on the session clock; recover ${t.error ? `FAILED: ${t.error}` : "ok"}`];
  for (const f of t.frames) lines.push(`  ${f.series.padEnd(34)} ${String(f.samples).padStart(5)} frames, latest ${s(f.last_s)}, lost beyond the last second ${s(f.lost_s)}`);
  if (t.telemetry) lines.push(`  ${"telemetry".padEnd(34)} latest ${s(t.telemetry.last_s)}, lost beyond the last second ${s(t.telemetry.lost_s)}`);
  if (t.events) {
    const e = t.events;
    lines.push(`  ${"events".padEnd(34)} ${String(e.count).padStart(5)} in the file, ${e.handed} handed to the writer by 1 s before the kill (${Math.max(0, e.handed - e.count)} missing); latest ${s(e.last_s)}, ${s(e.lost_s)} behind beyond the last second`);
  }
  if (!t.error) {
    const short = t.violations.filter((v) => v.includes(SHORT));
    const other = t.violations.filter((v) => !v.includes(SHORT));
    lines.push(`  inspector rules: ${other.length ? other.join("; ") : "clean"}${short.length ? ` (and ${short.length} series shorter than their frame size: time is not yet the longest axis)` : ""}`);
  }
  lines.push(`  left behind: ${t.leftovers.length ? t.leftovers.map((l) => `pid ${l.pid} ${l.command.split(" ")[0]!.split("/").pop()}`).join(", ") : "no process"}; ${t.ptyDirs.length ? t.ptyDirs.join(", ") : "no rigd-pty folder"}${t.leftovers.length + t.ptyDirs.length ? " (removed by the bench)" : ""}`);
  console.log(lines.join("\n"));
}

if (!existsSync(rigd)) throw new Error(`${rigd} is missing: run npm run build first (npm run crash does)`);
await h5wasm.ready;
console.log(`${trials} trials of a ${SESSION_S} s sim-2p session killed with SIGKILL, files in ${dir}`);
const done: Trial[] = [];
for (let k = 1; k <= trials; k++) {
  const t = await trial(k, args.load || k % 2 === 0);
  print(t);
  done.push(t);
}
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
const ok = done.filter((t) => !t.error);
const clean = ok.filter((t) => t.violations.every((v) => v.includes(SHORT)));
console.log(
  `summary: ${ok.length}/${trials} recovered (${done.filter((t) => t.loaded).length} under load); lost beyond the last second, worst: ` +
    `frames ${s(max(ok.flatMap((t) => t.frames.map((f) => f.lost_s))))}, telemetry ${s(max(ok.flatMap((t) => (t.telemetry ? [t.telemetry.lost_s] : []))))}, ` +
    `events ${ok.reduce((n, t) => n + Math.max(0, (t.events?.handed ?? 0) - (t.events?.count ?? 0)), 0)} missing of those handed to the writer by 1 s before the kill; inspector rules clean ${clean.length}/${ok.length} ` +
    `(short-recording remarks aside); left behind: ${done.reduce((n, t) => n + t.leftovers.length, 0)} processes, ${done.reduce((n, t) => n + t.ptyDirs.length, 0)} rigd-pty folders`,
);
if (!args.keep && !args.dir) rmSync(dir, { recursive: true, force: true });
process.exitCode = ok.length === trials ? 0 : 1;
