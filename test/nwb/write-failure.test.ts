// A failed write stops the writer loudly and leaves a good file: a real tmpfs filled to its last byte, a
// file-size limit, the output removed or its file system unmounted under the writer.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_RESERVE_BYTES, freeBytes, NwbWriteFailure, NwbWriter, type CheckpointReport, type WriteFailure } from "../../src/nwb/index.js";
import type { FillOptions } from "../fixtures/fill-disk.js";
import { framePixel, frameTime, telemetryTime, telemetryValue } from "../fixtures/fill-pattern.js";
import { dataset, openRead, tempDir } from "./h5read.js";
import { violations } from "./inspector-rules.js";
import { findPython } from "../python.js";
import { commandSkipNote, mountTmpfs, tmpfsSkipNote, unmountTmpfs } from "../tmpfs.js";

const python = findPython(["h5py", "numpy"]);

// ------------------------------------------------------------------ real file systems

const mounts: string[] = [];
afterAll(() => mounts.splice(0).forEach(unmountTmpfs));

/** A new tmpfs of `size` ("60m") on a new directory, unmounted after this file. */
function tmpfs(size: string): string {
  const dir = mountTmpfs(`size=${size}`);
  mounts.push(dir);
  return dir;
}

const noPrlimit = commandSkipNote("prlimit", "util-linux's prlimit sets the file-size limit");

// ------------------------------------------------------------------ a writer process filling a disk

interface FillResult {
  sent: number;
  failedAt: number;
  failure: WriteFailure;
  caughtIsFailure: boolean;
  closeRejectedWithFailure: boolean;
  refused: number;
  lastCheckpoint: CheckpointReport | undefined;
  rss: { start: number; atFailure: number; end: number };
}

/** Runs test/fixtures/fill-disk.ts (under `prefix`, e.g. prlimit) until its writer fails; its JSON report and its stderr. */
async function fill(options: FillOptions, prefix: string[] = []): Promise<{ result: FillResult; stderr: string }> {
  const fixture = new URL("../fixtures/fill-disk.ts", import.meta.url).pathname;
  const args = [...prefix, process.execPath, "--import", "tsx", fixture, JSON.stringify(options)];
  const child = spawn(args[0]!, args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`fill-disk exited ${code}:\n${stderr.slice(0, 2000)}`);
  return { result: JSON.parse(stdout.trim().split("\n").pop()!) as FillResult, stderr };
}

/** Every frame, telemetry sample and event in the file is what fill-disk.ts sent, and there are `expected` of each. */
async function expectContents(path: string, expected: CheckpointReport, frameElements: number): Promise<void> {
  const f = await openRead(path);
  try {
    const frames = expected.samples["Frames"]!;
    const data = dataset(f, "acquisition/Frames/data");
    expect(data.shape![0]).toBe(frames);
    const pattern = (i: number) => Uint16Array.from({ length: frameElements }, (_, k) => framePixel(i, k));
    for (let i = 0; i < frames; i++) {
      const got = data.slice([[i, i + 1]]) as Uint16Array;
      if (!got.every((v, k) => v === framePixel(i, k))) expect(Array.from(got.subarray(0, 8))).toEqual(Array.from(pattern(i).subarray(0, 8)));
    }
    expect(Array.from(dataset(f, "acquisition/Frames/timestamps").value as Float64Array)).toEqual(Array.from({ length: frames }, (_, i) => frameTime(i)));
    // Telemetry went with every third frame, events with every tenth.
    const power = expected.samples["LaserPower"]!;
    expect(Array.from(dataset(f, "acquisition/LaserPower/data").value as Float64Array)).toEqual(Array.from({ length: power }, (_, j) => telemetryValue(j)));
    expect(Array.from(dataset(f, "acquisition/LaserPower/timestamps").value as Float64Array)).toEqual(Array.from({ length: power }, (_, j) => telemetryTime(j)));
    const texts = dataset(f, "acquisition/rig_events/data").value as string[];
    expect(texts.map((t) => t.trimEnd())).toEqual(Array.from({ length: expected.events }, (_, j) => `mark [test] frame ${10 * j}`));
    expect(Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array)).toEqual(Array.from({ length: expected.events }, (_, j) => frameTime(10 * j)));
  } finally {
    f.close();
  }
}

