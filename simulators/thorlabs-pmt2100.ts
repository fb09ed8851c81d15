// A Thorlabs PMT2100 at the other end of a pty, speaking SCPI as the device does over USBTMC or its
// virtual serial port: headers in short or long form and any case, ";"-separated message units whose query
// replies are joined by ";", a unit without a leading ":" taken relative to the previous unit's subsystem
// (IEEE 488.2 §7.6), and an error queue read with SYST:ERR?. A message ends with LF (CRLF too: the CR
// goes); a lone CR ends nothing, as IEEE 488.2 defines the terminator (Thorlabs' PM100USB manual, "SCPI
// Command Terminators", says the same of its sibling instrument).
//
// Sources. We found no published programmer's reference for the PMT2100, so the command set is the one
// Thorlabs' own ThorImageLS sends it (ThorPMT2100.cpp: the commands, the per-type gain limits it writes,
// the enable/gain/trip sequences), completed with the IEEE 488.2 mandatory common commands (§10) and the
// SCPI-1999 mandatory SYSTem and STATus commands (SCPI-99 Vol. 1 §4.2) that every SCPI instrument has,
// and checked against the public client code of dirigo and a pyvisa lab script. Where a client and
// ThorImageLS differ (dirigo reads SENS:DET?, ThorImageLS SENS:DET:FUNC?), both forms are the same
// header with an optional node, and the simulator takes both.
//
// | Command (long form; lower case optional)                     | Source                          | What the simulator does
// |--------------------------------------------------------------|---------------------------------|------------------------------------------------------
// | *IDN?                                                        | 488.2 §10.14; ThorImageLS       | THORLABS,pmt2100,<serial>,<firmware>
// | *RST                                                         | 488.2 §10.32                    | PMT off, gain 0 V, offset 0 V, INST GAIN, 80 MHz; keeps limits, type, error queue, status
// | *CLS                                                         | 488.2 §10.3                     | empties the error queue, clears the event status register
// | *ESE <0–255>, *ESE?                                          | 488.2 §10.10, §10.11            | event status enable register
// | *ESR?                                                        | 488.2 §10.12                    | event status register, then clears it; PON (128) is set at power-up
// | *OPC, *OPC?                                                  | 488.2 §10.18, §10.19            | sets OPC (bit 0) in the event status register; "1" (commands complete at once)
// | *SRE <0–255>, *SRE?                                          | 488.2 §10.34, §10.35            | service request enable register
// | *STB?                                                        | 488.2 §10.36                    | status byte: EAV (4) error queued, MAV (16) a reply is pending in this message, ESB (32), MSS (64)
// | *TST?                                                        | 488.2 §10.38                    | "0": self-test passed
// | *WAI                                                         | 488.2 §10.39                    | nothing to wait for (commands complete at once)
// | SYSTem:ERRor[:NEXT]?, SYSTem:ERRor:COUNt?                    | SCPI-99 §21.8                   | oldest error, e.g. -113,"Undefined header", or 0,"No error"; how many are queued
// | SYSTem:VERSion?                                              | SCPI-99 §21.21                  | 1999.0
// | STATus:OPERation|QUEStionable[:EVENt]?, :CONDition?          | SCPI-99 §20                     | 0: the device's bit assignments are not published, the simulator signals none
// | STATus:OPERation|QUEStionable:ENABle <n>, :ENABle?           | SCPI-99 §20                     | kept and read back
// | STATus:PRESet                                                | SCPI-99 §20.7                   | both enable registers to 0
// | SENSe:DETector[:FUNCtion]?                                   | ThorImageLS; dirigo             | the PMT type fitted, e.g. H10721
// | SENSe:DETector[:FUNCtion] <type>                             | ThorImageLS (restore)           | sets the type (H10721, H10770PA-40, H11706P-40) and its default gain limits
// | SET:SERial <serial>                                          | ThorImageLS (restore)           | sets the serial number *IDN? reports
// | SENSe:FUNCtion[:ON] <type>, SENSe:FUNCtion:OFF <type>        | ThorImageLS; dirigo             | PMT high voltage on / off; <type> must name the type fitted, else -224
// | SENSe:FUNCtion:STATe? <type>                                 | dirigo                          | 1 or 0
// | INSTrument[:SELect] GAIN|OFFSET, INSTrument[:SELect]?        | ThorImageLS; dirigo             | which output the SOURce commands address (GAIN at power-up)
// | SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude] <V>|MIN|MAX|DEF | ThorImageLS; dirigo           | gain control voltage (0 V, or within the gain limits) or output offset; else -222
// | SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]? [MIN|MAX|DEF] | ThorImageLS; dirigo            | e.g. 0.7000V
// | SOURce:VOLTage:LIMit:LOW|HIGH <V>, SOURce:VOLTage:LIMit:LOW|HIGH? | ThorImageLS (per PMT type)  | the selected output's limits: gain 0–1.8 V (the DAC's full scale in ThorImageLS), offset ±1.5 V
// | SENSe:CURRent[:DC]:PROTection:TRIPped?                       | ThorImageLS                     | 1 while the overload protection has switched the PMT off, else 0
// | SENSe:CURRent[:DC]:PROTection:CLEar                          | ThorImageLS                     | clears the trip (it trips again at once if the light is still too strong)
// | SENSe:FILTer[:LPASs]:FREQuency <Hz>|MIN|MAX|DEF, ? [MIN|MAX] | ThorImageLS; dirigo             | low-pass filter: 250 kHz, 2.5 MHz or 80 MHz (others -224); reply e.g. 80000000Hz
// | FIRMWAre:UPdate                                              | ThorImageLS                     | not simulated (the device reboots into its boot loader): -113
//
// Our choices where nothing we found says: error queue of 10 (the last becomes -350,"Queue overflow"), 0 V
// taken as a gain below the lower limit (ThorImageLS turns the gain down so before switching a PMT off),
// replies of voltages and frequencies with their unit ("0.7000V", "80000000Hz"), and 115200 baud.
import { pmtGainRange } from "../src/drivers/photodetector.js";
import { SimulatedPmt } from "./photodetector.js";
import { SerialSimulator } from "./serial-simulator.js";

class ScpiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

type Output = "GAIN" | "OFFSET";
/** What a header takes after it: nothing, one parameter, or one optional parameter (MIN|MAX|DEF on queries). */
type Params = "none" | "one" | "optional";

interface Command {
  header: RegExp;
  params: Params;
  run(arg: string): string | void;
}

const NO_ERROR = '0,"No error"';
const ERROR_QUEUE_SIZE = 10;
const BANDWIDTHS_HZ = [250e3, 2.5e6, 80e6];
/** Bounds the limits themselves can be set within. */
const LIMIT_BOUNDS_V: Record<Output, readonly [number, number]> = { GAIN: [0, 1.8], OFFSET: [-1.5, 1.5] };
const VOLTS = { "": 1, V: 1, MV: 1e-3 };
const HERTZ = { "": 1, HZ: 1, KHZ: 1e3, MHZ: 1e6 };
/** Event status register bits (IEEE 488.2 §11.5.1). */
const ESR = { OPC: 1, QYE: 4, DDE: 8, EXE: 16, CME: 32, PON: 128 };

const dataOutOfRange = () => new ScpiError(-222, "Data out of range");
const illegalValue = () => new ScpiError(-224, "Illegal parameter value");

/** A header in SCPI notation, e.g. "SENSe:CURRent[:DC]:PROTection:TRIPped?", as a regular expression over short and long forms. */
function scpi(spec: string): RegExp {
  const query = spec.endsWith("?");
  const nodes = (query ? spec.slice(0, -1) : spec).match(/\[?:?[*A-Za-z]+\]?/g) ?? [];
  const source = nodes
    .map((node, i) => {
      const word = node.replace(/[[\]:]/g, "");
      const short = word.replace(/[a-z]/g, "");
      const forms = short === word.toUpperCase() ? short : `${short}|${word.toUpperCase()}`;
      const part = `${i === 0 ? "" : ":"}(?:${forms.replace("*", "\\*")})`;
      return node.startsWith("[") ? `(?:${part})?` : part;
    })
    .join("");
  return new RegExp(`^${source}${query ? "\\?" : ""}$`, "i");
}

