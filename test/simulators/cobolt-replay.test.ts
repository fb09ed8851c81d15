// What other software sends a Cobolt, replayed byte for byte over the simulator's real pty (opened with the
// real serial bindings, as those clients open a COM port), with every reply checked. The sequences are
// written from the 06-01 manual's command list and from what each client is documented to send, in its order:
// python-microscope's CoboltLaser (constructor, enable, power, status, shutdown), Cobolt's own pycobolt
// (identification, then constant power / current and modulation) and Cobolt's Micro-Manager adapter
// (identification, the properties it creates for a 06-MLD, then on / off through restart / abort).
import { beforeEach, describe, expect, it } from "vitest";
import { CoboltSimulator } from "../../simulators/cobolt.js";
import { type RawSerial, connect, runExample } from "./raw-serial.js";

const FRAMING = { baudRate: 115200, commandEnd: "\r", replyEnd: "\r\n" };
const ILLEGAL = "Syntax error: illegal command";
const OUT_OF_RANGE = "Syntax error: Value is out of range.";

let sim: CoboltSimulator;
let laser: RawSerial;

beforeEach(async () => {
  sim = new CoboltSimulator("17354", 0.1, 488);
  laser = await connect(sim, FRAMING);
});

const settle = () => new Promise((r) => setTimeout(r, 250)); // the simulated power ramp

