// One writer per file: a second writer of a file being written — in the same process or another rigd — is
// refused before it touches the file, with a message naming the holder, and the file stays readable.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NwbInputError, NwbWriter } from "../../src/nwb/index.js";
import { lockHolder } from "../../src/nwb/lock.js";
import { rigd, simProfile, waitFor } from "../cli/rigd-child.js";
import { dataset, openRead, tempDir, tempPath } from "./h5read.js";

const META = { session_description: "Lock test.", session_start_time: "2026-11-23T09:00:00Z" };

async function openWithSeries(path: string): Promise<{ w: NwbWriter; append: (i: number) => Promise<void> }> {
  const w = await NwbWriter.create(path, META);
  await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "m" });
  await w.addRig({ name: "Rig", description: "r", microscope: "Microscope" });
  await w.addChannel({ name: "Green", description: "g", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "i" } });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "p", illumination_pattern: { neurodata_type: "LineScan", description: "l" } });
  const s = await w.createPlanarSeries({ name: "Series", description: "Frames.", data_type: "uint16", frame_shape: [32, 32], microscopy_rig: "Rig", microscopy_channel: "Green", imaging_space: "Plane", clock: { timestamps: true } });
  return { w, append: (i) => w.append(s, new Uint16Array(32 * 32).fill(i), [i / 30]) };
}

describe("one writer per file", () => {
  it("refuses a second writer in the same process, even after h5wasm opened and closed the file on its own descriptor", async () => {
    const path = tempPath("one.nwb");
    const first = await openWithSeries(path);
    for (let i = 0; i < 20; i++) await first.append(i);
    await first.w.checkpoint();

    // Another descriptor on the file, opened and closed in this thread: a POSIX (fcntl) lock would go with it, a flock does not.
    const reader = await openRead(path);
    expect(dataset(reader, "acquisition/Series/data").shape).toEqual([20, 32, 32]);
    reader.close();
    expect(lockHolder(path)?.pid).toBe(process.pid);

    const refused = (await NwbWriter.create(path, META, { overwrite: true }).catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(NwbInputError);
    expect(refused.message.startsWith(`${path} is already being written by this process, pid ${process.pid} (${process.execPath} `)).toBe(true);
    expect(refused.message.endsWith("); refusing to write it too")).toBe(true);
    await expect(NwbWriter.create(path, META)).rejects.toThrow(`${path} already exists; pass overwrite (--force on the command line) to replace it`);

    // The first writer goes on as if nothing happened, and its file holds every frame.
    for (let i = 20; i < 40; i++) await first.append(i);
    await first.w.close();
    expect(lockHolder(path)).toBeUndefined();
    const f = await openRead(path);
    const values = dataset(f, "acquisition/Series/data").value as Uint16Array;
    expect(values.length).toBe(40 * 32 * 32);
    for (let i = 0; i < 40; i++) expect(values[i * 1024]).toBe(i);
    f.close();

    // Closed, the file is free again.
    await (await NwbWriter.create(path, META, { overwrite: true })).close();
  });

  it("refuses a second rigd acquire --force on the file another is recording, at once and naming it", { timeout: 60_000 }, async () => {
    const out = tempPath("shared.nwb");
    const profile = simProfile();
    const common = ["acquire", "--profile", profile, "--session", "examples/session.yaml", "--out", out];
    const first = rigd([...common, "--duration", "60s", "--json"]);
    await waitFor("the first rigd to hold the file", () => lockHolder(out)?.pid === first.child.pid);

    const tmp = tempDir(); // where the second rigd would make its pty folders
    const started = Date.now();
    const second = await rigd([...common, "--force", "--duration", "2s"], { TMPDIR: tmp }).done;
    const tookMs = Date.now() - started;
    expect(second.code).toBe(2);
    expect(second.stderr).toBe(`rigd acquire: ${out} is already being written by pid ${first.child.pid} (${first.command}); refusing to write it too\n`);
    expect(readdirSync(tmp)).toEqual([]); // no simulator started
    console.log(`second rigd refused in ${tookMs} ms`);

    first.child.kill("SIGINT");
    const done = await first.done;
    expect(done.code, done.stderr).toBe(0);
    const recorded = (JSON.parse(done.stdout.trimEnd().split("\n").at(-1)!) as { summary: { status: { samples: Record<string, number> } } }).summary.status.samples;
    const f = await openRead(out);
    for (const [name, frames] of Object.entries(recorded)) {
      expect(frames).toBeGreaterThan(0);
      expect(dataset(f, `acquisition/${name}/data`).shape).toEqual([frames, 512, 512]);
    }
    expect(Object.keys(recorded).sort()).toEqual(["PlanarMicroscopySeriesGreen", "PlanarMicroscopySeriesRed"]);
    f.close();
  });
});
