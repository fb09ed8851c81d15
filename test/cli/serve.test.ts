// rigd serve driven over its control socket (and by the example Python client), and fed malformed requests.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Subscriber } from "zeromq";
import { describe, expect, it } from "vitest";
import { summarize } from "../../src/nwb/inspect.js";
import { expectShutterClosedInFile } from "../acquisition/shutter.js";
import { findPython } from "../python.js";
import { client, serve } from "./serve-child.js";

const python = findPython(["zmq"]);
const session = { session_description: "Daemon test.", experimenter: ["Doe, Jane"], subject: { subject_id: "m1", species: "Mus musculus", sex: "F", age: "P90D" } };

describe("rigd serve", () => {
  it("goes through start → set → mark → stop over the control socket and publishes status", async () => {
    const { control, publish, dataDir } = await serve();
    const sub = new Subscriber();
    sub.connect(publish);
    sub.subscribe("status");
    const { ask, close } = client(control);
    expect((await ask({ cmd: "status" })).result).toEqual({ state: "idle" });
    const out = join(dataDir, "served.nwb");
    const started = await ask({ cmd: "start", out: "served.nwb", session });
    expect(started).toMatchObject({ ok: true, result: { state: "recording", out } });
    // Status comes once a second; the first may still be from before the start.
    let state = "";
    for (let i = 0; i < 5 && state !== "recording"; i++) {
      const [topic, status] = await sub.receive();
      expect(topic!.toString()).toBe("status");
      state = JSON.parse(status!.toString()).state;
    }
    expect(state).toBe("recording");
    await new Promise((r) => setTimeout(r, 1500));
    // A setting no bound device has is the request's fault, told apart from a device that fails: nothing is sent.
    expect((await ask({ cmd: "set", device: "NoSuchLaser", property: "shutter", value: false })).error).toEqual({
      code: "invalid_request",
      message: "no bound device named 'NoSuchLaser' (lasers: TiSapphireLaser; photodetectors: PMTGreen, PMTRed)",
    });
    expect((await ask({ cmd: "set", device: "TiSapphireLaser", property: "colour", value: 1 })).error).toEqual({
      code: "invalid_request",
      message: "TiSapphireLaser: no property 'colour' (shutter, emission, wavelength_nm, power_W)",
    });
    expect((await ask({ cmd: "set", device: "PMTGreen", property: "gain", value: true })).error!.code).toBe("invalid_request");
    // A value the device does not take is refused by its driver before anything is sent: the request's fault too.
    const tooFar = (await ask({ cmd: "set", device: "TiSapphireLaser", property: "wavelength_nm", value: 2000 })).error!;
    expect(tooFar.code).toBe("invalid_request");
    expect(tooFar.message).toMatch(/2000 nm is outside the tuning range 690–1040 nm$/);
    // Closing the shutter over the socket: the frames after it are dark, event and telemetry say when.
    expect(await ask({ cmd: "set", device: "TiSapphireLaser", property: "shutter", value: false })).toMatchObject({ ok: true });
    expect(await ask({ cmd: "mark", text: "stimulus on" })).toEqual({ ok: true, result: { marked: "stimulus on" } });
    await new Promise((r) => setTimeout(r, 1500));
    const stopped = await ask({ cmd: "stop" });
    expect(stopped.ok).toBe(true);
    expect(stopped.result.samples.PlanarMicroscopySeriesGreen).toBeGreaterThan(20);
    close();
    sub.close();
    const file = await summarize(out);
    expect(file.events.map((e) => e.text)).toEqual(expect.arrayContaining(["command [TiSapphireLaser] shutter set to false", "mark [user] stimulus on"]));
    expect(file.series.find((s) => s.path.endsWith("PlanarMicroscopySeriesGreen"))!.samples).toBe(stopped.result.samples.PlanarMicroscopySeriesGreen);
    await expectShutterClosedInFile(out);
  });

  it("answers malformed requests with structured errors and keeps running", async () => {
    const { control } = await serve();
    const { ask, close } = client(control);
    expect((await ask("{not json")).error!.code).toBe("bad_json");
    expect((await ask({ cmd: "explode" })).error).toEqual({ code: "unknown_command", message: 'unknown cmd "explode": expected status, start, stop, set or mark' });
    expect((await ask({ cmd: "set", device: "TiSapphireLaser", property: "shutter", value: "closed" })).error).toEqual({
      code: "invalid_request",
      message: "value: expected a number (wavelength_nm, power_W, gain) or true/false (shutter, emission, enabled, reset_trip)",
    });
    expect((await ask([1, 2])).error).toEqual({ code: "invalid_request", message: 'a request is a JSON object with "cmd" (status, start, stop, set or mark), not [1,2]' });
    expect((await ask({ cmd: "start", out: 42 })).error!.code).toBe("invalid_request");
    // A start without its session, or with one that lacks fields, says what the session needs.
    expect((await ask({ cmd: "start", out: "x.nwb" })).error).toEqual({
      code: "invalid_request",
      message: "session: expected the session's metadata, as a --session file holds it ({session_description, experimenter, subject: {subject_id, species, sex, age, …}, …}), found none",
    });
    expect((await ask({ cmd: "start", out: "x.nwb", session: { session_description: "A test." } })).error).toEqual({ code: "invalid_request", message: "session.subject: expected a mapping, found nothing (the key is missing)" });
    expect((await ask({ cmd: "stop" })).error).toEqual({ code: "not_recording", message: "no session is recording: send start first" });
    expect((await ask("x".repeat(200_000))).error!.code).toBe("too_large");
    expect((await ask({ cmd: "status" })).result).toEqual({ state: "idle" });
    close();
  });

  it.skipIf(!python.path)(`is driven by the example Python control client${python.skipNote}`, async () => {
    const { control, dataDir } = await serve();
    const out = join(dataDir, "python.nwb");
    const { stdout } = await promisify(execFile)(python.path!, ["examples/control_client.py", "python.nwb", control], { encoding: "utf8" });
    expect(stdout).toContain("laser tuned to 940 nm");
    const file = await summarize(out);
    expect(file.events.map((e) => e.text)).toEqual(expect.arrayContaining(["command [TiSapphireLaser] wavelength_nm set to 940", "mark [user] stimulus on"]));
  });
});
