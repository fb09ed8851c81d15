// The Mai Tai driver against its simulator over a real pty pair (socat) with the real serial bindings.
import { filter, firstValueFrom, take, timeout, toArray } from "rxjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { SpectraPhysicsMaiTai } from "../../src/drivers/spectra-physics-maitai.js";
import type { TunableLaserBehaviour } from "../../simulators/tunable-laser.js";
import { MaiTaiSimulator } from "../../simulators/spectra-physics-maitai.js";
import { lineFaultTests } from "./line-faults.js";
import { readingsWhileTuning } from "./tuning.js";

let sim: MaiTaiSimulator;
let laser: SpectraPhysicsMaiTai;

/** Fast enough for tests, slow enough to watch on a busy machine: warm in 600 ms, 5 ms per nm, a shutter that takes 80 ms. */
async function connect(options: { model?: "MaiTai" | "InSight"; behaviour?: Partial<TunableLaserBehaviour>; timing?: object } = {}) {
  sim = new MaiTaiSimulator(options.model, { warmUpMs: 600, tuneMsPerNm: 5, shutterMs: 80, ...options.behaviour });
  await sim.start();
  laser = new SpectraPhysicsMaiTai({ path: sim.path }, { timeoutMs: 300, retries: 1, backoffMs: [50, 400], ...options.timing }, { confirmMs: 1000, intervalMs: 20, warmUpMs: 2000 });
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

describe("Spectra-Physics Mai Tai over a pty", () => {
  it("identifies from *IDN? and turns the watchdog off at connect", async () => {
    await connect();
    expect(sim.watchdogS).toBe(0);
    expect(await laser.identify()).toEqual({
      manufacturer: "Spectra Physics",
      model: "MaiTai",
      serial_number: "3312",
      firmware: "0245-2.00.34 / CD00000019 / 214-00.004.057",
    });
  });

  it("warms up on the first ON, then switches the pump on with a second", async () => {
    await connect();
    expect(await laser.readState()).toMatchObject({ emission: false, warmed_up_percent: 0, power_W: 0, mode_locked: false });
    const on = laser.setEmission(true);
    const warming = await vi.waitFor(async () => {
      const state = await laser.readState();
      expect(state.warmed_up_percent).toBeGreaterThan(0);
      return state;
    });
    expect(warming.warmed_up_percent).toBeLessThan(100);
    expect(warming.emission).toBe(false);
    await on;
    expect(sim.emission).toBe(true);
    const state = await laser.readState();
    expect(state).toMatchObject({ emission: true, warmed_up_percent: 100, mode_locked: true, wavelength_nm: 800, tuning: false });
    expect(state.power_W).toBeCloseTo(sim.gainW(800), 2);

    await laser.setEmission(false);
    expect(await laser.readState()).toMatchObject({ emission: false, power_W: 0, warmed_up_percent: 100 });
    await laser.setEmission(true); // still warm: on at once
    expect(sim.pumpOn).toBe(true);
  });

  it("opens and closes the shutter, waiting for SHUTTER? to follow", async () => {
    await connectLasing();
    await laser.setShutter(true);
    expect(sim.shutterOpen).toBe(true);
    expect((await laser.readState()).shutter_open).toBe(true);
    await laser.setShutter(false);
    expect(sim.shutterOpen).toBe(false);
    expect((await laser.readState()).shutter_open).toBe(false);
  });

  it("a setting resolves with the reading that confirmed it, dated when the shutter moved; polls pause meanwhile", async () => {
    await connect({ behaviour: { warmUpMs: 0, shutterMs: 300 } });
    await laser.setEmission(true);
    await laser.setShutter(true);
    const readings: { time: number; shutter_open: boolean }[] = [];
    laser.state$.subscribe(({ time, state }) => readings.push({ time, shutter_open: state.shutter_open }));
    laser.startPolling(5);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const reading = await laser.setShutter(false);
    const done = Date.now();
    expect(reading.state.shutter_open).toBe(false);
    // Between the command and the confirmation, and not at either end: the shutter took 300 ms to close.
    expect(reading.time).toBeGreaterThan(sim.shutterSettledAt - 150);
    expect(reading.time).toBeLessThan(done);
    // No periodic reading was taken during the setting: every other reading is from before it or after it.
    expect(readings.filter((r) => r.time >= started && r.time < done)).toEqual([{ time: reading.time, shutter_open: false }]);
    expect(readings.filter((r) => r.time < reading.time).every((r) => r.shutter_open)).toBe(true);
  });

  it("tunes: mode-lock lost and the wavelength moving while it tunes, power following the gain curve after", async () => {
    await connectLasing();
    const at800 = (await laser.readState()).power_W;
    await laser.setWavelength(920); // 120 nm at 5 ms/nm: 600 ms
    expect(sim.targetNm).toBe(920);
    const during = await readingsWhileTuning(laser);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((s) => !s.mode_locked)).toBe(true);
    expect(during.some((s) => s.wavelength_nm > 800 && s.wavelength_nm < 920)).toBe(true);
    const there = await laser.readState();
    expect(there).toMatchObject({ wavelength_nm: 920, mode_locked: true, emission: true });
    expect(there.power_W).toBeCloseTo(sim.gainW(920), 2);
    expect(there.power_W).toBeLessThan(at800);
  });

  it("refuses a wavelength outside the laser's range before sending it, and any power setting", async () => {
    await connect();
    await expect(laser.setWavelength(1100)).rejects.toThrow("1100 nm is outside the tuning range 690–1040 nm");
    await expect(laser.setWavelength(900.5)).rejects.toThrow("whole nm, not 900.5 nm");
    await expect(laser.setPower(1)).rejects.toThrow("no power control");
    expect(sim.targetNm).toBe(800);
  });

  it("takes its range from the laser: an InSight tunes to 1200 nm", async () => {
    await connect({ model: "InSight" });
    expect((await laser.identify()).model).toBe("InSight");
    await laser.setWavelength(1200);
    expect(sim.targetNm).toBe(1200);
  });

  it("rejects a set point the laser did not take", async () => {
    await connect();
    sim.behaviour.range = [690, 900]; // a laser narrower than it said at connect: it drops WAVELENGTH 950
    await expect(laser.setWavelength(950)).rejects.toThrow("did not take WAVELENGTH 950: its set point is still 800 nm");
  });

  it("publishes polled state, dated to below the millisecond", async () => {
    await connect();
    laser.startPolling(30);
    const readings = await firstValueFrom(laser.state$.pipe(take(3), toArray(), timeout(3000)));
    expect(readings.map((r) => r.state.wavelength_nm)).toEqual([800, 800, 800]);
    // Whole milliseconds made a short session's readings evenly spaced at times: nwbinspector's check_regular_timestamps.
    expect(readings.some((r) => !Number.isInteger(r.time))).toBe(true);
  });

  lineFaultTests({
    connect: (timing) => connect({ timing }),
    sim: () => sim,
    driver: () => laser,
    firstQuery: "*STB?",
    timeoutMs: 300,
    serialNumber: "3312",
    exercise: async () => expect(await laser.readState()).toMatchObject({ emission: false, wavelength_nm: 800, shutter_open: false }),
  });

  it("reconnects after the port vanishes, turns the watchdog off again and reads the same state", async () => {
    const events = await connectLasing();
    await laser.setWavelength(850);
    await vi.waitFor(async () => expect((await laser.readState()).tuning).toBe(false));
    sim.watchdogS = 10; // as after a power cycle
    const back = firstValueFrom(laser.events$.pipe(filter((e) => e.kind === "reconnected"), timeout(8000)));
    // A vanished pty may read as endless end-of-file, never closing: like the daemon, keep polling so a
    // failed write shows the loss.
    laser.startPolling(50);
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    await vi.waitFor(() => expect(sim.watchdogS).toBe(0), { timeout: 3000 });
    expect(await laser.readState()).toMatchObject({ emission: true, wavelength_nm: 850, mode_locked: true, tuning: false });
  });
});