/** What h5py (HDF5 1.10, as most Python users have) reads: lengths of data and timestamps per series, and frames that differ from what was sent. */
function readWithH5py(path: string): { lengths: Record<string, [number, number]>; badFrames: number[] } {
  const script = `
import h5py, json, numpy as np, sys
f = h5py.File(sys.argv[1], "r")
lengths = {n: [f[f"acquisition/{n}/data"].shape[0], f[f"acquisition/{n}/timestamps"].shape[0]] for n in ("Frames", "LaserPower", "rig_events")}
d = f["acquisition/Frames/data"]
k = np.arange(d.shape[1] * d.shape[2])
bad = [i for i in range(d.shape[0]) if not np.array_equal(d[i].ravel(), ((i * 131 + k) % 65536).astype(np.uint16))]
print(json.dumps({"lengths": lengths, "badFrames": bad}))`;
  return JSON.parse(execFileSync(python.path!, ["-c", script, path], { encoding: "utf8" })) as ReturnType<typeof readWithH5py>;
}

const fdsOn = (path: string) =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
    } catch {
      return false; // closed meanwhile (readdir's own descriptor)
    }
  });

// ------------------------------------------------------------------ tests

describe.skipIf(!!tmpfsSkipNote)(`a full disk${tmpfsSkipNote}`, () => {
  it.skipIf(!python.path)(`stops at the first failed write with one line naming ENOSPC, and leaves every checkpointed 512×512 frame as sent${python.skipNote}`, async () => {
    const dir = tmpfs("60m");
    const path = join(dir, "f.nwb");
    const { result, stderr } = await fill({ path, height: 512, width: 512 });
    const { failure } = result;
    console.log(
      `60 MB tmpfs: ${result.sent} frames sent, failed with "${failure.message}"; ${failure.saved!.samples["Frames"]} frames, ` +
        `${failure.saved!.events} events in the file; RSS ${result.rss.start} → ${result.rss.atFailure} → ${result.rss.end} MiB; ${freeBytes(dir)} bytes free after the close`,
    );

    expect(failure.message).toMatch(/^(writing (Frames|LaserPower|the event record)|flushing the file|fsync of the file): no space left on device \(ENOSPC\)$/);
    expect(failure.code).toBe("ENOSPC");
    expect(failure.closed).toBe(true);
    // The loop that was appending was stopped by that failure, and everything after was refused with it.
    expect(result.caughtIsFailure).toBe(true);
    expect(result.refused).toBe(200);
    expect(result.closeRejectedWithFailure).toBe(true);
    expect(stderr).not.toMatch(/HDF5|DIAG/);
    expect(stderr).toBe("");
    // What the file holds is what the last checkpoint reported before the failure.
    expect(failure.saved).toEqual(result.lastCheckpoint);
    expect(failure.saved!.samples["Frames"]).toBeGreaterThan(10);
    // Memory: 200 more 512 KiB frames offered after the failure were neither queued nor kept.
    expect(result.rss.end - result.rss.atFailure).toBeLessThan(64);

    await expectContents(path, failure.saved!, 512 * 512);
    const h5py = readWithH5py(path);
    expect(h5py.lengths).toEqual({
      Frames: [failure.saved!.samples["Frames"], failure.saved!.samples["Frames"]],
      LaserPower: [failure.saved!.samples["LaserPower"], failure.saved!.samples["LaserPower"]],
      rig_events: [failure.saved!.events, failure.saved!.events],
    });
    expect(h5py.badFrames).toEqual([]);
    // The reserve was given back and nothing else is left beside the file.
    expect(readdirSync(dir)).toEqual(["f.nwb"]);
  });

  it("leaves a file of small frames that passes the NWB checks", async () => {
    // 32×32 frames: time is the longest axis once a series has more than 32 frames.
    const dir = tmpfs("16m");
    const path = join(dir, "f.nwb");
    const { result, stderr } = await fill({ path, height: 32, width: 32, checkpointIntervalMs: 100 });
    const { failure } = result;
    console.log(`16 MB tmpfs, 32×32 frames: ${result.sent} sent, "${failure.message}", ${failure.saved!.samples["Frames"]} in the file`);
    expect(failure.code).toBe("ENOSPC");
    expect(failure.closed).toBe(true);
    expect(stderr).toBe("");
    expect(failure.saved!.samples["Frames"]).toBeGreaterThan(32);
    await expectContents(path, failure.saved!, 32 * 32);
    const f = await openRead(path);
    try {
      expect(violations(f)).toEqual([]);
    } finally {
      f.close();
    }
  });

  it("a series and the event record begun just before the disk fills keep their first samples: no empty series", async () => {
    // No timed checkpoint in this test: only the one asked for, and those the writer makes for new series.
    const dir = tmpfs("16m");
    const path = join(dir, "f.nwb");
    const { w, append } = await smallWriter(path, 256, 600_000);
    for (let i = 0; i < 4; i++) await append(i);
    await w.checkpoint();
    const late = await w.createTelemetrySeries({ name: "Late", description: "A reading that began late.", unit: "W", clock: { timestamps: true } });
    await w.append(late, Float64Array.of(1.5), [0.2]);
    await w.addEvents([{ time: 0.2, kind: "mark", source: "test", message: "late" }]);
    const { refusal } = await appendUntilRefused(append, 4);
    const failure = await w.failed;
    expect(refusal).toBe(failure);
    expect(failure.code).toBe("ENOSPC");
    expect(failure.closed).toBe(true);
    expect(failure.saved!.samples["Late"]).toBe(1);
    expect(failure.saved!.events).toBe(1);
    const f = await openRead(path);
    try {
      expect(Array.from(dataset(f, "acquisition/Late/data").value as Float64Array)).toEqual([1.5]);
      expect(Array.from(dataset(f, "acquisition/Late/timestamps").value as Float64Array)).toEqual([0.2]);
      expect((dataset(f, "acquisition/rig_events/data").value as string[]).map((t) => t.trimEnd())).toEqual(["mark [test] late"]);
      expect(dataset(f, "acquisition/Frames/data").shape![0]).toBe(failure.saved!.samples["Frames"]);
      expect(violations(f).filter((v) => v.includes("no data"))).toEqual([]);
    } finally {
      f.close();
    }
  });

  it("refuses to start on a file system without room for the reserve, leaving nothing behind", async () => {
    const dir = tmpfs("4m");
    await expect(NwbWriter.create(join(dir, "f.nwb"), session)).rejects.toThrow(/no room for the 8\.0 MiB reserve that lets .*f\.nwb be closed on a full disk .*ENOSPC/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses to start on a file system with room for the reserve but not the file's first writes, leaving nothing behind", async () => {
    const dir = tmpfs("8200k"); // the 8 MiB reserve and 8 KiB
    await expect(NwbWriter.create(join(dir, "f.nwb"), session)).rejects.toThrow(/^creating .*f\.nwb: no space left on device \(ENOSPC\)$/);
    expect(readdirSync(dir)).toEqual([]);
    // With room made, the same path takes a new recording: nothing there to refuse it for.
    execFileSync("mount", ["-o", "remount,size=64m", dir]);
    const w = await NwbWriter.create(join(dir, "f.nwb"), session);
    await w.close();
  });
});

const session = { session_description: "Write failure test.", session_start_time: "2026-11-23T09:00:00Z" };

/** A writer of side × side frames on `path` (checkpoints every 100 ms unless said), and a function that appends frame i. */
async function smallWriter(path: string, side = 16, checkpointIntervalMs = 100) {
  const w = await NwbWriter.create(path, session, { checkpointIntervalMs });
  await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "m" });
  await w.addRig({ name: "Rig", description: "r", microscope: "Microscope" });
  await w.addChannel({ name: "Green", description: "g", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "i" } });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "p", illumination_pattern: { neurodata_type: "LineScan", description: "l" } });
  const s = await w.createPlanarSeries({ name: "Frames", description: "Frames.", data_type: "uint16", frame_shape: [side, side], microscopy_rig: "Rig", microscopy_channel: "Green", imaging_space: "Plane", clock: { timestamps: true } });
  return { w, append: (i: number) => w.append(s, new Uint16Array(side * side).fill(i), [frameTime(i)]) };
}

