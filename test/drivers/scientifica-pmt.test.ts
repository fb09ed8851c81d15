// The Scientifica PMT controller driver against its simulator over a real pty pair with the real serial bindings.
import { filter, firstValueFrom, take, timeout, toArray } from "rxjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { ScientificaPmtController } from "../../src/drivers/scientifica-pmt.js";
import { DeviceTimeoutError } from "../../src/drivers/serial-line.js";
import { ScientificaPmtSimulator } from "../../simulators/scientifica-pmt.js";
import { lineFaultTests } from "./line-faults.js";

let sim: ScientificaPmtSimulator;
let pmt: ScientificaPmtController;

async function connect({ restartMs = 100, restartTimeoutMs = 2000, timing = {} } = {}) {
  sim = new ScientificaPmtSimulator({ serialNumber: "PMT-2741", firmware: "3.12", restartMs });
  await sim.start();
  pmt = new ScientificaPmtController({ path: sim.path }, { timeoutMs: 250, retries: 1, backoffMs: [50, 400], ...timing }, restartTimeoutMs);
  const events: DeviceEvent[] = [];
  pmt.events$.subscribe((e) => events.push(e));
  await pmt.connect();
  return events;
}

const next = (kind: DeviceEvent["kind"]) => firstValueFrom(pmt.events$.pipe(filter((e) => e.kind === kind), timeout(8000)));

afterEach(async () => {
  await pmt?.close();
  await sim?.stop();
});

