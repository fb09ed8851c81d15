// What control software other than rigd sends a Mai Tai or InSight, byte for byte over the simulator's real pty, and
// every reply it must get: commands ended by CR, LF or both, long and short SCPI names in any case. The sequences
// follow the Mai Tai user's manual's command list in the order common clients send them (written from the manual and
// their public command lists, not from their code).
import { describe, expect, it } from "vitest";
import { MaiTaiSimulator } from "../../simulators/spectra-physics-maitai.js";
import { type RawSerial, connect, runExample, started } from "./raw-serial.js";

let sim: MaiTaiSimulator;

/** A laser as a lab leaves it before a session: warm, lasing at 920 nm, shutter open. */
async function lasing(model: "MaiTai" | "InSight" = "MaiTai"): Promise<RawSerial> {
  sim = new MaiTaiSimulator(model, { tuneMsPerNm: 1, shutterMs: 0 });
  sim.lasingAt(920);
  return connect(sim, { baudRate: 9600, commandEnd: "\r", replyEnd: "\n" });
}

describe("Mai Tai replies to other clients' sequences", () => {
  it("an acq4-style client ending every command in CR: identity, range, humidity, status, powers, pump mode", async () => {
    const laser = await lasing();
    const power = `${sim.gainW(920).toFixed(2)}W`;
    await laser.replay([
      ["*IDN?", "Spectra Physics,MaiTai,3312,0245-2.00.34 / CD00000019 / 214-00.004.057"],
      ["WAVelength:MIN?", "690nm"],
      ["WAVelength:MAX?", "1040nm"],
      ["READ:HUM?", "4.10%"],
      ["*STB?", "3"], // emission possible, mode-locked: a running laser reads as on
      ["READ:WAVelength?", "920nm"],
      ["READ:POWer?", power],
      ["READ:PLASer:POWer?", "5.00W"],
      ["PLASer:POWer?", "5.00W"],
      ["SHUTter?", "1"],
      ["MODE?", "PPOW"],
      ["READ:PCTWarmedup?", "100.00%"],
      ["SHUTter 0"], // a setting never answers
      ["SHUTter?", "0"],
      ["WAVelength 880"],
      ["WAVelength?", "880nm"],
    ]);
  });

  it("a ScanImage-style controller sending long upper-case names ended by LF: its whole status round and the watchdog", async () => {
    const laser = await lasing();
    await laser.replay(
      [
        ["CONTROL:PHASE?", "2.50"],
        ["CONTROL:MLENABLE?", "1"],
        ["MODE?", "PPOW"],
        ["PLASER:ERRCODE?", "0"],
        ["PLASER:HISTORY?", "0"],
        ["PLASER:AHISTORY?", "0 Laser off"],
        ["READ:PLASER:SHGS?", "0S"],
        ["READ:PLASER:DIODE1:CURRENT?", "75.1%"],
        ["READ:PLASER:DIODE2:CURRENT?", "75.1%"],
        ["READ:PLASER:DIODE1:TEMPERATURE?", "20.5"],
        ["READ:PLASER:DIODE2:TEMPERATURE?", "20.7"],
        ["TIMER:WATCHDOG 0"],
        ["TIMER:WATCHDOG?", "0"],
        ["OFF"],
        ["*STB?", "0"],
        ["READ:PLASER:POWER?", "0.00W"],
        ["ON"],
        ["*STB?", "3"],
        ["PLASER:HISTORY?", "1 0 0"],
        ["SYSTEM:ERR?", '0,"No error"'],
      ],
      "\n",
    );
  });

  it("an InSight client using short forms, mixed case and CR LF: the queries that used to cost it a timeout each", async () => {
    const laser = await lasing("InSight");
    const power = `${sim.gainW(920).toFixed(2)}W`;
    await laser.replay(
      [
        ["*idn?", "Spectra Physics,InSight,3312,0245-2.00.34 / CD00000019 / 214-00.004.057"],
        ["READ:PLAS:POW?", "5.00W"],
        ["READ:PLAS:PCUR?", "12.0%"],
        ["READ:HUM?", "4.10%"],
        ["TIM:WATC?", "10"],
        ["PLAS:AHIS?", "0 Laser off"],
        ["PLAS:ERRC?", "0"],
        ["READ:AHIS?", "0 Laser off"],
        ["MODE?", "PPOW"],
        ["READ:PDIT?", "0.00%"],
        ["pow?", power],
        ["Read:Pctw?", "100.00%"],
        ["WAV:MAX?", "1300nm"],
        ["irshut 1"],
        ["IRSHUT?", "1"],
        ["CONT:DSMPOS 62.5"],
        ["CONT:DSMPOS?", "62.50"],
        ["CONT:MLEN 0"],
        ["*STB?", "1"], // held CW: emission, no mode-lock
      ],
      "\r\n",
    );
  });

  it("drops what it cannot do without a word, and says why in SYSTem:ERRor?", async () => {
    const laser = await lasing();
    await laser.replay(
      [
        ["NOSUCH:QUERY?"],
        ["WAVELENGTH 1200"], // out of range
        ["SHUTTER 2"],
        ["WAVELENGTH?", "920nm"],
        ["SYST:ERR?", '1,"Command error"'],
        ["SYST:ERR?", '2,"Execution error"'],
        ["SYST:ERR?", '1,"Command error"'],
        ["SYST:ERR?", '0,"No error"'],
      ],
      "\n",
    );
  });

  it("the example client session runs against the simulator", async () => {
    sim = await started(new MaiTaiSimulator("MaiTai", { warmUpMs: 300, tuneMsPerNm: 1, shutterMs: 50 }));
    const stdout = await runExample("maitai_session.ts", sim.path);
    expect(stdout).toContain("Spectra Physics,MaiTai,3312");
    expect(stdout).toContain("tuned to 900nm");
    expect(sim).toMatchObject({ watchdogS: 0, pumpOn: false, targetNm: 900 });
  });
});
