// `rigd recover` on files left by a crash: a writer killed with SIGKILL, and one crafted with the faults a
// crash can leave (data past its timestamps, half-written timestamps, events out of order, an empty series);
// and its refusals: a file rigd did not write, and one closed cleanly.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import h5wasm from "h5wasm/node";
import { describe, expect, it } from "vitest";
import { NwbWriter } from "../../src/nwb/index.js";
import { NwbFile } from "../../src/nwb/nwb-file.js";
import { formatRecovery } from "../../src/cli/commands/recover.js";
import { RecoverRefused, recover } from "../../src/nwb/recover.js";
import packageJson from "../../package.json" with { type: "json" };
import { killedRecording } from "../fixtures/killed-recording.js";
import { referenceFile } from "./layout.js";
import { dataset, openRead, tempPath } from "./h5read.js";
import { violations } from "./inspector-rules.js";
import { mountTmpfs, tmpfsSkipNote, unmountTmpfs } from "../tmpfs.js";

const rigd = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

const session = {
  session_description: "Recover test.",
  session_start_time: "2026-01-05T09:00:00Z",
  experimenter: ["Doe, Jane"],
  institution: "Example Institute",
  experiment_description: "Files left by crashes.",
  keywords: ["crash"],
  subject: { subject_id: "m1", species: "Mus musculus", sex: "F" as const, age: "P90D", description: "Test mouse." },
};

/** The real writer's file with a microscope, a rig, a channel and `space`: as a recording begins. */
async function fileWithRig(path: string, space: Parameters<NwbFile["addImagingSpace"]>[0]): Promise<NwbFile> {
  const nwb = await NwbFile.create(path, session);
  nwb.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Test microscope." });
  nwb.addRig({ name: "Rig", description: "Test rig.", microscope: "Microscope" });
  nwb.addChannel({ name: "Green", description: "Green.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Indicator." } });
  nwb.addImagingSpace(space);
  return nwb;
}

