// The faults every serial driver must weather, checked the same way for each: silence (timeouts with
// bounded retries, then recovery), garbage (reported and retried) and a slow answer (waited out). Each
// driver's test names what differs: its first query, its serial number and a round of commands to run.
import { filter, take } from "rxjs";
import { expect, it } from "vitest";
import type { Device, DeviceEvent } from "../../src/drivers/device.js";
import type { SerialSimulator } from "../../simulators/serial-simulator.js";

export interface LineFaultSubject {
  /** Starts a fresh simulator and connected driver (with `timing` over the test's own); resolves with the driver's events as they come. */
  connect(timing?: { timeoutMs: number }): Promise<DeviceEvent[]>;
  sim(): SerialSimulator;
  driver(): Device<unknown>;
  /** The first query readState() sends, as the timeout error names it. */
  firstQuery: string;
  /** The test's command timeout. */
  timeoutMs: number;
  serialNumber: string;
  /** Commands and reads that must work on a healthy line, with their checks. */
  exercise(): Promise<void>;
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function lineFaultTests(s: LineFaultSubject): void {
  it("times out with bounded retries when the device is silent, then recovers", async () => {
    const events = await s.connect();
    s.sim().faults.silent = true;
    await expect(s.driver().readState()).rejects.toThrow(new RegExp(`no reply to '${escaped(s.firstQuery)}' within ${s.timeoutMs} ms after 2 attempts`));
    expect(events.map((e) => e.kind)).toEqual(["timeout", "retry", "timeout"]);
    s.sim().faults.silent = false;
    await s.exercise();
  });

  it("reports garbage as an event and retries", async () => {
    const events = await s.connect();
    s.sim().faults.garbage = true;
    s.driver().events$.pipe(filter((e) => e.kind === "garbage"), take(1)).subscribe(() => (s.sim().faults.garbage = false));
    expect((await s.driver().identify()).serial_number).toBe(s.serialNumber);
    expect(events.map((e) => e.kind)).toEqual(["garbage", "retry"]);
  });

  it("waits out a slow answer within its timeout", async () => {
    const events = await s.connect({ timeoutMs: 800 });
    s.sim().faults.delayMs = 150;
    await s.exercise();
    expect(events).toEqual([]);
  });
}