describe("Cobolt simulator replaying other clients", () => {
  it("python-microscope's CoboltLaser: connect, enable, set power, status, shut down", async () => {
    // Constructor: serial number, autostart off, maximum power; initialize(): no direct control, then @cob1.
    await laser.replay([
      ["sn?", "17354"],
      ["@cobas 0", "OK"],
      ["gmlp?", "100.000000"],
      ["@cobasdr 0", "OK"],
      ["@cob1", "OK"],
      // Enable: l1, then l? to confirm.
      ["l1", "OK"],
      ["l?", "1"],
      // Power 30 % of 100 mW, in W with 4 decimals through the undocumented @cobasp.
      ["@cobasp 0.0300", "OK"],
    ]);
    await settle();
    await laser.replay([
      ["l?", "1"],
      ["pa?", "0.0300"],
      // get_status()
      ["l?", "1"],
      ["p?", "0.0300"],
      ["pa?", "0.0300"],
      ["f?", "0"],
      ["hrs?", "1234.50"],
      // clearFault(), then shutdown: disable, @cob0.
      ["cf", "OK"],
      ["l0", "OK"],
      ["@cob0", "OK"],
      ["l?", "0"],
      ["pa?", "0.0000"],
    ]);
    expect(sim.directControl).toBe(false);
  });

  it("pycobolt: identify a 06-MLD, autostart on with the key, constant power, constant current, modulation", async () => {
    await laser.replay([
      // _identify_(): firmware first (a dotted version means 06-series firmware), then serial and model.
      ["gfv?", "4.120"],
      ["sn?", "17354"],
      ["glm?", "0488-06-01-0100-100"],
      ["?", "OK"],
      // Power-up: autostart on, waiting for the key; l1 is refused in autostart mode.
      ["gom?", "1"],
      ["l1", "Syntax error: not allowed in autostart mode."],
      ["l?", "0"],
      ["ilk?", "0"],
      ["f?", "0"],
      // turn_on(): @cob1 restarts the sequence, which waits for the key.
      ["@cob1", "OK"],
      ["gom?", "1"],
      ["l?", "0"],
    ]);
    sim.turnKey();
    await laser.replay([
      ["gom?", "2"],
      ["l?", "1"],
      // constant_power(20): set point in W, then cp.
      ["p 0.02", "OK"],
      ["cp", "OK"],
      ["gam?", "1"],
      ["p?", "0.0200"],
      // constant_current(75): mA on a 06-MLD, then ci.
      ["slc 75", "OK"],
      ["ci", "OK"],
      ["gam?", "0"],
      ["glc?", "75.0"],
      ["i?", "75.0"],
      // Modulation mode with 30 mW and digital modulation.
      ["slmp 30", "OK"],
      ["glmp?", "30.000000"],
      ["sdmes 1", "OK"],
      ["gdmes?", "1"],
      ["sames 0", "OK"],
      ["games?", "0"],
      ["em", "OK"],
      ["gam?", "2"],
      ["gom?", "4"],
      ["hrs?", "1234.50"],
      // turn_off()
      ["l0", "OK"],
      ["l?", "0"],
      ["gom?", "0"],
    ]);
  });

  it("Cobolt's Micro-Manager adapter: the 06-MLD's properties, then on and off through restart and abort", async () => {
    await laser.replay([
      // LaserFactory: firmware, model (-06-01- makes it a 06-MLD).
      ["gfv?", "4.120"],
      ["glm?", "0488-06-01-0100-100"],
      // Properties: model, serial, firmware, hours, key switch, CDRH (autostart) mode, state.
      ["glm?", "0488-06-01-0100-100"],
      ["gsn?", "17354"],
      ["gfv?", "4.120"],
      ["hrs?", "1234.50"],
      ["gkses?", "1"],
      ["gas?", "1"],
      ["gom?", "1"],
      // Shutter command probe, run mode, power and current limits and set points, modulation.
      ["l0r", "OK"],
      ["gas?", "1"],
      ["gam?", "1"],
      ["gmlp?", "100.000000"],
      ["glp?", "50.000000"],
      ["pa?", "0.0000"],
      ["gmlc?", "150.0"],
      ["glc?", "0.0"],
      ["i?", "0.0"],
      ["gdmes?", "0"],
      ["games?", "0"],
      ["galis?", "0"],
      ["salis 1", "OK"],
      ["galis?", "1"],
      ["glmp?", "0.000000"],
      // Power set point in mW.
      ["slp 40", "OK"],
      ["glp?", "40.000000"],
      ["p?", "0.0400"],
      // On in CDRH mode: restart, then the operator turns the key.
      ["restart", "OK"],
      ["gom?", "1"],
    ]);
    sim.turnKey();
    await settle();
    await laser.replay([
      ["gom?", "2"],
      ["pa?", "0.0400"],
      ["i?", "60.0"],
      // Off: abort, and the laser stays aborted until restart.
      ["abort", "OK"],
      ["gom?", "6"],
      ["l?", "0"],
      ["restart", "OK"],
      ["gom?", "1"],
    ]);
  });

  it("answers errors with the device's wording, and takes CRLF-ended commands (as pyLabLib sends them) one reply each", async () => {
    await laser.replay(
      [
        ["gsn?", "17354"],
        ["xyz?", ILLEGAL],
        ["p", ILLEGAL],
        ["p abc", ILLEGAL],
        ["l? 1", ILLEGAL],
        ["p 0.5", OUT_OF_RANGE],
        ["slc 151", OUT_OF_RANGE],
        ["@cobas 2", OUT_OF_RANGE],
        ["p?", "0.0500"],
        ["@cobas?", "1"],
        ["@cobas 0", "OK"],
        ["@cobas?", "0"],
        ["gom?", "0"],
      ],
      "\r\n",
    );
  });

  it("an opening interlock stops emission with fault 3 until cleared and restarted", async () => {
    await laser.replay([
      ["@cobas 0", "OK"],
      ["l1", "OK"],
      ["l?", "1"],
    ]);
    sim.interlockOpen = true;
    await laser.replay([
      ["l?", "0"],
      ["ilk?", "1"],
      ["f?", "3"],
      ["gom?", "5"],
      ["leds?", "9"],
      ["l1", "OK"],
      ["l?", "0"],
    ]);
    sim.interlockOpen = false;
    await laser.replay([
      ["cf", "OK"],
      ["f?", "0"],
      ["@cobasky 0", "OK"],
      ["@cob1", "OK"],
      ["l?", "1"],
      ["gom?", "2"],
      ["@cobas 1", "OK"],
      ["l?", "0"],
      ["@cobas?", "1"],
    ]);
  });

  it("the example client session runs against the simulator", async () => {
    await laser.close();
    const transcript = await runExample("cobolt_session.ts", sim.path);
    expect(transcript).toContain("> l1         < Syntax error: not allowed in autostart mode.");
    expect(transcript).toContain("> pa?        < 0.0200");
    expect(transcript).toContain("> l?         < 0");
  });
});
