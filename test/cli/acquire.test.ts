// rigd acquire end to end: the built CLI records the simulated two-photon rig (profiles/sim-2p.yaml), and each
// file it leaves is read back with h5wasm, independently of the writer's code.
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { dataset, openRead, tempDir, tempPath } from "../nwb/h5read.js";
import { parseRigProfile } from "../../src/config/index.js";
import { frameAddress, outsideFrames, produce } from "../fixtures/run-producer.js";
import { type Rigd, rigd, simProfile } from "./rigd-child.js";

// The CLI as installed (package.json "bin", run by rigd-child.ts): `npm test` builds before running vitest.
const SERIES = ["PlanarMicroscopySeriesGreen", "PlanarMicroscopySeriesRed"];
const profileCopy = simProfile;

interface Run {
  child: ChildProcess;
  /** Each complete stdout line as it arrives. */
  lines: string[];
  onLine(listener: (line: string) => void): void;
  done: Rigd["done"];
}

/** Starts `rigd acquire …` as a child process: the simulators run inside it, so it never blocks this process. */
function acquire(args: string[]): Run {
  const { child, done } = rigd(["acquire", "--session", "examples/session.yaml", ...args]);
  const lines: string[] = [];
  const listeners: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    for (const l of listeners) l(line);
  });
  return { child, lines, onLine: (l) => listeners.push(l), done };
}

/** Frames and timestamps of each planar series, read back from the file. */
async function seriesIn(path: string): Promise<Map<string, { frames: number; frameShape: number[]; timestamps: number[] }>> {
  const f = await openRead(path);
  try {
    return new Map(
      SERIES.map((name) => {
        const data = dataset(f, `acquisition/${name}/data`);
        const timestamps = Array.from(dataset(f, `acquisition/${name}/timestamps`).value as Float64Array);
        return [name, { frames: data.shape![0]!, frameShape: data.shape!.slice(1), timestamps }];
      }),
    );
  } finally {
    f.close();
  }
}

function expectAscending(times: number[]): void {
  for (let i = 1; i < times.length; i++) if (!(times[i]! > times[i - 1]!)) expect.fail(`timestamp ${i} (${times[i]}) does not follow ${times[i - 1]}`);
}