describe("Scientifica PMT controller over a pty", () => {
  it("shakes hands, selects serial gain control and identifies", async () => {
    await connect();
    expect(sim.received[0]).toBe("SCIENTIFICA");
    expect(sim.received.indexOf("SOURCE 3")).toBeGreaterThan(0);
    expect(sim.gainSource).toBe(3);
    expect(await pmt.identify()).toEqual({ manufacturer: "Scientifica", model: "MDU PMT controller", serial_number: "PMT-2741", firmware: "3.12" });
    expect(pmt.channels).toEqual(["A", "B"]);
    expect(pmt.gainUnit).toBe("V");
  });

  it("reads and sets enable and both gains", async () => {
    await connect();
    expect(await pmt.readState()).toEqual({ enabled: false, channels: { A: { gain: 0, tripped: false }, B: { gain: 0, tripped: false } } });
    await pmt.setEnabled(true);
    await pmt.setGain("A", 0.625);
    await pmt.setGain("B", 0.4);
    expect(sim.channels.A).toMatchObject({ enabled: true, gain: 0.625 });
    expect(sim.channels.B).toMatchObject({ enabled: true, gain: 0.4 });
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { A: { gain: 0.625, tripped: false }, B: { gain: 0.4, tripped: false } } });
    await pmt.setEnabled(false);
    expect(sim.channels.A.signalScale).toBe(0);
    expect((await pmt.readState()).enabled).toBe(false);
  });

  it("rejects a gain out of range or for an unknown channel before sending it, and reports a refusal", async () => {
    await connect();
    const sent = sim.received.length;
    await expect(pmt.setGain("B", 1.2)).rejects.toThrow("gain for channel B must be between 0 and 1 V, got 1.2");
    await expect(pmt.setGain("C", 0.5)).rejects.toThrow("no channel 'C' (channels: A, B)");
    await expect(pmt.setGain("A", Number.NaN)).rejects.toThrow("must be between 0 and 1 V");
    expect(sim.received.length).toBe(sent);
    sim.maxGainV = 0.5; // a controller whose own limit is lower than ours refuses
    await expect(pmt.setGain("A", 0.8)).rejects.toThrow("Scientifica PMT controller refused 'A 0.800': E,2");
  });

  it("trips on too much light, reports the fault, and recovers after RESTART", async () => {
    const events = await connect();
    await pmt.setEnabled(true);
    await pmt.setGain("A", 0.9);
    await pmt.setGain("B", 0.5);
    pmt.startPolling(30);
    const fault = next("fault");
    sim.channels.A.lightLevel = 500; // 500 µA at 1 V → ~232 µA at 0.9 V: over the 100 µA limit
    expect((await fault).message).toMatch(/channel A: overload protection tripped/);
    expect(sim.channels.A.signalScale).toBe(0);
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { A: { gain: 0.9, tripped: true }, B: { gain: 0.5, tripped: false } } });

    sim.channels.A.lightLevel = 10;
    await pmt.resetTrip();
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { A: { gain: 0.9, tripped: false }, B: { gain: 0.5, tripped: false } } });
    expect(sim.channels.A.signalScale).toBeGreaterThan(0);
    const cleared = events.filter((e) => e.kind === "fault_cleared").map((e) => e.message);
    expect(cleared).toEqual([expect.stringMatching(/trips reset by RESTART; the controller rebooted and was silent for 0\.\d s/), expect.stringMatching(/channel A: overload trip cleared/)]);
    expect(events.filter((e) => e.kind === "fault")).toHaveLength(1);
  });

  it("waits out the controller's real silence after RESTART, holding other commands back meanwhile", async () => {
    const events = await connect({ restartMs: 1500, restartTimeoutMs: 4000 });
    sim.channels.B.enabled = true;
    sim.channels.B.gain = 1;
    sim.channels.B.lightLevel = 200;
    expect((await pmt.readState()).channels.B!.tripped).toBe(true);
    sim.channels.B.lightLevel = 0;
    const started = Date.now();
    const reset = pmt.resetTrip();
    await new Promise((r) => setTimeout(r, 100));
    expect(sim.restarting).toBe(true);
    const meanwhile = pmt.readState(); // waits for the reboot instead of timing out against it
    await reset;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect((await meanwhile).channels.B!.tripped).toBe(false);
    expect(events.map((e) => e.kind)).not.toContain("timeout");
    expect(events.map((e) => e.kind)).toContain("fault_cleared");
  });

  it("gives up on a controller that stays silent after RESTART, with a deadline", async () => {
    await connect({ restartMs: 5000, restartTimeoutMs: 600 });
    await expect(pmt.resetTrip()).rejects.toThrow(DeviceTimeoutError);
    await expect(pmt.resetTrip()).rejects.toThrow(/still silent 600 ms after RESTART/);
  });

  it("publishes polled state", async () => {
    await connect();
    await pmt.setGain("B", 0.3);
    pmt.startPolling(30);
    const readings = await firstValueFrom(pmt.state$.pipe(take(3), toArray(), timeout(3000)));
    expect(readings.map((r) => r.state.channels.B!.gain)).toEqual([0.3, 0.3, 0.3]);
  });

  lineFaultTests({
    connect: (timing) => connect({ timing }),
    sim: () => sim,
    driver: () => pmt,
    firstQuery: "ENABLE",
    timeoutMs: 250,
    serialNumber: "PMT-2741",
    exercise: async () => {
      await pmt.setEnabled(true);
      await pmt.setGain("A", 0.5);
      expect(await pmt.readState()).toMatchObject({ enabled: true, channels: { A: { gain: 0.5 } } });
    },
  });

  it("reconnects after the port vanishes and shakes hands and sets gain control up again", async () => {
    const events = await connect();
    await pmt.setGain("A", 0.7);
    sim.gainSource = 0; // as after a power cycle
    // Polling notices the loss: a hung-up pty may read as endless end-of-file, which serialport never reports.
    pmt.startPolling(50);
    const back = next("reconnected");
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    // The first handshake may be lost while the simulator reopens its end; the driver retries it.
    await vi.waitFor(() => expect(sim.gainSource).toBe(3), { timeout: 2000 });
    expect(sim.received.filter((c) => c === "SCIENTIFICA").length).toBeGreaterThanOrEqual(2);
    expect((await pmt.readState()).channels.A!.gain).toBe(0.7);
  });
});
