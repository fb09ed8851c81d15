// A Scientifica PMT controller (two channels, A and B) at the other end of a pty. It answers set commands
// with "A" and bad ones with "E,<n>", and RESTART makes it reboot: silent for `restartMs`, trips cleared.
import { SimulatedPmt } from "./photodetector.js";
import { SerialSimulator } from "./serial-simulator.js";

// Error codes are our choice (see src/drivers/scientifica-pmt.ts): 1 unknown command, 2 bad argument.
const UNKNOWN_COMMAND = "E,1";
const BAD_ARGUMENT = "E,2";
const isNumber = (text: string | undefined) => text !== undefined && /^\d+(\.\d+)?$/.test(text);

export class ScientificaPmtSimulator extends SerialSimulator {
  readonly channels = { A: new SimulatedPmt(), B: new SimulatedPmt() };
  /** Where the gain comes from (SOURCE 0–3): 0 here at power-up; ScanImage selects 3, gain over serial. */
  gainSource = 0;
  /** How long a RESTART leaves it silent (the real controller: about 5.5 s). */
  restartMs: number;
  /** Every command line received, in order. */
  readonly received: string[] = [];
  readonly serialNumber: string;
  readonly firmware: string;
  /** The highest gain it accepts; anything above is refused with E,2. */
  maxGainV = 1;
  private restartingUntil = 0;

  constructor(options: { serialNumber?: string; firmware?: string; restartMs?: number } = {}) {
    super("\r", "\r", 9600, "scientifica-pmt");
    this.serialNumber = options.serialNumber ?? "PMT-2741";
    this.firmware = options.firmware ?? "3.12";
    this.restartMs = options.restartMs ?? 5500;
  }

  get restarting(): boolean {
    return Date.now() < this.restartingUntil;
  }

  protected respond(line: string): string | undefined {
    this.received.push(line);
    if (this.restarting) return undefined; // rebooting: the input is lost
    // Scientifica firmware reads commands in either case (acq4 sends "scientifica", ScanImage "SCIENTIFICA").
    const [name = "", arg, extra] = line.split(/\s+/);
    if (extra !== undefined) return BAD_ARGUMENT;
    switch (name.toUpperCase()) {
      case "SCIENTIFICA":
        return "Y519";
      case "SERIAL":
        return this.serialNumber;
      case "VER":
        return this.firmware;
      case "ENABLE":
        if (arg === undefined) return this.channels.A.enabled ? "1" : "0";
        if (arg !== "0" && arg !== "1") return BAD_ARGUMENT;
        for (const pmt of Object.values(this.channels)) pmt.enabled = arg === "1";
        return "A";
      case "A":
      case "B": {
        const pmt = this.channels[name.toUpperCase() as "A" | "B"];
        if (arg === undefined) return pmt.gain.toFixed(3);
        if (!isNumber(arg) || Number(arg) > this.maxGainV) return BAD_ARGUMENT;
        pmt.gain = Number(arg);
        return "A";
      }
      case "V":
        return String((this.channels.A.tripped ? 1 : 0) | (this.channels.B.tripped ? 2 : 0));
      case "SOURCE":
        if (arg === undefined) return String(this.gainSource);
        if (!/^[0-3]$/.test(arg)) return BAD_ARGUMENT;
        this.gainSource = Number(arg);
        return "A";
      case "RESTART":
        this.restartingUntil = Date.now() + this.restartMs;
        for (const pmt of Object.values(this.channels)) pmt.resetTrip();
        return undefined; // it reboots without answering
      default:
        return UNKNOWN_COMMAND;
    }
  }
}