/** A number with an optional unit suffix, e.g. "0.7V", "2.5 MHz", "250e3" (scales: suffix → factor). */
function quantity(arg: string, scales: Record<string, number>): number {
  const match = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)$/.exec(arg);
  if (match === null) throw new ScpiError(-104, "Data type error");
  const scale = scales[match[2]!.toUpperCase()];
  if (scale === undefined) throw new ScpiError(-131, "Invalid suffix");
  return Number(match[1]) * scale;
}

/** A numeric parameter or one of SCPI's MINimum, MAXimum, DEFault (values: what each stands for). */
function numeric(arg: string, scales: Record<string, number>, values: { MIN: number; MAX: number; DEF: number }): number {
  const keyword = ["MINIMUM", "MAXIMUM", "DEFAULT"].find((k) => [k, k.slice(0, 3)].includes(arg.toUpperCase()));
  return keyword ? values[keyword.slice(0, 3) as keyof typeof values] : quantity(arg, scales);
}

/** A register value: 8 bits for *ESE and *SRE, 16 for the STATus enables. */
function register(arg: string, bits: 8 | 16): number {
  const value = quantity(arg, { "": 1 });
  if (!Number.isInteger(value)) throw new ScpiError(-104, "Data type error");
  if (value < 0 || value >= 2 ** bits) throw dataOutOfRange();
  return value;
}

