// The Thorlabs PMT2100 driver against its simulator over a real pty pair: through the serial
// bindings, and through the usbtmc transport, which opens the pty as the plain file /dev/usbtmc0 would be.
import { filter, firstValueFrom, timeout } from "rxjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DeviceEvent } from "../../src/drivers/device.js";
import { DeviceDisconnectedError, SerialLine } from "../../src/drivers/serial-line.js";
import { ThorlabsPmt2100, UsbtmcTransport } from "../../src/drivers/thorlabs-pmt2100.js";
import { ThorlabsPmt2100Simulator } from "../../simulators/thorlabs-pmt2100.js";
import { lineFaultTests } from "./line-faults.js";

let sim: ThorlabsPmt2100Simulator;
let pmt: ThorlabsPmt2100;
const TIMING = { timeoutMs: 250, retries: 1, backoffMs: [50, 400] as [number, number] };

async function connect({ usbtmc = false, timing = {} } = {}) {
  sim = new ThorlabsPmt2100Simulator("00AG8701", "1.4.0");
  await sim.start();
  pmt = new ThorlabsPmt2100(usbtmc ? new UsbtmcTransport(sim.path) : { path: sim.path }, { ...TIMING, ...timing });
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

describe("Thorlabs PMT2100 over a serial pty", () => {
  it("clears stale errors, reads the PMT type and identifies", async () => {
    await connect();
    expect(sim.received[0]).toBe("*CLS;:SYST:ERR?");
    expect(sim.received.indexOf("SENS:DET:FUNC?")).toBeGreaterThan(0);
    expect(await pmt.identify()).toEqual({ manufacturer: "THORLABS", model: "pmt2100", serial_number: "00AG8701", firmware: "1.4.0" });
    expect(pmt.channels).toEqual(["1"]);
    expect(pmt.gainUnit).toBe("V");
  });

  it("reads and sets enable, gain and bandwidth", async () => {
    await connect();
    expect(await pmt.readState()).toEqual({ enabled: false, channels: { "1": { gain: 0, tripped: false } } });
    await pmt.setEnabled(true);
    await pmt.setGain("1", 0.72);
    expect(sim.pmt).toMatchObject({ enabled: true, gain: 0.72 });
    expect(sim.received).toContain("SENS:FUNC:ON H10721;:SYST:ERR?");
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { "1": { gain: 0.72, tripped: false } } });
    await pmt.setBandwidth(2.5e6);
    expect(sim.bandwidthHz).toBe(2.5e6);
    expect(await pmt.readBandwidth()).toBe(2.5e6);
    await pmt.setEnabled(false);
    expect(sim.pmt.signalScale).toBe(0);
    expect((await pmt.readState()).enabled).toBe(false);
  });

  it("rejects bad values before sending them, and reports what the device refuses", async () => {
    await connect();
    const sent = sim.received.length;
    await expect(pmt.setGain("1", 1.2)).rejects.toThrow("gain for channel 1 must be 0 V (off) or between 0.5 and 1.1 V (H10721), got 1.2");
    await expect(pmt.setGain("1", 0.3)).rejects.toThrow("between 0.5 and 1.1 V (H10721), got 0.3");
    await expect(pmt.setGain("A", 0.5)).rejects.toThrow("no channel 'A' (channels: 1)");
    await expect(pmt.setBandwidth(1e6)).rejects.toThrow("bandwidth must be 80 MHz, 2.5 MHz or 250 kHz, got 1000000 Hz");
    expect(sim.received.length).toBe(sent);
    sim.detectorType = "H10770PA-40"; // a different PMT fitted behind the driver's back
    await expect(pmt.setEnabled(true)).rejects.toThrow(`Thorlabs PMT2100 refused 'SENS:FUNC:ON H10721': -224,"Illegal parameter value"`);
    expect(sim.errors).toEqual([]);
  });

  it("takes the gain range of the PMT type the device reports: 1.1 V for an H10721, 0.9 V at most for an H10770PA-40", async () => {
    await connect();
    await pmt.setGain("1", 1.1);
    expect(sim.pmt.gain).toBe(1.1);
    expect((await pmt.readState()).channels["1"]!.gain).toBe(1.1);
    await pmt.setGain("1", 0); // turned down, as ThorImage does before switching a PMT off
    expect(sim.pmt.gain).toBe(0);
    await pmt.close();
    await sim.stop();

    sim = new ThorlabsPmt2100Simulator("00AG8702", "1.4.0", "H10770PA-40");
    await sim.start();
    pmt = new ThorlabsPmt2100({ path: sim.path }, TIMING);
    await pmt.connect();
    await pmt.setGain("1", 0.9);
    await expect(pmt.setGain("1", 0.95)).rejects.toThrow("gain for channel 1 must be 0 V (off) or between 0.5 and 0.9 V (H10770PA-40), got 0.95");
    expect(sim.pmt.gain).toBe(0.9);
  });

  it("answers an unknown command with SCPI's -113 in the error queue", async () => {
    sim = new ThorlabsPmt2100Simulator();
    await sim.start();
    const line = new SerialLine({ path: sim.path, baudRate: 115200 }, { commandEnd: "\n", replyEnd: "\n" }, { timeoutMs: 300 });
    await line.open();
    try {
      expect(await line.query("SENS:BOGUS 1;:SYST:ERR?")).toBe('-113,"Undefined header"');
      expect(await line.query("syst:err?")).toBe('0,"No error"');
      expect(await line.query(":SENSe:FILTer:LPASs:FREQuency 250 kHz;:sens:filt:freq?;:SYSTEM:ERROR?")).toBe('250000Hz;0,"No error"');
    } finally {
      await line.close();
    }
  });

  it("trips on too much light, reports the fault, and recovers after a reset", async () => {
    const events = await connect();
    await pmt.setEnabled(true);
    await pmt.setGain("1", 0.8);
    pmt.startPolling(30);
    const fault = next("fault");
    sim.pmt.lightLevel = 1000; // 1000 µA at 1 V → ~197 µA at 0.8 V: over the 100 µA limit
    expect((await fault).message).toMatch(/channel 1: overload protection tripped/);
    expect(sim.pmt.signalScale).toBe(0);
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { "1": { gain: 0.8, tripped: true } } });

    sim.pmt.lightLevel = 1;
    const cleared = next("fault_cleared");
    await pmt.resetTrip();
    expect((await cleared).message).toMatch(/channel 1: overload trip cleared/);
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { "1": { gain: 0.8, tripped: false } } });
    expect(sim.pmt.signalScale).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === "fault")).toHaveLength(1);
  });

  it("stays tripped after a reset while the light is still too strong", async () => {
    await connect();
    await pmt.setEnabled(true);
    await pmt.setGain("1", 1);
    sim.pmt.lightLevel = 150;
    await pmt.resetTrip();
    expect((await pmt.readState()).channels["1"]!.tripped).toBe(true);
  });

  lineFaultTests({
    connect: (timing) => connect({ timing }),
    sim: () => sim,
    driver: () => pmt,
    firstQuery: "SENS:FUNC:STAT? H10721",
    timeoutMs: 250,
    serialNumber: "00AG8701",
    exercise: async () => {
      await pmt.setGain("1", 0.6);
      expect((await pmt.readState()).channels["1"]!.gain).toBe(0.6);
    },
  });

  it("reconnects after the port vanishes and sets the protocol up again", async () => {
    const events = await connect();
    await pmt.setGain("1", 0.65);
    sim.errors.push('-350,"Queue overflow"'); // left over from before the cable was pulled
    // Polling notices the loss: a hung-up pty may read as endless end-of-file, which serialport never reports.
    pmt.startPolling(50);
    const back = next("reconnected");
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    // The first set-up command may be lost while the simulator reopens its end; the driver retries it.
    await vi.waitFor(() => expect(sim.received.filter((m) => m === "SENS:DET:FUNC?")).toHaveLength(2), { timeout: 2000 });
    expect(sim.errors).toEqual([]); // *CLS ran again
    expect((await pmt.readState()).channels["1"]!.gain).toBe(0.65);
  });
});

describe("Thorlabs PMT2100 over the usbtmc transport", () => {
  it("identifies, sets and reads state through a character device opened as a plain file", async () => {
    await connect({ usbtmc: true });
    expect((await pmt.identify()).model).toBe("pmt2100");
    await pmt.setEnabled(true);
    await pmt.setGain("1", 0.9);
    await pmt.setBandwidth(250e3);
    expect(await pmt.readState()).toEqual({ enabled: true, channels: { "1": { gain: 0.9, tripped: false } } });
    expect(await pmt.readBandwidth()).toBe(250e3);
  });

  it("reopens the device file after it vanishes", async () => {
    const events = await connect({ usbtmc: true });
    pmt.startPolling(50); // a device file only notices the loss when used
    const back = next("reconnected");
    await sim.vanish(300);
    await back;
    expect(events.map((e) => e.kind)).toContain("disconnected");
    expect((await pmt.identify()).serial_number).toBe("00AG8701");
  });

  it("fails to connect, as disconnected, when there is no such device file", async () => {
    pmt = new ThorlabsPmt2100(new UsbtmcTransport("/dev/usbtmc-none"), TIMING);
    await expect(pmt.connect()).rejects.toThrow(DeviceDisconnectedError);
  });
});
