// The Python client package (python/rigd_client, issue 12 part 5) against a live rigd serve: every call, its
// errors and timeouts, status, telemetry and previews (numpy arrays) subscribed to; its CURVE key handling
// against pyzmq CURVE servers; and that pip installs it from the checkout without a network.
import { execFile } from "node:child_process";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { summarize } from "../../src/nwb/inspect.js";
import { tempDir } from "../nwb/h5read.js";
import { findPython } from "../python.js";
import { serve } from "./serve-child.js";

const python = findPython(["zmq", "numpy"]);
// A venv of its own with the system's packages, and setuptools to build with (Debian: python3-venv, python3-setuptools).
const installer = findPython(["zmq", "numpy", "ensurepip", "setuptools", "wheel"]);
const run = promisify(execFile);
describe("the Python client (python/rigd_client)", () => {
  it.skipIf(!python.path)(`drives a live rigd serve: every call, rigd's errors, timeouts, and status, telemetry and previews subscribed to${python.skipNote}`, async () => {
    const { control, publish, dataDir } = await serve();
    const { stdout } = await run(python.path!, ["python/tests/live_daemon.py", control, publish], { encoding: "utf8", timeout: 90_000 });
    const r = JSON.parse(stdout);
    const out = join(dataDir, "python/client.nwb");

    expect(r.idle).toEqual({ state: "idle" });
    const notRecording = { type: "RequestError", cmd: "stop", code: "not_recording", message: "no session is recording: send start first" };
    expect(r.not_recording).toEqual({ ...notRecording, text: "rigd refused 'stop': not_recording: no session is recording: send start first" });
    expect(r.started).toMatchObject({ state: "recording", out });
    expect(r.recording).toBe("recording");

    // sim-2p's 512 x 512 frames, binned 4 x 4: uint16 as rigd sends them, a writeable numpy array of the image.
    expect(r.preview).toMatchObject({ series: expect.stringMatching(/^PlanarMicroscopySeries/), bin: 4, type: "ndarray", shape: [128, 128], dtype: "uint16", writeable: true });
    expect(r.preview.max).toBeGreaterThan(0);
    expect(r.preview.time).toBeGreaterThanOrEqual(0);
    expect(r.telemetry.time).toBeGreaterThan(Date.now() - 120_000);
    expect(r.telemetry.device ?? r.telemetry.devices).toBeTruthy();
    expect(Object.keys(r.telemetry.state).length).toBeGreaterThan(0);

    expect(r.set).toEqual({ device: "TiSapphireLaser", property: "wavelength_nm", value: 920 });
    expect(r.mark).toEqual({ marked: "stimulus on" });
    expect(r.published_states.at(-1)).toBe("recording");
    expect(r.published_states.every((s: string) => ["idle", "recording"].includes(s))).toBe(true);

    expect(r.too_soon).toMatchObject({ type: "RigdTimeout", cmd: "set", address: control, timeout: 0.5 });
    expect(r.after_timeout).toBe("recording");

    expect(r.stopped).toMatchObject({ state: "closed", out });
    expect(r.stopped.samples.PlanarMicroscopySeriesGreen).toBeGreaterThan(0);
    expect(r.stopped_again).toMatchObject(notRecording);

    expect(r.unserved).toMatchObject({ type: "RigdTimeout", cmd: "status", timeout: 0.5, text: expect.stringMatching(/^rigd at tcp:\/\/127\.0\.0\.1:\d+ did not answer 'status' within 0\.5 s/) });
    expect(r.unserved_s).toBeGreaterThanOrEqual(0.5);
    expect(r.unserved_s).toBeLessThan(5);
    expect(r.unserved_again).toMatchObject({ type: "RigdTimeout", cmd: "mark" });

    const file = await summarize(out);
    expect(file.events.map((e) => e.text)).toEqual(expect.arrayContaining(["command [TiSapphireLaser] wavelength_nm set to 920", "mark [user] stimulus on"]));
  }, 120_000);

  it.skipIf(!python.path)(`sets CURVE keys from certificate files on both sockets: a known key is answered, a refused handshake raised at once${python.skipNote}`, async () => {
    // unittest reports on stderr; a failure rejects with it.
    const { stderr } = await run(python.path!, ["python/tests/test_curve.py", "-v"], { encoding: "utf8", timeout: 60_000 });
    expect(stderr).toMatch(/^Ran 5 tests in .*\n\nOK\n$/m);
  });

  it.skipIf(!installer.path)(`installs with pip from the checkout, offline, and imports from where pip put it${installer.skipNote}`, async () => {
    // A copy: pip builds in the source folder, and its build/ and egg-info must not land in the checkout.
    const dir = tempDir();
    cpSync("python", join(dir, "python"), { recursive: true, filter: (src) => !/__pycache__|\.egg-info|\/build$/.test(src) });
    await run(installer.path!, ["-m", "venv", "--system-site-packages", join(dir, "venv")]);
    const venvPython = join(dir, "venv/bin/python");
    const pip = await run(venvPython, ["-m", "pip", "install", "--no-build-isolation", "--no-index", join(dir, "python")], { encoding: "utf8", timeout: 120_000 });
    expect(pip.stdout).toContain("Successfully installed rigd-client-0.1.0");
    const { stdout } = await run(venvPython, ["-c", "import rigd_client; print(rigd_client.__file__)"], { encoding: "utf8", cwd: dir });
    const venvLib = join(dir, "venv/lib/").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(stdout.trim()).toMatch(new RegExp(`^${venvLib}python3\\.\\d+/site-packages/rigd_client/__init__\\.py$`));
  }, 180_000);
});