describe("rigd recover", () => {
  it("makes the file of a writer killed with SIGKILL consistent and closed, keeping every checkpointed sample, and passing the checks", async () => {
    const path = tempPath("killed.nwb");
    const checkpoint = await killedRecording(path, 6);
    const reserve = (dir: string) => readdirSync(dir).filter((name) => name.startsWith(`.${basename(path)}.rigd-reserve-`));
    expect(reserve(dirname(path))).toHaveLength(1); // the killed writer's, left behind
    const report = await recover(path);
    console.log(formatRecovery(report));
    expect(reserve(dirname(path))).toEqual([]);

    // The series that never got a sample was never written; the others hold at least what was checkpointed.
    expect(report.series.map((s) => s.path).sort()).toEqual(["/acquisition/Frames", "/acquisition/LaserPower"]);
    expect(report.empty).toEqual([]);
    const frames = report.series.find((s) => s.path === "/acquisition/Frames")!;
    expect(frames.samples).toBeGreaterThanOrEqual(checkpoint.samples["Frames"]!);
    expect(report.series.find((s) => s.path === "/acquisition/LaserPower")!.samples).toBeGreaterThanOrEqual(checkpoint.samples["LaserPower"]!);
    // A kill in the middle of inserting a late event costs the text of the rows it rewrote, which reach back
    // at most two entries (0.9 s, marks every 0.5 s): recover removes those and counts them.
    expect(report.events.kept + report.events.unreadable).toBeGreaterThanOrEqual(checkpoint.events);
    expect(report.events.kept).toBeGreaterThanOrEqual(checkpoint.events - 2);
    expect(report.original).toBe(`${path}.orig`);
    expect(existsSync(report.original)).toBe(true);
    expect(existsSync(`${path}.recovering`)).toBe(false);

    const f = await openRead(path);
    expect(violations(f)).toEqual([]);
    const data = dataset(f, "acquisition/Frames/data").value as Uint16Array;
    const times = dataset(f, "acquisition/Frames/timestamps").value as Float64Array;
    expect(times.length).toBe(frames.samples);
    expect(data.length).toBe(frames.samples * 32 * 32);
    for (let i = 0; i < frames.samples; i++) expect(data[i * 1024 + 1023]).toBe(i % 65536);
    expect(frames.span_s).toEqual([times[0], times[times.length - 1]]);
    // The last event says what happened, at the latest time anything in the file has.
    const text = dataset(f, "acquisition/rig_events/data").value as string[];
    const at = Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array);
    expect(text.length).toBe(report.events.kept + 1);
    expect(text[text.length - 1]).toMatch(/^recovered \[rigd recover\] the session ended abnormally: the writer stopped without closing the file/);
    expect(at[at.length - 1]).toBe(report.ended_s);
    expect(report.ended_s).toBeGreaterThanOrEqual(times[times.length - 1]!);
    expect(at.every((t, i) => i === 0 || t >= at[i - 1]!)).toBe(true);
    expect(dataset(f, "general/data_collection").value).toMatch(new RegExp(`^rigd ${packageJson.version}: recovered on `));
    f.close();

    // Now it is closed: nothing more to do.
    await expect(recover(path)).rejects.toThrow(new RecoverRefused(`nothing to recover: ${path} was closed (${readNote(path)})`, "closed"));
  });

  it("cuts data past its timestamps and half-written timestamps, sorts the events, and says which empty series it cannot remove", async () => {
    const path = tempPath("crafted.nwb");
    // The real writer, stopped without a clean close: as a crash leaves a file, but every byte flushed.
    const nwb = await fileWithRig(path, { neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", illumination_pattern: { neurodata_type: "LineScan", description: "Scan." } });
    nwb.createPlanarSeries({ name: "Frames", description: "Frames.", data_type: "uint16", frame_shape: [8, 8], microscopy_rig: "Rig", microscopy_channel: "Green", imaging_space: "Plane", clock: { timestamps: true } });
    nwb.append("Frames", Uint16Array.from({ length: 12 * 64 }, (_, k) => 1 + Math.floor(k / 64)), Array.from({ length: 12 }, (_, i) => 0.02 + i / 30 + (i % 3) * 1e-4));
    nwb.createTelemetrySeries({ name: "Power", description: "Laser power.", unit: "W", clock: { timestamps: true } });
    nwb.append("Power", Float64Array.of(1.5, 1.52, 1.49, 1.51, 1.5), [0.1, 0.61, 1.13, 1.6, 2.2]);
    for (const [time, message] of [[0.2, "a"], [0.5, "b"], [0.9, "c"]] as const) nwb.addEvents([{ time, kind: "mark", source: "user", message }]);
    nwb.checkpoint();
    nwb.abandon();
    // What a crash can leave besides: rows past the flushed ones that read as fill, events out of order, an empty series.
    const f0 = new h5wasm.File(path, "a", { libver: ["earliest", "v110"] });
    (f0.get("acquisition/Frames/data") as InstanceType<typeof h5wasm.Dataset>).resize([15, 8, 8]);
    (f0.get("acquisition/Power/timestamps") as InstanceType<typeof h5wasm.Dataset>).resize([7]);
    (f0.get("acquisition/rig_events/timestamps") as InstanceType<typeof h5wasm.Dataset>).write_slice([[0, 2]], Float64Array.of(0.7, 0.5));
    const idle = (f0.get("acquisition") as InstanceType<typeof h5wasm.Group>).create_group("Idle");
    for (const [k, v] of Object.entries({ namespace: "core", neurodata_type: "TimeSeries", object_id: "2c0e7ad0-64c5-4c55-9a4a-1f8e4a3c1e59", description: "A PMT that never answered.", comments: "no comments" })) idle.create_attribute(k, v);
    const idleData = idle.create_dataset({ name: "data", data: new Float64Array(0), shape: [0], maxshape: [null], chunks: [64], dtype: "<d" });
    idleData.create_attribute("unit", "V");
    for (const [k, v] of Object.entries({ conversion: 1, offset: 0, resolution: -1 })) idleData.create_attribute(k, v, null, "<d");
    idle.create_dataset({ name: "timestamps", data: new Float64Array(0), shape: [0], maxshape: [null], chunks: [64], dtype: "<d" });
    f0.close();

    const cli = rigd("recover", path);
    console.log(cli.stdout);
    // Recovered, but an empty series remains: status 2, and a warning that says why.
    expect(cli.status).toBe(2);
    expect(cli.stdout).toContain("    /acquisition/Frames  12 samples  0.020 s – 0.387 s\n      3 samples past the last timestamp removed\n");
    expect(cli.stdout).toContain("    /acquisition/Power  5 samples  0.100 s – 2.200 s\n      2 half-written timestamps from sample 5 on (0 after 2.2) removed\n");
    expect(cli.stdout).toContain("  events  3 of 3 kept, + 1: \"recovered\" at 2.200 s\n    entries put in time order\n");
    expect(cli.stdout).toContain("  warning: /acquisition/Idle has no samples; h5wasm cannot remove it, and nwbinspector will flag it\n");

    const f = await openRead(path);
    expect(dataset(f, "acquisition/Frames/data").shape).toEqual([12, 8, 8]);
    expect((dataset(f, "acquisition/Frames/data").value as Uint16Array)[11 * 64]).toBe(12);
    expect(Array.from(dataset(f, "acquisition/Power/timestamps").value as Float64Array)).toEqual([0.1, 0.61, 1.13, 1.6, 2.2]);
    const text = dataset(f, "acquisition/rig_events/data").value as string[];
    expect(text.slice(0, 3)).toEqual(["mark [user] b", "mark [user] a", "mark [user] c"]);
    expect(Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array)).toEqual([0.5, 0.7, 0.9, 2.2]);
    expect(violations(f)).toEqual(["/acquisition/Idle: no data"]);
  });

  it("cuts the planes of a volume a crash left half-written (volumes go to the file plane by plane)", async () => {
    const path = tempPath("half-volume.nwb");
    const nwb = await fileWithRig(path, { neurodata_type: "VolumetricImagingSpace", name: "Volume", description: "Volume.", illumination_pattern: { neurodata_type: "PlaneAcquisition", description: "Light sheet." } });
    nwb.createVolumetricSeries({ name: "Volumes", description: "Volumes.", data_type: "uint16", frame_shape: [4, 4, 3], microscopy_rig: "Rig", microscopy_channel: "Green", imaging_space: "Volume", clock: { timestamps: true } });
    const plane = (v: number, d: number) => new Uint16Array(16).fill(100 * v + d + 1);
    for (let v = 0; v < 2; v++) for (let d = 0; d < 3; d++) nwb.appendPlane("Volumes", d, plane(v, d), d === 2 ? [v / 2] : undefined);
    nwb.appendPlane("Volumes", 0, plane(2, 0));
    nwb.appendPlane("Volumes", 1, plane(2, 1));
    expect(nwb.checkpoint().samples["Volumes"]).toBe(2); // flushed with volume 2's first planes in the dataset
    nwb.abandon(); // as a crash leaves it

    const report = await recover(path);
    const volumes = report.series.find((s) => s.path === "/acquisition/Volumes")!;
    expect(volumes).toMatchObject({ samples: 2, found: { data: 3, timestamps: 2 }, repairs: ["1 samples past the last timestamp removed"] });
    const f = await openRead(path);
    expect(dataset(f, "acquisition/Volumes/data").shape).toEqual([2, 4, 4, 3]);
    expect(Array.from(dataset(f, "acquisition/Volumes/data").value as Uint16Array).slice(-3)).toEqual([101, 102, 103]);
    f.close();
  });

  it("refuses a file rigd did not write (pynwb's reference file), and leaves it untouched", () => {
    const path = tempPath("reference.nwb");
    copyFileSync(referenceFile(), path);
    const cli = rigd("recover", path);
    expect(cli.status).toBe(1);
    expect(cli.stderr).toBe(`rigd recover: ${path} was not written by rigd (its /general/source_script does not name rigd): rigd recover repairs only its own files\n`);
    expect(readFileSync(path).equals(readFileSync(referenceFile()))).toBe(true);
    expect(existsSync(`${path}.orig`) || existsSync(`${path}.recovering`)).toBe(false);
  });

  it.skipIf(!!tmpfsSkipNote)(`refuses, naming the room it needs, on a disk without room for its working copy; the file is left as it was${tmpfsSkipNote}`, async () => {
    const killed = tempPath("killed-full.nwb");
    await killedRecording(killed, 2);
    const dir = mountTmpfs(`size=${Math.ceil((statSync(killed).size * 1.5) / 4096) * 4096}`);
    try {
      const path = join(dir, "killed.nwb");
      copyFileSync(killed, path);
      const before = readFileSync(path);
      const error = await recover(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RecoverRefused);
      expect((error as RecoverRefused).reason).toBe("no-room");
      expect((error as Error).message).toMatch(new RegExp(`^recovering works on a copy beside the file: it needs \\d+ MB free in ${dir}, which has \\d+ MB; free some, or copy ${path} to a disk with room and recover it there \\(${path} is left as it was\\)$`));
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(readdirSync(dir)).toEqual(["killed.nwb"]);
    } finally {
      unmountTmpfs(dir);
    }
  });

  it("refuses a file still being written, and one closed cleanly: nothing to recover", async () => {
    const path = tempPath("closed.nwb");
    const w = await NwbWriter.create(path, session);
    await w.addEvents([{ time: 0.5, kind: "mark", source: "user", message: "start" }]);
    await expect(recover(path)).rejects.toMatchObject({ reason: "in-use", message: expect.stringMatching(/is already being written by this process, pid \d+ .*: it is still being recorded, not left by a crash$/) });
    await w.close();
    const before = readFileSync(path);
    const error = await recover(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecoverRefused);
    expect((error as RecoverRefused).reason).toBe("closed");
    expect((error as Error).message).toMatch(new RegExp(`^nothing to recover: ${path} was closed \\(rigd ${packageJson.version}: closed normally on `));
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});

function readNote(path: string): string {
  const f = new h5wasm.File(path, "r");
  try {
    return String((f.get("general/data_collection") as InstanceType<typeof h5wasm.Dataset>).value);
  } finally {
    f.close();
  }
}
