// What other software sends a Thorlabs PMT2100, replayed byte for byte over the simulator's real pty
// (opened with the serial bindings, no rigd code between), with every reply checked. The sequences are
// written from the command use of ThorImageLS and dirigo and from IEEE 488.2 / SCPI-99 (see the table in
// simulators/thorlabs-pmt2100.ts), not copied from them.
import { beforeEach, describe, expect, it } from "vitest";
import { ThorlabsPmt2100Simulator } from "../../simulators/thorlabs-pmt2100.js";
import { type RawSerial, connect, runExample } from "./raw-serial.js";

let sim: ThorlabsPmt2100Simulator;
let port: RawSerial;

beforeEach(async () => {
  sim = new ThorlabsPmt2100Simulator("00AG8701", "1.4.0");
  port = await connect(sim, { baudRate: 115200, commandEnd: "\n", replyEnd: "\n" });
});

const NO_ERROR = '0,"No error"';

describe("Thorlabs PMT2100 replays", () => {
  it("ThorImageLS: find, read type and gain, enable at 1.1 V, offset, bandwidth, trip, disable, restore a PMT's settings", async () => {
    await port.replay([
      ["*IDN?", "THORLABS,pmt2100,00AG8701,1.4.0"],
      ["SENS:DET:FUNC?", "H10721"],
      ["INST GAIN;:SOUR:VOLT?", "0.0000V"],
      // Enabling: on, then the gain (printf's %f), the H10721's top 1.1 V.
      ["SENS:FUNC:ON H10721"],
      ["INST GAIN;:SOUR:VOLT 1.100000V"],
      ["INST OFFSET;:SOUR:VOLT 0.250V"],
      ["SENS:FILT:FREQ 2500000Hz"],
      ["SENS:FILT:FREQ?", "2500000Hz"],
      ["INST GAIN;:SOUR:VOLT?", "1.1000V"],
      ["INST OFFSET;:SOUR:VOLT?", "0.2500V"],
      ["*STB?", "0"],
      ["SENS:CURR:PROT:TRIP?", "0"],
    ]);
    expect(sim.pmt).toMatchObject({ enabled: true, gain: 1.1 });
    expect(sim.offsetV).toBe(0.25);

    sim.pmt.lightLevel = 100; // ~200 µA at 1.1 V: over the 100 µA limit
    await port.replay([["SENS:CURR:PROT:TRIP?", "1"]]);
    sim.pmt.lightLevel = 0;
    // Disabling: gain to 0 V, off, then the trip cleared.
    await port.replay([
      ["INST GAIN;:SOUR:VOLT 0.000000V"],
      ["SENS:FUNC:OFF H10721"],
      ["SENS:CURR:PROT:CLE"],
      ["SENS:CURR:PROT:TRIP?", "0"],
      ["SYST:ERR?", NO_ERROR],
    ]);
    expect(sim.pmt).toMatchObject({ enabled: false, gain: 0, tripped: false });

    // Restoring a saved PMT's settings onto a controller: type, serial number, its limits.
    await port.replay([
      ["SENS:DET H10770PA-40"],
      ["SET:SER 00AG9999"],
      ["INST GAIN;:SOUR:VOLT:LIM:LOW 0.5V"],
      ["INST GAIN;:SOUR:VOLT:LIM:HIGH 0.9V"],
      ["INST OFFSET;:SOUR:VOLT:LIM:LOW -1.5V"],
      ["INST OFFSET;:SOUR:VOLT:LIM:HIGH 1.5V"],
      ["SYST:ERR?", NO_ERROR],
      ["*IDN?", "THORLABS,pmt2100,00AG9999,1.4.0"],
      ["SENS:DET:FUNC?", "H10770PA-40"],
      ["INST GAIN;:SOUR:VOLT:LIM:LOW?;HIGH?", "0.5000V;0.9000V"],
      ["INST GAIN;:SOUR:VOLT 1.100000V"],
      ["SYST:ERR?", '-222,"Data out of range"'],
      ["SENS:FUNC:ON H10721"],
      ["SYST:ERR?", '-224,"Illegal parameter value"'],
    ]);
  });

  it("dirigo over pyvisa: CRLF-terminated writes, SENS:DET?, the long SOURce form, INST:SEL, bandwidth with units, *STB?", async () => {
    await port.replay(
      [
        ["*IDN?", "THORLABS,pmt2100,00AG8701,1.4.0"],
        ["SENS:DET?", "H10721"],
        ["SENS:FUNC:STAT? H10721", "0"],
        ["SENS:FUNC:ON H10721"],
        ["SENS:FUNC:STAT? H10721", "1"],
        ["INST:SEL GAIN"],
        [":SOUR:VOLT:LEV:IMM:AMPL 0.75"],
        [":SOUR:VOLT:LEV:IMM:AMPL?", "0.7500V"],
        [":SENSe:FILTer:LPASs:FREQuency 80 MHz"],
        [":SENSe:FILTer:LPASs:FREQuency?", "80000000Hz"],
        [":SENSe:FILTer:LPASs:FREQuency 0.25 MHz"],
        [":SENSe:FILTer:LPASs:FREQuency?", "250000Hz"],
        ["*STB?", "0"],
        ["SENS:FUNC:OFF H10721"],
      ],
      "\r\n",
    );
    expect(sim.pmt).toMatchObject({ enabled: false, gain: 0.75 });
    expect(sim.bandwidthHz).toBe(250e3);
  });

  it("IEEE 488.2 and SCPI: status registers, the error queue and its wording, relative headers, MIN/MAX, terminators", async () => {
    await port.replay([
      ["*ESR?", "128"], // power on
      ["*ESR?", "0"],
      ["*OPC?", "1"],
      ["*OPC;*ESR?", "1"],
      ["*TST?", "0"],
      ["*WAI"],
      ["*ESE 60;*ESE?", "60"],
      ["*SRE 4;*SRE?", "4"],
      ["SYSTem:VERSion?", "1999.0"],
      ["SENS:DET:BOGUS"],
      ["*STB?", "100"], // an error queued (4), a command error *ESE enables (32), and as *SRE asks for 4, the summary bit (64)
      ["*ESR?", "32"], // a command error
      ["syst:err?", '-113,"Undefined header"'],
      ["*STB?", "0"],
      ["*IDN?;*STB?", "THORLABS,pmt2100,00AG8701,1.4.0;16"], // a reply pending in this message
      ["*CLS 1"],
      ["SOUR:VOLT"],
      ["SOUR:VOLT abc"],
      ["SOUR:VOLT 1Hz"],
      ["SOUR:VOLT 0.2"],
      ["INST DARK"],
      ["SENS:FILT:FREQ 1MHz"],
      ["SYST:ERR:COUN?", "7"],
      ["SYST:ERR?", '-108,"Parameter not allowed"'],
      ["SYST:ERR?", '-109,"Missing parameter"'],
      ["SYST:ERR?", '-104,"Data type error"'],
      ["SYST:ERR?", '-131,"Invalid suffix"'],
      ["SYST:ERR?", '-222,"Data out of range"'],
      ["SYST:ERR?", '-224,"Illegal parameter value"'],
      ["SYST:ERR?", '-224,"Illegal parameter value"'],
      ["SYST:ERR?", NO_ERROR],
      // A unit without ":" continues the previous unit's subsystem; long forms in any case.
      [":sense:filter:lpass:frequency 250 kHz;frequency?", "250000Hz"],
      ["SOUR:VOLT MAX;VOLT?;VOLT? MIN", "1.1000V;0.5000V"],
      ["SOURce:VOLTage:LEVel:IMMediate:AMPLitude DEF;:INSTrument:SELect?", "GAIN"],
      ["SOUR:VOLT?", "0.0000V"],
      ["STAT:OPER:ENAB 512;ENAB?", "512"],
      ["STAT:PRES;:STAT:OPER:ENAB?;:STAT:QUES?;:STAT:QUES:COND?", "0;0;0"],
      ["SYST:ERR?", NO_ERROR],
    ]);
    // A lone CR ends nothing; the LF after it ends the message.
    expect(await port.exchange("*IDN?\r", 0)).toBe("");
    expect(await port.exchange("\n")).toBe("THORLABS,pmt2100,00AG8701,1.4.0\n");
    // The queue holds ten errors; the tenth becomes a queue overflow.
    expect(await port.exchange("BOGUS\n".repeat(12), 0)).toBe("");
    await port.replay([["SYST:ERR:COUN?", "10"]]);
    for (let i = 0; i < 9; i++) await port.replay([["SYST:ERR?", '-113,"Undefined header"']]);
    await port.replay([["SYST:ERR?", '-350,"Queue overflow"']]);
  });

  it("*RST brings back the defaults and keeps the PMT type and its limits", async () => {
    await port.replay([
      ["SENS:FUNC:ON H10721;:SOUR:VOLT 0.8;:INST OFFSET;:SOUR:VOLT -0.3;:SENS:FILT:FREQ 2.5MHz"],
      ["*RST"],
      ["SENS:FUNC:STAT? H10721;:INST?;:SOUR:VOLT?;:SENS:FILT:FREQ?;:SENS:DET?", "0;GAIN;0.0000V;80000000Hz;H10721"],
      ["SOUR:VOLT:LIM:HIGH?", "1.1000V"],
      ["SYST:ERR?", NO_ERROR],
    ]);
    expect(sim.offsetV).toBe(0);
  });

  it("the example client session runs against it", async () => {
    await port.close();
    const stdout = await runExample("pmt2100_session.ts", sim.path);
    expect(stdout).toContain("*IDN? -> THORLABS,pmt2100,00AG8701,1.4.0");
    expect(stdout).toContain(`INST GAIN;:SOUR:VOLT 1.1V;:SOUR:VOLT?;:SYST:ERR? -> 1.1000V;${NO_ERROR}`);
    expect(sim.pmt).toMatchObject({ enabled: true, gain: 1.1 });
  });
});
