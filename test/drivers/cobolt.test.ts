// The Cobolt driver against its simulator over a real pty pair with the real serial bindings.
import { firstValueFrom, filter, toArray, take, timeout } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { CoboltLaser } from "../../src/drivers/cobolt.js";
import { CoboltSimulator } from "../../simulators/cobolt.js";
import { lineFaultTests } from "./line-faults.js";

let sim: CoboltSimulator;
let laser: CoboltLaser;

async function connect(timing = {}) {
  sim = new CoboltSimulator("17354");
  await sim.start();
  laser = new CoboltLaser({ path: sim.path }, 488, { timeoutMs: 150, retries: 1, backoffMs: [50, 400], ...timing });
  const events: DeviceEvent[] = [];
  laser.events$.subscribe((e) => events.push(e));
  await laser.connect();
  return events;
}

afterEach(async () => {
  await laser?.close();
  await sim?.stop();
});

describe("Cobolt laser over a pty", () => {
  it("identifies, switches emission and sets power; autostart is turned off at connect", async () => {
    await connect();
    expect(sim.autostart).toBe(false);
    expect(await laser.identify()).toEqual({ manufacturer: "Cobolt", model: "Cobolt 488 nm", serial_number: "17354" });
    await laser.setPower(0.08);
    expect(sim.setPointW).toBe(0.08);
    await laser.setEmission(true);
    await new Promise((r) => setTimeout(r, 250)); // the simulated power ramp
    const state = await laser.readState();
    expect(state).toMatchObject({ emission: true, shutter_open: true, wavelength_nm: 488 });
    expect(state.power_W).toBeCloseTo(0.08, 4);
    await laser.setEmission(false);
    expect((await laser.readState()).power_W).toBe(0);
    await expect(laser.setWavelength()).rejects.toThrow("fixed wavelength (488 nm)");
    await expect(laser.setPower(0.5)).rejects.toThrow("Cobolt refused 'p 0.5000': Syntax error: Value is out of range.");
  });

  it("passes on the device's refusal of l1 when autostart has come back on (a power cycle)", async () => {
    await connect();
    sim.autostart = true;
    await expect(laser.setEmission(true)).rejects.toThrow("Cobolt refused 'l1': Syntax error: not allowed in autostart mode.");
    expect(sim.on).toBe(false);
  });

  it("reports an open interlock as a fault and stays dark", async () => {
    await connect();
    sim.interlockOpen = true;
    await laser.setEmission(true);
    expect(await laser.readState()).toMatchObject({ emission: false, fault: "interlock open" });
  });

  it("publishes polled state", async () => {
    await connect();
    laser.startPolling(30);
    const readings = await firstValueFrom(laser.state$.pipe(take(3), toArray(), timeout(3000)));
    expect(readings.map((r) => r.state.wavelength_nm)).toEqual([488, 488, 488]);
    expect(readings[2]!.time).toBeGreaterThanOrEqual(readings[0]!.time);
  });

  lineFaultTests({
    connect,
    sim: () => sim,
    driver: () => laser,
    firstQuery: "l?",
    timeoutMs: 150,
    serialNumber: "17354",
    exercise: async () => {
      expect((await laser.readState()).emission).toBe(false);
      expect((await laser.identify()).serial_number).toBe("17354");
    },
  });

  it("reconnects with backoff after the port vanishes, and sets the protocol up again", async () => {
    const events = await connect();
    sim.autostart = true;
    const back = firstValueFrom(laser.events$.pipe(filter((e) => e.kind === "reconnected"), timeout(8000)));
    // A vanished pty can read as endless end-of-file and never close: like the daemon, keep polling so a
    // failed write shows the loss.
    laser.startPolling(50);
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.autostart).toBe(false); // configure() ran again
    expect((await laser.identify()).serial_number).toBe("17354");
  });
});
