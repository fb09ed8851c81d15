// The `traces` topic end to end: rigd serve (a child process) records profiles/sim-2p-analysis.yaml, and the
// Python example examples/traces_subscriber.py, subscribed with rigd_client, prints a neuron's ΔF/F as it happens.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { tempPath } from "../nwb/h5read.js";
import { findPython } from "../python.js";
import { client, port, serve } from "../cli/serve-child.js";

const run = promisify(execFile);
const python = findPython(["zmq", "numpy"]);
const session = { session_description: "Traces test.", experimenter: ["Doe, Jane"], subject: { subject_id: "m1", species: "Mus musculus", sex: "F", age: "P90D" } };

it.skipIf(!python.path)(`publishes traces that the Python example follows frame by frame${python.skipNote}`, async () => {
  const profile = tempPath("sim-2p-analysis.yaml");
  writeFileSync(profile, readFileSync("profiles/sim-2p-analysis.yaml", "utf8").replace("tcp://127.0.0.1:5600", `tcp://127.0.0.1:${port()}`).replace("../schema/", `${process.cwd()}/schema/`));
  const { control, publish } = await serve({ profile });
  const { ask, close } = client(control);
  try {
    const subscriber = run(python.path!, ["examples/traces_subscriber.py", "3", publish, "--count", "60", "--timeout", "60"], { encoding: "utf8", timeout: 120_000 });
    expect((await ask({ cmd: "start", out: "traces.nwb", session })).ok).toBe(true);
    const { stdout } = await subscriber;
    const lines = stdout.split("\n").filter((l) => l.startsWith("PlanarMicroscopySeriesGreen"));
    expect(lines.length).toBe(60);
    // "PlanarMicroscopySeriesGreen t=    1.234 s  ROI 3 ΔF/F +0.123  shift +0.00 +1.00 µm" (no shift while the reference is built)
    const parsed = lines.map((l) => /^PlanarMicroscopySeriesGreen t=\s*([\d.]+) s {2}ROI 3 ΔF\/F ([+-][\d.]+|nan)(  shift [+-][\d.]+ [+-][\d.]+ µm)?$/.exec(l));
    expect(parsed.every((m) => m !== null)).toBe(true);
    const times = parsed.map((m) => Number(m![1]));
    expect(times.every((t, i) => i === 0 || t > times[i - 1]!)).toBe(true);
    expect(parsed.some((m) => m![3] !== undefined)).toBe(true); // motion once the first second's reference is built
    const stopped = await ask({ cmd: "stop" });
    expect(stopped.ok).toBe(true);
  } finally {
    close();
  }
}, 180_000);
