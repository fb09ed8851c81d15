// A Thorlabs PMT2100 at the other end of a pty, speaking SCPI: headers in short or long form, any case,
// ";"-separated messages whose query replies are joined by ";", and an error queue read by SYST:ERR?.
// Simplified: every header in a message is taken from the root (as if it began with ":").
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

const NO_ERROR = '0,"No error"';
const dataOutOfRange = () => new ScpiError(-222, "Data out of range");
const illegalValue = () => new ScpiError(-224, "Illegal parameter value");

/** A header pattern in SCPI notation, e.g. "SENSe:CURRent[:DC]:PROTection:TRIPped?", as a regular expression. */
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

/** A number with an optional unit suffix, e.g. "0.7V", "2.5 MHz" (scales: suffix → factor). */
function quantity(arg: string, scales: Record<string, number>): number {
  const match = /^([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)$/.exec(arg.trim());
  const scale = match ? scales[match[2]!.toUpperCase()] : undefined;
  if (match === null || scale === undefined) throw new ScpiError(-104, "Data type error");
  return Number(match[1]) * scale;
}

export class ThorlabsPmt2100Simulator extends SerialSimulator {
  readonly pmt = new SimulatedPmt();
  /** The PMT type fitted; the enable commands must name it. */
  detectorType = "H10721";
  bandwidthHz = 80e6;
  /** Output offset in V, selected with INST OFFSET. */
  offsetV = 0;
  /** The SCPI error queue, oldest first. */
  readonly errors: string[] = [];
  /** Every message received, in order. */
  readonly received: string[] = [];
  private selected: "GAIN" | "OFFSET" = "GAIN";
  private readonly commands: [RegExp, (arg: string) => string | void][] = [
    [scpi("*IDN?"), () => `THORLABS,pmt2100,${this.serialNumber},${this.firmware}`],
    [scpi("*CLS"), () => void this.errors.splice(0)],
    [scpi("SYSTem:ERRor[:NEXT]?"), () => this.errors.shift() ?? NO_ERROR],
    [scpi("SENSe:DETector[:FUNCtion]?"), () => this.detectorType],
    [scpi("SENSe:FUNCtion[:ON]"), (arg) => this.switchOn(arg, true)],
    [scpi("SENSe:FUNCtion:OFF"), (arg) => this.switchOn(arg, false)],
    [scpi("SENSe:FUNCtion:STATe?"), (arg) => (this.checkDetector(arg), this.pmt.enabled ? "1" : "0")],
    [scpi("INSTrument[:SELect]"), (arg) => void (this.selected = this.instrument(arg))],
    [scpi("INSTrument[:SELect]?"), () => this.selected],
    [scpi("SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]"), (arg) => this.setVoltage(quantity(arg, { "": 1, V: 1, MV: 1e-3 }))],
    [scpi("SOURce:VOLTage[:LEVel][:IMMediate][:AMPLitude]?"), () => `${(this.selected === "GAIN" ? this.pmt.gain : this.offsetV).toFixed(4)}V`],
    [scpi("SENSe:CURRent[:DC]:PROTection:TRIPped?"), () => (this.pmt.tripped ? "1" : "0")],
    [scpi("SENSe:CURRent[:DC]:PROTection:CLEar"), () => this.pmt.resetTrip()],
    [scpi("SENSe:FILTer[:LPASs]:FREQuency"), (arg) => this.setBandwidth(quantity(arg, { "": 1, HZ: 1, KHZ: 1e3, MHZ: 1e6 }))],
    [scpi("SENSe:FILTer[:LPASs]:FREQuency?"), () => `${this.bandwidthHz}Hz`],
  ];

  constructor(
    readonly serialNumber = "00AG8701",
    readonly firmware = "1.4.0",
  ) {
    super("\n", "\n", 115200, "thorlabs-pmt2100");
  }

  protected respond(message: string): string | undefined {
    this.received.push(message);
    const replies: string[] = [];
    for (const unit of message.split(";")) {
      // `s`: a message may carry another protocol's terminator (a probe's CR) as line noise.
      const [, header = "", arg = ""] = /^\s*:?(\S*)\s*(.*)$/s.exec(unit)!;
      const command = this.commands.find(([pattern]) => pattern.test(header));
      try {
        if (!command) throw new ScpiError(-113, "Undefined header");
        const reply = command[1](arg.trim());
        if (typeof reply === "string") replies.push(reply);
      } catch (e) {
        if (!(e instanceof ScpiError)) throw e;
        this.errors.push(`${e.code},"${e.message}"`);
      }
    }
    return replies.length > 0 ? replies.join(";") : undefined;
  }

  /** The PMT commands name the PMT type fitted; any other is refused. */
  private checkDetector(arg: string): void {
    if (arg.toUpperCase() !== this.detectorType.toUpperCase()) throw illegalValue();
  }

  private switchOn(arg: string, on: boolean): void {
    this.checkDetector(arg);
    this.pmt.enabled = on;
  }

  private instrument(arg: string): "GAIN" | "OFFSET" {
    const name = arg.toUpperCase();
    if (name !== "GAIN" && name !== "OFFSET") throw illegalValue();
    return name;
  }

  private setVoltage(v: number): void {
    if (this.selected === "GAIN") {
      if (v < 0 || v > 1) throw dataOutOfRange();
      this.pmt.gain = v;
    } else {
      if (v < -1.5 || v > 1.5) throw dataOutOfRange();
      this.offsetV = v;
    }
  }

  private setBandwidth(hz: number): void {
    if (![80e6, 2.5e6, 250e3].includes(hz)) throw illegalValue();
    this.bandwidthHz = hz;
  }
}