describe("rigd acquire on the simulated two-photon rig", { timeout: 60_000 }, () => {
  it("says in its summary how many frames a producer already streaming had sent from before the start", async () => {
    // sim-2p's frames from a producer of 64² frames started 2 s before rigd, its send queue (20 messages) full meanwhile.
    const profile = profileCopy(outsideFrames(64));
    const parsed = parseRigProfile(readFileSync(profile, "utf8"), profile);
    if (!parsed.ok) throw new Error(`profile: ${JSON.stringify(parsed.errors)}`);
    const producing = produce({ address: frameAddress(parsed.value), frames: 150, channels: 2, rate: 30, sendHighWaterMark: 20 });
    await new Promise((r) => setTimeout(r, 2000));
    const { code, stdout, stderr } = await acquire(["--profile", profile, "--out", tempPath("streaming.nwb"), "--frames", "60"]).done;
    await producing;
    expect(code, stderr).toBe(0);
    const summary = stdout.trimEnd().split("\n").at(-1)!;
    console.log(summary);
    const before = /; (\d+) frames from before the start not recorded \(a producer already streaming\)/.exec(summary);
    expect(before, summary).not.toBeNull();
    // The producer queued 20 messages while nobody listened: those, at least, began before the start.
    expect(Number(before![1])).toBeGreaterThanOrEqual(20);
  });

  it("warns, naming the address, when no frame came from a frame source all session (a producer not running, or sending elsewhere)", async () => {
    const profile = profileCopy(outsideFrames(64));
    const parsed = parseRigProfile(readFileSync(profile, "utf8"), profile);
    if (!parsed.ok) throw new Error(`profile: ${JSON.stringify(parsed.errors)}`);
    const { code, stdout, stderr } = await acquire(["--profile", profile, "--out", tempPath("silent.nwb"), "--duration", "2s"]).done;
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/no samples \(none for PlanarMicroscopySeriesGreen, PlanarMicroscopySeriesRed, so not in the file\)/);
    expect(stderr.split("\n")).toContain(`warning: no frames came from frame source ScanFrames at ${frameAddress(parsed.value)}: is the acquisition software running, and sending there?`);
  });

  it("--frames 60 --json writes exactly 60 frames per series and one JSON object per line", async () => {
    const out = tempPath("frames.nwb");
    const { code, stdout, stderr } = await acquire(["--profile", profileCopy(), "--out", out, "--frames", "60", "--json"]).done;
    expect(code, stderr).toBe(0);
    // 60 frames of 512 × 512 are too few for nwbinspector: said for each series, with how long it would take.
    for (const name of SERIES) expect(stderr).toMatch(new RegExp(`^warning: ${name} holds 60 samples of 512×512: nwbinspector's check_data_orientation \\(critical\\) wants more samples than 512, the longest other axis: at 30 samples/s a session of at least 18 s$`, "m"));

    const objects = stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, any>);
    const summary = objects.pop()!;
    // 60 frames at 30 Hz take 2 s and status comes once a second, so at least one status line precedes the summary.
    expect(objects.length).toBeGreaterThanOrEqual(1);
    for (const s of objects) {
      expect(s).toMatchObject({ state: "recording", out, elapsed_s: expect.any(Number), dropped: expect.any(Number), queue_bytes: expect.any(Number), file_bytes: expect.any(Number) });
      expect(Object.keys(s.samples).sort()).toEqual([...SERIES].sort());
    }
    expect(Object.keys(summary)).toEqual(["summary"]);
    expect(summary.summary).toMatchObject({ out, status: { state: "closed" } });
    // Every frame timed from its arrival to written and to durable (fsynced): the first comes no later than the second.
    const { written, durable } = summary.summary.status.latency_ms;
    for (const p of [written, durable]) expect(p).toEqual({ p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) });
    expect(written.p50).toBeLessThanOrEqual(durable.p50);
    expect(written.max).toBeLessThanOrEqual(durable.max);
    expect(summary.summary.line).toMatch(/; arrival to durable p50 \d+ ms, p99 \d+ ms$/);

    const series = await seriesIn(out);
    for (const name of SERIES) {
      const s = series.get(name)!;
      expect({ name, frames: s.frames, timestamps: s.timestamps.length }).toEqual({ name, frames: 60, timestamps: 60 });
      expect(s.frameShape).toEqual([512, 512]);
      expectAscending(s.timestamps);
      // What the CLI reports is what the file holds.
      expect(summary.summary.status.samples[name]).toBe(60);
    }
  });

  it("refuses to replace an existing file without --force, replaces an NWB file with --force, and never anything else", async () => {
    const profile = profileCopy();
    const notes = tempPath("notes.nwb");
    const text = Buffer.from("a lab notebook that happens to end in .nwb\n".repeat(100));
    writeFileSync(notes, text);
    const notNwb = await acquire(["--profile", profile, "--out", notes, "--duration", "3s", "--force"]).done;
    expect(notNwb.code).toBe(2);
    expect(notNwb.stderr.trimEnd()).toBe(`rigd acquire: ${notes} exists and is not an NWB file; --force only ever replaces an NWB file`);
    expect(readFileSync(notes).equals(text)).toBe(true);

    // An earlier session's file.
    const out = tempPath("existing.nwb");
    const before = readFileSync("test/fixtures/reference.nwb");
    writeFileSync(out, before);

    const refused = await acquire(["--profile", profile, "--out", out, "--duration", "3s"]).done;
    expect(refused.code).toBe(2);
    // One line, naming the file and the way out; checked before any device is opened, so nothing else is said.
    expect(refused.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain(out);
    expect(refused.stderr).toContain("--force");
    expect(readFileSync(out).equals(before)).toBe(true);

    const forced = await acquire(["--profile", profile, "--out", out, "--duration", "3s", "--force"]).done;
    expect(forced.code, forced.stderr).toBe(0);
    const f = await openRead(out);
    try {
      expect(f.get("/acquisition/PlanarMicroscopySeriesGreen")).toBeTruthy();
      expect(dataset(f, "/acquisition/PlanarMicroscopySeriesGreen/data").shape![0]).toBeGreaterThan(0);
    } finally {
      f.close();
    }
  });

  it("refuses a broken profile with file:line:col and creates no file", async () => {
    let line = 0;
    let col = 0;
    const profile = profileCopy((text) => {
      const edited = text.replace(/^writer:\n/m, "writer:\n  bogus_key: 1\n");
      const lines = edited.split("\n");
      line = lines.findIndex((l) => l.includes("bogus_key")) + 1;
      col = lines[line - 1]!.indexOf("bogus_key") + 1;
      return edited;
    });
    const outDir = tempDir();
    const out = join(outDir, "never.nwb");
    const { code, stderr } = await acquire(["--profile", profile, "--out", out, "--duration", "3s"]).done;
    expect(code).toBe(2);
    expect(stderr).toContain(`${profile}:${line}:${col}:`);
    expect(stderr).toContain("bogus_key");
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("stops cleanly on SIGINT and keeps every frame it wrote with its timestamp", async () => {
    const out = tempPath("interrupted.nwb");
    const run = acquire(["--profile", profileCopy(), "--out", out, "--duration", "60s", "--json"]);
    // Interrupt only once frames are flowing, so the file has something to keep.
    await new Promise<void>((resolve, reject) => {
      run.onLine((line) => {
        const s = JSON.parse(line);
        if (Object.values((s.samples ?? {}) as Record<string, number>).some((n) => n > 0)) resolve();
      });
      run.done.then(({ code, stderr }) => reject(new Error(`rigd acquire exited (${code}) before recording: ${stderr}`)));
    });
    const interruptedAt = Date.now();
    run.child.kill("SIGINT");
    const { code, signal, stderr } = await run.done;
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(Date.now() - interruptedAt).toBeLessThan(10_000);
    expect(JSON.parse(run.lines.at(-1)!)).toHaveProperty("summary");

    const series = await seriesIn(out);
    for (const name of SERIES) {
      const s = series.get(name)!;
      expect(s.frames, name).toBeGreaterThan(0);
      expect(s.timestamps.length, name).toBe(s.frames);
      expectAscending(s.timestamps);
    }
  });

  it("killed outright (SIGKILL) mid-recording, leaves a file that opens with every checkpointed frame, made consistent by rigd recover", async () => {
    const out = tempPath("killed.nwb");
    const run = acquire(["--profile", profileCopy(), "--out", out, "--duration", "60s", "--json"]);
    // Status lines come once a second; the profile checkpoints every second. Frames counted 3 s before the
    // kill were written and checkpointed long before it.
    const counted: number[] = [];
    await new Promise<void>((resolve, reject) => {
      run.onLine((line) => {
        counted.push((JSON.parse(line).samples ?? {})[SERIES[0]!] ?? 0);
        if (counted.length >= 5 && counted.at(-4)! > 0) resolve();
      });
      run.done.then(({ code, stderr }) => reject(new Error(`rigd acquire exited (${code}) before it was killed: ${stderr}`)));
    });
    run.child.kill("SIGKILL");
    const { signal } = await run.done;
    expect(signal).toBe("SIGKILL");
    const earlier = counted.at(-4)!;
    // As the kill left it: every checkpointed frame and timestamp readable (HDF5 may have written more of one
    // than of the other since the last checkpoint: rigd recover cuts them to the same length).
    const left = await seriesIn(out);
    for (const name of SERIES) {
      expect(left.get(name)!.frames, name).toBeGreaterThanOrEqual(earlier);
      expect(left.get(name)!.timestamps.length, name).toBeGreaterThanOrEqual(earlier);
    }
    const recovered = await rigd(["recover", out]).done;
    expect(recovered.code, recovered.stderr).toBe(0);
    const series = await seriesIn(out);
    for (const name of SERIES) {
      const s = series.get(name)!;
      expect(s.frames, name).toBeGreaterThanOrEqual(earlier);
      expect(s.timestamps.length, name).toBe(s.frames);
      expectAscending(s.timestamps);
    }
    console.log(`killed: ${earlier} frames counted 3 s before, ${counted.at(-1)} at the last status line, ${left.get(SERIES[0]!)!.frames} frames and ${left.get(SERIES[0]!)!.timestamps.length} timestamps as the kill left them, ${series.get(SERIES[0]!)!.frames} after rigd recover`);
  });
});