export class ThorlabsPmt2100Simulator extends SerialSimulator {
  readonly pmt = new SimulatedPmt();
  bandwidthHz = 80e6;
  /** Output offset in V, selected with INST OFFSET. */
  offsetV = 0;
  /** Each output's limits in V: the gain's follow the PMT type, the offset's are the device's ±1.5 V. */
  readonly limits: Record<Output, { low: number; high: number }> = { GAIN: { low: 0, high: 0 }, OFFSET: { low: -1.5, high: 1.5 } };
  /** The SCPI error queue, oldest first. */
  readonly errors: string[] = [];
  /** Every message received, in order. */
  readonly received: string[] = [];
  private selected: Output = "GAIN";
  private type = "";
  private eventStatus = ESR.PON;
  private eventEnable = 0;
  private serviceEnable = 0;
  private readonly statusEnable = { OPERATION: 0, QUESTIONABLE: 0 };
  /** Replies of the message being answered: *STB? reports them as MAV. */
  private output: string[] = [];
  private readonly commands: Command[] = [
    this.command("*IDN?", "none", () => `THORLABS,pmt2100,${this.serialNumber},${this.firmware}`),
    this.command("*RST", "none", () => this.reset()),
    this.command("*CLS", "none", () => {
      this.errors.splice(0);
      this.eventStatus = 0;
    }),
    this.command("*ESE", "one", (arg) => void (this.eventEnable = register(arg, 8))),
    this.command("*ESE?", "none", () => String(this.eventEnable)),
    this.command("*ESR?", "none", () => {
      const value = this.eventStatus;
      this.eventStatus = 0;
      return String(value);
    }),
    this.command("*OPC", "none", () => void (this.eventStatus |= ESR.OPC)),
    this.command("*OPC?", "none", () => "1"),
    this.command("*SRE", "one", (arg) => void (this.serviceEnable = register(arg, 8))),
    this.command("*SRE?", "none", () => String(this.serviceEnable)),
    this.command("*STB?", "none", () => String(this.statusByte())),
    this.command("*TST?", "none", () => "0"),
    this.command("*WAI", "none", () => undefined),
    this.command("SYSTem:ERRor[:NEXT]?", "none", () => this.errors.shift() ?? NO_ERROR),
    this.command("SYSTem:ERRor:COUNt?", "none", () => String(this.errors.length)),
    this.command("SYSTem:VERSion?", "none", () => "1999.0"),
    ...(["OPERation", "QUEStionable"] as const).flatMap((node) => {
      const name = node.toUpperCase() as "OPERATION" | "QUESTIONABLE";
      return [
        this.command(`STATus:${node}[:EVENt]?`, "none", () => "0"),
        this.command(`STATus:${node}:CONDition?`, "none", () => "0"),
        this.command(`STATus:${node}:ENABle`, "one", (arg) => void (this.statusEnable[name] = register(arg, 16))),
        this.command(`STATus:${node}:ENABle?`, "none", () => String(this.statusEnable[name])),
      ];
    }),
    this.command("STATus:PRESet", "none", () => {
      this.statusEnable.OPERATION = 0;
      this.statusEnable.QUESTIONABLE = 0;
    }),
    this.command("SENSe:DETector[:FUNCtion]?", "none", () => this.type),
    this.command("SENSe:DETector[:FUNCtion]", "one", (arg) => {
      if (!pmtGainRange(arg)) throw illegalValue();
      this.detectorType = arg;
    }),
    this.command("SET:SERial", "one", (arg) => void (this.serialNumber = arg)),
    this.command("SENSe:FUNCtion[:ON]", "one", (arg) => this.switchOn(arg, true)),
    this.command("SENSe:FUNCtion:OFF", "one", (arg) => this.switchOn(arg, false)),
    this.command("SENSe:FUNCtion:STATe?", "one", (arg) => (this.checkDetector(arg), this.pmt.enabled ? "1" : "0")),
    this.command("INSTrument[:SELect]", "one", (arg) => void (this.selected = this.outputNamed(arg))),
    this.command("INSTrument[:SELect]?", "none", () => this.selected),
    this.command("SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]", "one", (arg) => this.setLevel(numeric(arg, VOLTS, this.levelKeywords()))),
    this.command("SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]?", "optional", (arg) =>
      volts(arg ? numeric(arg, {}, this.levelKeywords()) : this.selected === "GAIN" ? this.pmt.gain : this.offsetV),
    ),
    ...(["LOW", "HIGH"] as const).flatMap((end) => [
      this.command(`SOURce:VOLTage:LIMit:${end}`, "one", (arg) => this.setLimit(end, quantity(arg, VOLTS))),
      this.command(`SOURce:VOLTage:LIMit:${end}?`, "none", () => volts(this.limits[this.selected][end === "LOW" ? "low" : "high"])),
    ]),
    this.command("SENSe:CURRent[:DC]:PROTection:TRIPped?", "none", () => (this.pmt.tripped ? "1" : "0")),
    this.command("SENSe:CURRent[:DC]:PROTection:CLEar", "none", () => this.pmt.resetTrip()),
    this.command("SENSe:FILTer[:LPASs]:FREQuency", "one", (arg) => this.setBandwidth(numeric(arg, HERTZ, { MIN: 250e3, MAX: 80e6, DEF: 80e6 }))),
    this.command("SENSe:FILTer[:LPASs]:FREQuency?", "optional", (arg) => `${arg ? numeric(arg, {}, { MIN: 250e3, MAX: 80e6, DEF: 80e6 }) : this.bandwidthHz}Hz`),
  ];

  constructor(
    public serialNumber = "00AG8701",
    readonly firmware = "1.4.0",
    /** The PMT type fitted, as the device reports it. */
    detectorType = "H10721",
  ) {
    super("\n", "\n", 115200, "thorlabs-pmt2100");
    this.detectorType = detectorType;
  }

  /** The PMT type fitted; the enable commands must name it. Setting it loads that type's gain limits. */
  get detectorType(): string {
    return this.type;
  }
  set detectorType(type: string) {
    const range = pmtGainRange(type);
    if (!range) throw new Error(`no gain range known for PMT type '${type}'`);
    this.type = range.of ?? type;
    this.limits.GAIN = { low: range.min, high: range.max };
  }

