// Every profile rigd ships is valid, for rigd and for the JSON Schema editors use; and it means what its
// comments say (the recording plans of the three simulated rigs).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { formatConfigError, JSON_SCHEMAS, loadRigProfile, seriesStorage, type RigProfile } from "../../src/config/index.js";
import { jsonSchemaErrors } from "./json-schema-subset.js";

const shipped = readdirSync("profiles").filter((f) => f.endsWith(".yaml")).map((f) => join("profiles", f));
// The committed copy: the one editors use (schema-files.test.ts keeps it equal to what rigd prints).
const rigSchema = JSON.parse(readFileSync(JSON_SCHEMAS.rig.file, "utf8")) as Record<string, unknown>;

async function load(file: string): Promise<RigProfile> {
  const result = await loadRigProfile(file);
  if (!result.ok) throw new Error(result.errors.map(formatConfigError).join("\n"));
  return result.value;
}

describe("shipped profiles", () => {
  it("are the four the issue asks for, and sim-2p and a volumetric two-photon rig with online analysis (issue 14)", () => {
    expect(shipped.sort()).toEqual([
      "profiles/rig-2p-hardware.yaml",
      "profiles/sim-2p-analysis.yaml",
      "profiles/sim-2p.yaml",
      "profiles/sim-lightsheet.yaml",
      "profiles/sim-multiplane.yaml",
      "profiles/sim-volume-analysis.yaml",
    ]);
  });

  for (const file of [...shipped, "test/config/fixtures/minimal.yaml"]) {
    describe(file, () => {
      it("passes rigd's checks", async () => {
        const result = await loadRigProfile(file);
        expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual([]);
      });

      it("passes the JSON Schema", () => {
        expect(jsonSchemaErrors(rigSchema, parse(readFileSync(file, "utf8")))).toEqual([]);
      });

      it("names the JSON Schema on its first line, for editors", () => {
        const first = readFileSync(file, "utf8").split("\n")[0]!;
        const schemaPath = first.match(/^# yaml-language-server: \$schema=(\S+)$/)?.[1];
        expect(schemaPath && join(file, "..", schemaPath)).toBe(JSON_SCHEMAS.rig.file);
      });
    });
  }
});

describe("the JSON Schema", () => {
  // Broken profiles whose mistake is one of shape, which a JSON Schema can see (rules across values it cannot).
  const shapeMistakes = [
    "channel-at-92-nm",
    "pixel-of-2-mm",
    "unknown-key-typo",
    "top-level-key-typo",
    "rate-as-text",
    "missing-photodetector",
    "unknown-data-type",
    "unknown-illumination-pattern",
    "missing-neurodata-type",
    "orientation-repeats-an-axis",
    "yes-for-true",
    "zmq-address-without-port",
    "non-standard-baud-rate",
    "empty-description",
    "series-name-with-hyphen",
    "model-name-with-slash",
    "gzip-level-out-of-range",
    "no-channels",
  ];
  for (const name of shapeMistakes) {
    it(`rejects broken/${name}.yaml`, () => {
      const data = parse(readFileSync(`test/config/broken/${name}.yaml`, "utf8"));
      expect(jsonSchemaErrors(rigSchema, data)).not.toEqual([]);
    });
  }
});

describe("sim-2p.yaml", () => {
  it("is a 512 × 512, ~30 Hz, two-channel rig with a Spectra-Physics laser and two PMTs on a Scientifica controller, all simulated", async () => {
    const profile = await load("profiles/sim-2p.yaml");
    expect(profile.recording.frame_sources).toMatchObject([{ frame_shape: [512, 512], channel_count: 2, plane_count: 1, frame_rate_in_Hz: 30 }]);
    expect(profile.channels.map((c) => [c.name, c.indicator, c.photodetector])).toEqual([
      ["Green", "GCaMP6s", "PMTGreen"],
      ["Red", "tdTomato", "PMTRed"],
    ]);
    expect(profile.bindings.map((b) => [b.driver, b.simulated])).toEqual([
      ["spectra-physics-maitai", true],
      ["scientifica-pmt", true],
      ["zmq-frames", true],
    ]);
    // Driver defaults fill in what the profile leaves out.
    expect(profile.bindings[0]).toMatchObject({ baud_rate: 9600, data_bits: 8, parity: "none", stop_bits: 1, poll_interval_ms: 1000 });
    expect(profile.recording.series.map((s) => [s.name, s.frames])).toEqual([
      ["PlanarMicroscopySeriesGreen", { source: "ScanFrames", channel: 0, plane: 0 }],
      ["PlanarMicroscopySeriesRed", { source: "ScanFrames", channel: 1, plane: 0 }],
    ]);
  });

  it("differs from rig-2p-hardware.yaml only in bindings, serial numbers and descriptions", async () => {
    const strip = (p: RigProfile) =>
      JSON.parse(JSON.stringify({ ...p, bindings: [] }, (key, value: unknown) => (key === "serial_number" || key === "description" ? undefined : value)));
    expect(strip(await load("profiles/rig-2p-hardware.yaml"))).toEqual(strip(await load("profiles/sim-2p.yaml")));
    const hardware = await load("profiles/rig-2p-hardware.yaml");
    expect(hardware.bindings.map((b) => [b.simulated, b.driver === "zmq-frames" ? b.address : b.port])).toEqual([
      [false, "/dev/serial/by-id/usb-FTDI_USB-RS232_Cable_FT4WQ7A2-if00-port0"],
      [false, "/dev/serial/by-id/usb-Scientifica_PMT_Controller_SC0419-if00"],
      [false, "tcp://192.168.10.2:5600"],
    ]);
  });
});

describe("sim-multiplane.yaml", () => {
  it("records 4 planes per channel into one MultiPlaneMicroscopyContainer per channel", async () => {
    const profile = await load("profiles/sim-multiplane.yaml");
    expect(profile.recording.frame_sources[0]).toMatchObject({ channel_count: 2, plane_count: 4 });
    const byContainer = new Map<string, number[]>();
    for (const series of profile.recording.series) {
      if (series.neurodata_type !== "PlanarMicroscopySeries") throw new Error("expected planar series");
      byContainer.set(series.multi_plane_container!, [...(byContainer.get(series.multi_plane_container!) ?? []), series.frames.plane]);
    }
    expect(Object.fromEntries(byContainer)).toEqual({
      MultiPlaneMicroscopyContainerGreen: [0, 1, 2, 3],
      MultiPlaneMicroscopyContainerRed: [0, 1, 2, 3],
    });
  });
});

describe("sim-lightsheet.yaml", () => {
  it("assembles 16 planes of 2048 × 2048 into volumes at 100 planes/s, with a Cobolt laser", async () => {
    const profile = await load("profiles/sim-lightsheet.yaml");
    expect(profile.recording.frame_sources[0]).toMatchObject({ frame_shape: [2048, 2048], plane_count: 16, frame_rate_in_Hz: 100 });
    expect(profile.imaging_spaces[0]).toMatchObject({ neurodata_type: "VolumetricImagingSpace", dimensions_in_voxels: [2048, 2048, 16] });
    expect(profile.recording.series[0]?.neurodata_type).toBe("VolumetricMicroscopySeries");
    expect(profile.bindings.map((b) => b.driver)).toEqual(["cobolt", "zmq-frames"]);
    expect(profile.bindings[0]).toMatchObject({ baud_rate: 115200, data_bits: 8, parity: "none", stop_bits: 1 });
  });
});

describe("seriesStorage", () => {
  const writer = { checkpoint_interval_ms: 1000, chunk_bytes: 4 << 20, compression: "none" as const };
  const series = (own?: object) =>
    ({
      neurodata_type: "PlanarMicroscopySeries",
      name: "S",
      description: "d",
      microscopy_channel: "C",
      planar_imaging_space: "P",
      frames: { source: "F", channel: 0, plane: 0 },
      writer: own,
    }) as RigProfile["recording"]["series"][number];

  it("takes the profile's writer options where the series gives none", () => {
    expect(seriesStorage(writer, series())).toEqual({ chunk_bytes: 4 << 20, compression: "none" });
  });

  it("lets a series override them, with gzip level 4 unless one is given", () => {
    expect(seriesStorage(writer, series({ compression: "gzip" }))).toEqual({ chunk_bytes: 4 << 20, compression: "gzip", gzip_level: 4 });
    expect(seriesStorage({ ...writer, compression: "gzip", gzip_level: 6 }, series({ chunk_bytes: 1 << 20 }))).toEqual({
      chunk_bytes: 1 << 20,
      compression: "gzip",
      gzip_level: 6,
    });
    expect(seriesStorage({ ...writer, compression: "gzip", gzip_level: 6 }, series({ compression: "none" }))).toEqual({
      chunk_bytes: 4 << 20,
      compression: "none",
    });
  });
});