/**
 * Appends frames until the writer refuses one, each in its own turn of the event loop as frames from a socket
 * come (so the worker's messages are heard between them); returns the refusal and how long it took (ms).
 */
async function appendUntilRefused(append: (i: number) => Promise<void>, from: number): Promise<{ refusal: unknown; ms: number }> {
  const start = performance.now();
  for (let i = from; i < from + 1_000_000; i++) {
    try {
      await append(i);
    } catch (e) {
      return { refusal: e, ms: performance.now() - start };
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error("the writer never failed");
}

describe("the output going away under the writer, and other failed writes", () => {
  it("a file removed mid-recording stops the writer at its next checkpoint, and lets go of the removed file", async () => {
    const path = join(tempDir(), "f.nwb");
    const { w, append } = await smallWriter(path);
    for (let i = 0; i < 50; i++) await append(i);
    expect((await w.checkpoint()).samples["Frames"]).toBe(50);
    rmSync(path);
    const { refusal, ms } = await appendUntilRefused(append, 50);
    console.log(`output removed: the writer refused frames ${ms.toFixed(0)} ms later (checkpoints every 100 ms)`);
    const failure = await w.failed;
    expect(refusal).toBe(failure);
    expect(ms).toBeLessThan(2000); // one checkpoint interval, and a busy machine's slack
    expect(failure).toBeInstanceOf(NwbWriteFailure);
    expect(failure.message).toBe(`checkpoint: ${path} was removed while being written`);
    expect(failure.code).toBe("ENOENT");
    expect(failure.saved).toBeUndefined();
    await expect(w.close()).rejects.toBe(failure);
    // Neither HDF5 nor the lock keeps the removed file open: its space goes back to the file system.
    expect(fdsOn(path)).toEqual([]);
  });

  it.skipIf(!python.path || !!tmpfsSkipNote)(`a file system unmounted under the writer (umount -l) stops it the same way${python.skipNote}${tmpfsSkipNote}`, async () => {
    const dir = tmpfs("32m");
    const path = join(dir, "f.nwb");
    const { w, append } = await smallWriter(path);
    for (let i = 0; i < 50; i++) await append(i);
    await w.checkpoint();
    execFileSync("umount", ["-l", dir]);
    const { refusal, ms } = await appendUntilRefused(append, 50);
    const failure = await w.failed;
    expect(refusal).toBe(failure);
    expect(ms).toBeLessThan(2000);
    expect(failure.message).toBe(`checkpoint: ${path} was removed while being written, or its file system unmounted`);
    expect(failure.code).toBe("ENOENT");
    await expect(w.close()).rejects.toBe(failure);
    expect(fdsOn(path)).toEqual([]);
  });

  it.skipIf(!python.path || !!noPrlimit)(`a write refused for the file's size (EFBIG, ulimit -f) stops the writer; the file keeps every checkpointed frame${python.skipNote}${noPrlimit}`, async () => {
    // Closing such a file would need it to grow past the limit: it is left as of its last checkpoint, as a crash would leave it.
    const path = join(tempDir(), "f.nwb");
    const { result, stderr } = await fill({ path, height: 512, width: 512, checkpointIntervalMs: 100 }, ["prlimit", "--fsize=30000000"]);
    const { failure } = result;
    console.log(`30 MB file-size limit: ${result.sent} frames sent, "${failure.message}", ${failure.saved!.samples["Frames"]} checkpointed`);
    expect(failure.message).toMatch(/^writing (Frames|LaserPower|the event record): file too large \(EFBIG\)$/);
    expect(failure.closed).toBe(false);
    expect(stderr).toBe("");
    const saved = failure.saved!.samples["Frames"]!;
    expect(saved).toBeGreaterThan(0);
    const h5py = readWithH5py(path);
    expect(h5py.badFrames).toEqual([]);
    expect(h5py.lengths["Frames"]![1]).toBeGreaterThanOrEqual(saved);
    expect(h5py.lengths["Frames"]![0]).toBeGreaterThanOrEqual(h5py.lengths["Frames"]![1]);
    expect(readdirSync(join(path, ".."))).toEqual(["f.nwb"]);
  });
});

describe("the reserve", () => {
  it("is kept beside the file while it is open, removed at close, and one left by a dead process is cleaned by the next start", async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!; // exited: its pid names no process (until reused)
    const stale = join(dir, `.f.nwb.rigd-reserve-${dead}`);
    const alive = join(dir, ".g.nwb.rigd-reserve-1"); // pid 1 lives
    writeFileSync(stale, "x");
    writeFileSync(alive, "x");
    mkdirSync(join(dir, "sub"));
    const { w, append } = await smallWriter(join(dir, "f.nwb"));
    const own = join(dir, `.f.nwb.rigd-reserve-${process.pid}`);
    expect(readdirSync(dir).sort()).toEqual([".f.nwb.rigd-reserve-" + process.pid, ".g.nwb.rigd-reserve-1", "f.nwb", "sub"]);
    expect(statSync(own).size).toBe(DEFAULT_RESERVE_BYTES);
    await append(0);
    await w.close();
    expect(readdirSync(dir).sort()).toEqual([".g.nwb.rigd-reserve-1", "f.nwb", "sub"]);
  });
});