  protected respond(message: string): string | undefined {
    this.received.push(message);
    this.output = [];
    let path = ""; // the subsystem a unit without a leading ":" continues from (IEEE 488.2 §7.6.1)
    for (const unit of message.split(";")) {
      const [, header = "", arg = ""] = /^\s*(\S*)\s*(.*?)\s*$/s.exec(unit)!;
      if (header === "") continue;
      const common = header.startsWith("*");
      const full = common ? header : header.startsWith(":") ? header.slice(1) : path + header;
      if (!common) path = full.replace(/[^:]*$/, "");
      try {
        const reply = this.execute(full, arg);
        if (typeof reply === "string") this.output.push(reply);
      } catch (e) {
        if (!(e instanceof ScpiError)) throw e;
        this.queueError(e);
      }
    }
    return this.output.length > 0 ? this.output.join(";") : undefined;
  }

  private command(spec: string, params: Params, run: (arg: string) => string | void): Command {
    return { header: scpi(spec), params, run };
  }

  private execute(header: string, arg: string): string | void {
    const command = this.commands.find((c) => c.header.test(header));
    if (!command) throw new ScpiError(-113, "Undefined header");
    if (arg !== "" && (command.params === "none" || arg.includes(","))) throw new ScpiError(-108, "Parameter not allowed");
    if (arg === "" && command.params === "one") throw new ScpiError(-109, "Missing parameter");
    return command.run(arg);
  }

  private queueError(e: ScpiError): void {
    // Each error class sets its bit in the event status register (IEEE 488.2 §11.5.1.1).
    this.eventStatus |= e.code <= -400 ? ESR.QYE : e.code <= -300 ? ESR.DDE : e.code <= -200 ? ESR.EXE : ESR.CME;
    if (this.errors.length < ERROR_QUEUE_SIZE) this.errors.push(`${e.code},"${e.message}"`);
    else this.errors[ERROR_QUEUE_SIZE - 1] = '-350,"Queue overflow"';
  }

  private statusByte(): number {
    const summary = (this.errors.length > 0 ? 4 : 0) | (this.output.length > 0 ? 16 : 0) | ((this.eventStatus & this.eventEnable) !== 0 ? 32 : 0);
    return summary | ((summary & this.serviceEnable) !== 0 ? 64 : 0);
  }

  private reset(): void {
    this.pmt.enabled = false;
    this.pmt.gain = 0;
    this.offsetV = 0;
    this.selected = "GAIN";
    this.bandwidthHz = 80e6;
  }

  /** The PMT commands name the PMT type fitted; any other is refused. */
  private checkDetector(arg: string): void {
    if (arg.toUpperCase() !== this.type.toUpperCase()) throw illegalValue();
  }

  private switchOn(arg: string, on: boolean): void {
    this.checkDetector(arg);
    this.pmt.enabled = on;
  }

  private outputNamed(arg: string): Output {
    const name = arg.toUpperCase();
    if (name !== "GAIN" && name !== "OFFSET") throw illegalValue();
    return name;
  }

  /** MIN and MAX of the selected output are its limits; DEF is 0 V. */
  private levelKeywords(): { MIN: number; MAX: number; DEF: number } {
    const { low, high } = this.limits[this.selected];
    return { MIN: low, MAX: high, DEF: 0 };
  }

  private setLevel(v: number): void {
    const { low, high } = this.limits[this.selected];
    const gainOff = this.selected === "GAIN" && v === 0;
    if (!gainOff && (v < low || v > high)) throw dataOutOfRange();
    if (this.selected === "GAIN") this.pmt.gain = v;
    else this.offsetV = v;
  }

  private setLimit(end: "LOW" | "HIGH", v: number): void {
    const [min, max] = LIMIT_BOUNDS_V[this.selected];
    if (v < min || v > max) throw dataOutOfRange();
    const limits = this.limits[this.selected];
    if (end === "LOW" ? v > limits.high : v < limits.low) throw new ScpiError(-221, "Settings conflict");
    limits[end === "LOW" ? "low" : "high"] = v;
  }

  private setBandwidth(hz: number): void {
    if (!BANDWIDTHS_HZ.includes(hz)) throw illegalValue();
    this.bandwidthHz = hz;
  }
}

/** A voltage as the device replies with it, e.g. "0.7000V". */
function volts(v: number): string {
  return `${v.toFixed(4)}V`;
}
