// What control software other than rigd sends a Chameleon, byte for byte over the simulator's real pty, and every
// reply it must get. The sequences follow the Chameleon manual's command and query tables in the order common
// clients send them (written from the manual and their public command lists, not from their code).
import { describe, expect, it } from "vitest";
import { ChameleonSimulator } from "../../simulators/coherent-chameleon.js";
import { type RawSerial, connect, runExample, started } from "./raw-serial.js";

let sim: ChameleonSimulator;

/** A laser as a lab leaves it before a session, just powered up (echo and prompt on), warm and lasing at 920 nm. */
async function poweredUp(): Promise<RawSerial> {
  sim = new ChameleonSimulator({ tuneMsPerNm: 1, shutterMs: 0 });
  sim.lasingAt(920);
  return connect(sim, { baudRate: 19200, commandEnd: "\r\n", replyEnd: "\r\n" });
}

describe("Chameleon replies to other clients' sequences", () => {
  it("a Micro-Manager-style adapter: ECHO=0 and PROMPT=0 from power-up, one line each, then its property reads and the errors it matches", async () => {
    const laser = await poweredUp();
    const mW = String(Math.round(sim.gainW(920) * 1000));
    await laser.replay([
      ["ECHO=0", "CHAMELEON> ECHO=0"], // the echo turns off from the next command on
      ["PROMPT=0", "CHAMELEON> "], // the prompt printed after the last reply still leads this one
      ["?TMIN", "680"],
      ["?TMAX", "1080"],
      ["?VW", "920"],
      ["?L", "1"],
      ["?K", "1"],
      ["?S", "1"],
      ["?UF", mW],
      ["?MDLK", "1"],
      ["?TS", "0"],
      ["?LRS", "1"],
      ["?F", "0"],
      ["?FH", "0"],
      ["?HM", "1"],
      ["?STPRPOS", String((920 - 680) * 100)],
      ["?SM", "1"],
      ["?AMDLK", "1"],
      ["?ALIGN", "0"],
      ["?ALIGNW", "800"],
      ["?ALIGNP", "0"],
      ["?RH", "4.2"],
      ["?BT", "25.01"],
      ["?HH", "1523.40"],
      ["?SN", "GDP.3561"],
      ["?SV", "5.07"],
      ["?ST", "OK"],
      ["?NOSUCH", " Query Error"],
      ["NOSUCH=1", " Command Error"],
      ["SHUTTER=7", " RANGE ERROR"],
      ["SHUTTER=0", ""],
      ["?SHUTTER", "0"],
    ]);
    expect(sim).toMatchObject({ echo: false, prompt: false });
  });

  it("an acq4-style client: PROMPT=0, ECHO=0, HEARTBEAT=0 from power-up, then tuning, precompensation and alignment", async () => {
    const laser = await poweredUp();
    await laser.replay([
      ["PROMPT=0", "CHAMELEON> PROMPT=0"],
      ["ECHO=0", "ECHO=0"],
      ["HEARTBEAT=0", ""],
      ["?HB", "0"],
      ["?GDDMIN", "-2000"],
      ["?GDDMAX", "20000"],
      ["?GDD", "0"],
      ["?COMP", "0"],
      ["GDD=25000", " RANGE ERROR"],
      ["GDD=5000", ""],
      ["?GDD", "5000"],
      ["?COMP", "1"],
      ["GDDCURVE=0", ""],
      ["?GDDCURVE", "0"],
      ["WAVELENGTH=1200", ""], // beyond TMAX: to the nearer limit, as the manual says
      ["?SHUTTER", "1"],
      ["ALIGN=1", ""],
      ["?ALIGN", "1"],
    ]);
    expect(sim.targetNm).toBe(800); // aligning at ALIGNW, 1080 nm kept for after
    await laser.replay([
      ["?MDLK", "2"],
      ["ALIGN=0", ""],
      ["?ALIGN", "0"],
    ]);
    expect(sim.targetNm).toBe(1080);
  });

  it("a ScopeFoundry-style client ending lines in CR only, with PRINT queries and long setting names", async () => {
    const laser = await poweredUp();
    await laser.replay(
      [
        ["E=0", "CHAMELEON> E=0"],
        ["PROMPT=0", "CHAMELEON> "],
        ["PRINT WAVELENGTH", "920"],
        ["PRINT KEYSWITCH", "1"],
        ["SEARCH MODELOCK=0", ""],
        ["?MDLK", "2"],
        ["SM=1", ""],
        ["?SM", "1"],
        ["?MDLK", "1"],
        ["LBO HEATER=1", ""],
        ["HEARTBEATRATE=500", " RANGE ERROR"],
        ["HEARTBEATRATE=30", ""],
        ["?HBR", "30"],
        ["WAVELENGTH STEP=10", ""],
        ["HM=1", ""],
        ["PRINT NOSUCH", " Query Error"],
        ["LASER=0", ""],
        ["?L", "0"],
        ["?LRS", "0"],
        ["?ST", "Standby"],
      ],
      "\r",
    );
    expect(sim.targetNm).toBe(930);
  });

  it("records an interlock fault in ?F and ?FH; L=1 is refused with ?L 2 while it is open", async () => {
    const laser = await poweredUp();
    sim.interlockOpen = true;
    await laser.replay(
      [
        ["L=1", "CHAMELEON> L=1"],
        ["?L", "CHAMELEON> ?L2"],
        ["?F", "CHAMELEON> ?F2"],
      ],
      "\n",
    );
    sim.interlockOpen = false;
    await laser.replay(
      [
        ["L=1", "CHAMELEON> L=1"],
        ["?F", "CHAMELEON> ?F0"],
        ["?FH", "CHAMELEON> ?FH2"],
      ],
      "\n",
    );
  });

  it("the example client session runs against the simulator", async () => {
    sim = await started(new ChameleonSimulator({ warmUpMs: 0, tuneMsPerNm: 1, shutterMs: 50 }));
    const stdout = await runExample("chameleon_session.ts", sim.path);
    expect(stdout).toContain("serial number GDP.3561");
    expect(stdout).toContain("tuned to 900 nm");
    expect(sim).toMatchObject({ echo: false, prompt: false, heartbeat: false, pumpOn: false, targetNm: 900 });
  });
});
