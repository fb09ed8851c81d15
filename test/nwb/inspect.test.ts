// rigd inspect on the example session: what a person sees of a recording.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { writeExampleSession } from "../../examples/write-example-nwb.js";
import { File, loadHdf5 } from "../../src/nwb/hdf5.js";
import { summarize } from "../../src/nwb/inspect.js";
import { tempPath } from "./h5read.js";

describe("rigd inspect", () => {
  it("summarizes session, devices, every series with its rate and drops, and the events", async () => {
    const path = tempPath("example.nwb");
    const { frames, droppedFrames } = await writeExampleSession(path, { seconds: 1.2, planarSize: 32, planeSize: 16, volumeSize: 8, depths: 4, overwrite: false });
    const s = await summarize(path);
    expect(s.subject).toMatchObject({ subject_id: "mouse-017", species: "Mus musculus", sex: "F", age: "P92D" });
    expect(s.devices.find((d) => d.name === "Laser")).toEqual({ name: "Laser", type: "PulsedExcitationSource", serial_number: "IX3-2217" });
    const green = s.series.find((x) => x.path.endsWith("/PlanarMicroscopySeriesGreen"))!;
    expect(green).toMatchObject({ neurodata_type: "PlanarMicroscopySeries", samples: frames, shape: [frames, 32, 32], dropped: droppedFrames });
    expect(green.rate_Hz).toBeCloseTo(61.8, 0);
    const volumes = s.series.find((x) => x.neurodata_type === "VolumetricMicroscopySeries")!;
    expect(volumes).toMatchObject({ rate_Hz: 10, samples: 12, duration_s: 1.2 });
    expect(s.events.map((e) => e.text.split(" ")[0])).toEqual(["dropped_frames", "fault", "mark"]);
    // ROI tables with their summary images: what an online analysis (or a later segmentation) left.
    const planarSeg = s.segmentations.find((g) => g.path.endsWith("/PlanarSegmentation"))!;
    expect(planarSeg).toMatchObject({ neurodata_type: "PlanarSegmentation", summary_images: [{ name: "mean", shape: [32, 32] }] });
    expect(planarSeg.rois).toBeGreaterThan(0);
    expect(s.segmentations.find((g) => g.neurodata_type === "VolumetricSegmentation")!.summary_images).toEqual([{ name: "max", shape: [8, 8, 4] }]);

    const cli = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "inspect", path], { encoding: "utf8" });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain(`PlanarMicroscopySeries  ${frames} samples of 32×32`);
    expect(cli.stdout).toContain(`${droppedFrames} dropped`);
    expect(cli.stdout).toMatch(/PlanarSegmentation  \d+ ROIs  summary images: mean 32×32/);
  });

  it("says so in one line, with a non-zero exit, when the file is not there, not HDF5, cut short, or not NWB", async () => {
    const inspect = (path: string) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "inspect", path], { encoding: "utf8" });
    const text = tempPath("notes.nwb");
    writeFileSync(text, "a text file named .nwb\n");
    const whole = tempPath("whole.nwb");
    await writeExampleSession(whole);
    const cut = tempPath("cut.nwb");
    writeFileSync(cut, readFileSync(whole).subarray(0, 4096));
    const plain = tempPath("plain.h5");
    await loadHdf5();
    new File(plain, "w").close();
    for (const [path, message] of [
      ["/nonexistent.nwb", "/nonexistent.nwb: no such file"],
      [text, `${text} is not an HDF5 file, so not an NWB file`],
      [cut, new RegExp(`^${cut}: HDF5 cannot open it: .+ \\(a file left by a crash: rigd recover\\)$`)],
      [plain, `${plain} is an HDF5 file but not an NWB file (it has no nwb_version)`],
    ] as const) {
      const cli = inspect(path);
      expect(cli.status, path).toBe(1);
      expect(cli.stderr).not.toContain("HDF5-DIAG");
      expect(cli.stderr.trim().split("\n"), path).toHaveLength(1);
      if (typeof message === "string") expect(cli.stderr.trim()).toBe(`rigd inspect: ${message}`);
      else expect(cli.stderr.trim().replace(/^rigd inspect: /, "")).toMatch(message);
    }
  });
});
