// The Cobolt driver against its simulator over a real pty pair (socat) with the real serial bindings.
import { firstValueFrom, filter, toArray, take, timeout } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { CoboltLaser } from "../../src/drivers/cobolt.js";
import { CoboltSimulator } from "../../simulators/cobolt.js";

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
    await expect(laser.setPower(0.5)).rejects.toThrow("Cobolt refused 'p 0.5000': Syntax error: value out of range");
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

  it("times out with bounded retries when the device is silent, then recovers", async () => {
    const events = await connect();
    sim.faults.silent = true;
    await expect(laser.readState()).rejects.toThrow(/no reply to 'l\?' within 150 ms after 2 attempts/);
    expect(events.map((e) => e.kind)).toEqual(["timeout", "retry", "timeout"]);
    sim.faults.silent = false;
    expect((await laser.readState()).emission).toBe(false);
  });

  it("reports garbage as an event and retries", async () => {
    const events = await connect();
    sim.faults.garbage = true;
    laser.events$.pipe(filter((e) => e.kind === "garbage"), take(1)).subscribe(() => (sim.faults.garbage = false));
    expect(await laser.identify()).toMatchObject({ serial_number: "17354" });
    expect(events.some((e) => e.kind === "garbage")).toBe(true);
  });

  it("waits out a slow answer within its timeout", async () => {
    const events = await connect({ timeoutMs: 400 });
    sim.faults.delayMs = 150;
    expect((await laser.identify()).serial_number).toBe("17354");
    expect(events).toEqual([]);
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
