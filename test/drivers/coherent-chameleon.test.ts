// The Chameleon driver against its simulator over a real pty pair (socat) with the real serial bindings.
import { filter, firstValueFrom, take, timeout, toArray } from "rxjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CoherentChameleon } from "../../src/drivers/coherent-chameleon.js";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { ChameleonSimulator } from "../../simulators/coherent-chameleon.js";
import type { TunableLaserBehaviour } from "../../simulators/tunable-laser.js";
import { lineFaultTests } from "./line-faults.js";
import { readingsWhileTuning } from "./tuning.js";

let sim: ChameleonSimulator;
let laser: CoherentChameleon;

/** Fast enough for tests, slow enough to watch on a busy machine: warm in 600 ms, 5 ms per nm, a shutter that takes 80 ms. */
async function connect(options: { behaviour?: Partial<TunableLaserBehaviour>; timing?: object } = {}) {
  sim = new ChameleonSimulator({ warmUpMs: 600, tuneMsPerNm: 5, shutterMs: 80, ...options.behaviour });
  await sim.start();
  laser = new CoherentChameleon({ path: sim.path }, "Chameleon Ultra II", { timeoutMs: 300, retries: 1, backoffMs: [50, 400], ...options.timing }, { confirmMs: 1000, intervalMs: 20 });
  const events: DeviceEvent[] = [];
  laser.events$.subscribe((e) => events.push(e));
  await laser.connect();
  return events;
}

async function connectLasing() {
  const events = await connect({ behaviour: { warmUpMs: 0 } });
  await laser.setEmission(true);
  return events;
}

afterEach(async () => {
  await laser?.close();
  await sim?.stop();
});

describe("Coherent Chameleon over a pty", () => {
  it("copes with the echo and prompt it starts with, then turns them and the heartbeat off", async () => {
    const events = await connect();
    expect(sim).toMatchObject({ echo: false, prompt: false, heartbeat: false });
    expect(events).toEqual([]); // no echo or prompt line was taken for garbage
    expect(await laser.identify()).toEqual({ manufacturer: "Coherent", model: "Chameleon Ultra II", serial_number: "GDP.3561", firmware: "5.07" });
  });

  it("switches on, warming up first when cold (?ST Starting, then OK)", async () => {
    await connect();
    expect(await laser.readState()).toMatchObject({ emission: false, power_W: 0, mode_locked: false });
    await laser.setEmission(true);
    const warming = await laser.readState();
    expect(warming).toMatchObject({ emission: true, warmed_up_percent: 0, power_W: 0, mode_locked: false });
    await vi.waitFor(async () => expect((await laser.readState()).warmed_up_percent).toBe(100));
    expect(sim.emission).toBe(true);
    const state = await laser.readState();
    expect(state).toMatchObject({ emission: true, mode_locked: true, wavelength_nm: 800, tuning: false });
    expect(state.power_W).toBeCloseTo(sim.gainW(800), 2);
    expect(state.fault).toBeUndefined();

    await laser.setEmission(false);
    expect(await laser.readState()).toMatchObject({ emission: false, power_W: 0 });
    expect(sim.pumpOn).toBe(false);
  });

  it("opens and closes the shutter, waiting for ?S to follow", async () => {
    await connectLasing();
    await laser.setShutter(true);
    expect(sim.shutterOpen).toBe(true);
    expect((await laser.readState()).shutter_open).toBe(true);
    await laser.setShutter(false);
    expect(sim.shutterOpen).toBe(false);
    expect((await laser.readState()).shutter_open).toBe(false);
  });

  it("tunes: ?TS 1 and CW (mode-lock lost) while it tunes, mode-locked at the new wavelength after", async () => {
    await connectLasing();
    const at800 = (await laser.readState()).power_W;
    await laser.setWavelength(1000); // 200 nm at 5 ms/nm: 1 s
    expect(sim.targetNm).toBe(1000);
    const during = await readingsWhileTuning(laser);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((s) => !s.mode_locked && s.emission)).toBe(true);
    expect(during.some((s) => s.wavelength_nm > 800 && s.wavelength_nm < 1000)).toBe(true);
    const there = await laser.readState();
    expect(there).toMatchObject({ wavelength_nm: 1000, mode_locked: true });
    expect(there.power_W).toBeCloseTo(sim.gainW(1000), 2);
    expect(there.power_W).toBeLessThan(at800 / 2);
  });

  it("refuses a wavelength outside the range the laser reports before sending it (the laser would clamp it), and any power setting", async () => {
    await connect();
    await expect(laser.setWavelength(1100)).rejects.toThrow("1100 nm is outside the tuning range 680–1080 nm");
    await expect(laser.setPower(2)).rejects.toThrow("no power control");
    expect(sim.targetNm).toBe(800);
  });

  it("stays off with the fault named while the interlock is open", async () => {
    await connect();
    sim.interlockOpen = true;
    await expect(laser.setEmission(true)).rejects.toThrow("did not switch on: external interlock open");
    expect(await laser.readState()).toMatchObject({ emission: false, fault: "external interlock open" });
    sim.interlockOpen = false;
    await laser.setEmission(true); // L=1 clears the fault
    expect((await laser.readState()).fault).toBeUndefined();
  });

  it("takes an error reply as a refusal, not garbage: a firmware without ?SV identifies without a version", async () => {
    sim = new ChameleonSimulator({}, "GDP.1000", null);
    await sim.start();
    laser = new CoherentChameleon({ path: sim.path }, "Chameleon Vision II", { timeoutMs: 300, retries: 1 });
    const events: DeviceEvent[] = [];
    laser.events$.subscribe((e) => events.push(e));
    await laser.connect();
    expect(await laser.identify()).toEqual({ manufacturer: "Coherent", model: "Chameleon Vision II", serial_number: "GDP.1000" });
    expect(events).toEqual([]);
  });

  it("publishes polled state", async () => {
    await connect();
    laser.startPolling(30);
    const readings = await firstValueFrom(laser.state$.pipe(take(3), toArray(), timeout(3000)));
    expect(readings.map((r) => r.state.wavelength_nm)).toEqual([800, 800, 800]);
  });

  lineFaultTests({
    connect: (timing) => connect({ timing }),
    sim: () => sim,
    driver: () => laser,
    firstQuery: "?L",
    timeoutMs: 300,
    serialNumber: "GDP.3561",
    exercise: async () => expect(await laser.readState()).toMatchObject({ emission: false, wavelength_nm: 800, shutter_open: false }),
  });

  it("reconnects after the port vanishes, sets echo, prompt and heartbeat off again and reads the same state", async () => {
    const events = await connectLasing();
    await laser.setWavelength(900);
    await vi.waitFor(async () => expect((await laser.readState()).tuning).toBe(false));
    Object.assign(sim, { echo: true, prompt: true, heartbeat: true }); // as after a power cycle
    const back = firstValueFrom(laser.events$.pipe(filter((e) => e.kind === "reconnected"), timeout(8000)));
    // A vanished pty may read as endless end-of-file, never closing: like the daemon, keep polling so a
    // failed write shows the loss.
    laser.startPolling(50);
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    await vi.waitFor(() => expect(sim).toMatchObject({ echo: false, prompt: false, heartbeat: false }), { timeout: 3000 });
    expect(await laser.readState()).toMatchObject({ emission: true, wavelength_nm: 900, mode_locked: true, tuning: false });
    expect(events.map((e) => e.kind)).not.toContain("garbage");
  });
});
