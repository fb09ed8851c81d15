// What other software sends a Scientifica PMT controller, replayed byte for byte over the simulator's real
// pty (opened with the serial bindings, no rigd code between), with every reply checked. The sequences
// are written from the command use of ScanImage's controller classes and acq4's Scientifica conventions
// (see the table in simulators/scientifica-pmt.ts), not copied from them.
import { beforeEach, describe, expect, it } from "vitest";
import { ScientificaPmtSimulator } from "../../simulators/scientifica-pmt.js";
import { type RawSerial, connect, runExample } from "./raw-serial.js";

let sim: ScientificaPmtSimulator;
let port: RawSerial;

beforeEach(async () => {
  sim = new ScientificaPmtSimulator({ serialNumber: "PMT-2741", firmware: "3.12", uid: "5E0C1D7A", restartMs: 300 });
  port = await connect(sim, { baudRate: 9600, commandEnd: "\r", replyEnd: "\r" });
});

describe("Scientifica PMT controller replays", () => {
  it("ScanImage: start-up, status polls, power, gains as sprintf('%d') writes them, and a trip reset by RESTART", async () => {
    // reinit(): handshake, identification, gain over serial.
    await port.replay([
      ["SCIENTIFICA", "Y519"],
      ["SERIAL", "PMT-2741"],
      ["VER", "3.12"],
      ["UID", "5E0C1D7A"],
      ["DESC", "PMT Controller"],
      ["SOURCE 3", "A"],
    ]);
    // queryStatus(): one poll.
    await port.replay([
      ["ENABLE", "0"],
      ["A", "0.000"],
      ["B", "0.000"],
      ["V", "0"],
      ["SOURCE", "3"],
    ]);
    // setPower(true), then setGain for each PMT: MATLAB's %d prints 0.7 as 7.000000e-01, 1 as 1.
    await port.replay([
      ["ENABLE 1", "A"],
      ["A 7.000000e-01", "A"],
      ["B 1", "A"],
      ["B 4.500000e-01", "A"],
    ]);
    expect(sim.channels.A).toMatchObject({ enabled: true, gain: 0.7 });
    expect(sim.channels.B).toMatchObject({ enabled: true, gain: 0.45 });
    await port.replay([
      ["ENABLE", "1"],
      ["A", "0.700"],
      ["B", "0.450"],
    ]);

    sim.channels.B.lightLevel = 1e5; // floods channel B: ~300 µA at 0.45 V, over its 100 µA limit
    await port.replay([["V", "2"]]);
    sim.channels.B.lightLevel = 0;
    // resetTrip(): RESTART has no reply, and the controller hears nothing while it reboots.
    await port.replay([["RESTART"], ["V"]]);
    await new Promise((r) => setTimeout(r, 300));
    await port.replay([
      ["V", "0"],
      ["ENABLE", "1"],
      ["B", "0.450"],
    ]);
  });

  it("acq4's conventions: lower-case commands, DESC read and set", async () => {
    await port.replay([
      ["scientifica", "Y519"],
      ["desc", "PMT Controller"],
      ["desc 2P rig, PMTs A and B", "A"],
      ["desc", "2P rig, PMTs A and B"],
      ["serial", "PMT-2741"],
      ["ver", "3.12"],
      ["a 0.5", "A"],
      ["a", "0.500"],
    ]);
  });

  it("refuses what the controller refuses, keeps the setting, and takes CRLF, several commands at once and any decimal form", async () => {
    await port.replay([
      ["A 0.6", "A"],
      ["A 1.5", "E,2"],
      ["A -0.1", "E,2"],
      ["A 0,7", "E,2"],
      ["A 0.5 0.6", "E,2"],
      ["A", "0.600"],
      ["ENABLE 2", "E,2"],
      ["SOURCE 4", "E,2"],
      ["RESTART NOW", "E,2"],
      ["GAIN", "E,1"],
      ["A .25", "A"],
      ["A 2.5E-1", "A"],
    ]);
    expect(await port.exchange("VER\r\n")).toBe("3.12\r");
    expect(await port.exchange("SERIAL\r\n")).toBe("PMT-2741\r");
    expect(await port.exchange("A\rB\rV\r", 3)).toBe("0.250\r0.000\r0\r");
    expect(sim.channels.A.gain).toBe(0.25);
  });

  it("the example client session runs against it", async () => {
    await port.close();
    const stdout = await runExample("scientifica_pmt_session.ts", sim.path);
    expect(stdout).toContain("SCIENTIFICA -> Y519");
    expect(stdout).toContain("A 7.000000e-01 -> A");
    expect(stdout).toContain("A -> 0.700");
    expect(sim.channels.A.gain).toBe(0.7);
    expect(sim.gainSource).toBe(3);
  });
});
