// A Scientifica PMT controller (the MDU's two channels, A and B) at the other end of a pty: 9600 8N1,
// commands and replies end in CR. A CRLF-terminated command works too (the LF is left over as
// whitespace before the next command); an LF alone ends nothing.
//
// Sources. Scientifica publishes no command reference for the PMT controller; its command set is the one
// ScanImage's controller classes use (dabs.scientifica.PMTController and its 2018 predecessor, the
// scientifica PMT class under the Apache licence): the handshake, identification, ENABLE, A/B, V,
// SOURCE and RESTART, with replies read for every command but RESTART. What a set command answers and
// how errors read follow the conventions of Scientifica's motion controllers, which share the firmware
// family and the handshake (Micro-Manager's Scientifica adapter checks for "A", acq4 raises on "E,<n>",
// ScanImage treats "E,1" to its handshake as a failed one); DESC also sets the description there (acq4).
//
// | Command        | Source                                  | What the simulator does
// |----------------|-----------------------------------------|---------------------------------------------------------------
// | SCIENTIFICA    | ScanImage (handshake)                   | Y519
// | SERIAL         | ScanImage (identification)              | the serial number, e.g. PMT-2741
// | VER            | ScanImage (identification)              | the firmware version, e.g. 3.12
// | UID            | ScanImage (identification)              | the controller's unique id, e.g. 5E0C1D7A
// | DESC           | ScanImage (identification); acq4        | the description, e.g. PMT Controller
// | DESC <text>    | acq4 (motion controllers)               | sets the description; A
// | ENABLE         | ScanImage (status)                      | 1 while both PMTs are on, else 0
// | ENABLE 0|1     | ScanImage (power)                       | switches both PMTs; A
// | A, B           | ScanImage (status)                      | that channel's gain control voltage in V, e.g. 0.700
// | A <V>, B <V>   | ScanImage (gain)                        | sets it, in any decimal notation (ScanImage's sprintf('%d') writes 0.7 as 7.000000e-01); A; E,2 outside 0–maxGainV
// | V              | ScanImage (trip status)                 | overload trips: bit 0 channel A, bit 1 channel B (our choice: ScanImage decodes bits 5 and 6 of the last digit, which a digit never sets)
// | SOURCE         | ScanImage (status)                      | where the gain comes from, 0–3 (0 at power-up; 3: over serial)
// | SOURCE 0–3     | ScanImage (SOURCE 3 at start-up)        | sets it; A
// | RESTART        | ScanImage (trip reset)                  | no reply; reboots: silent for restartMs (ScanImage waits 5.5 s), trips cleared, settings kept
//
// Commands are read in either case (acq4 sends lower case, ScanImage upper). Errors, our choice after the
// motion controllers: E,1 an unknown command, E,2 a bad or out-of-range argument (or one too many).
import { SimulatedPmt } from "./photodetector.js";
import { SerialSimulator } from "./serial-simulator.js";

type Channel = "A" | "B";

const UNKNOWN_COMMAND = "E,1";
const BAD_ARGUMENT = "E,2";
const OK = "A";
/** A decimal number in any notation a client writes: 0.7, .7, 7.000000e-01, 1. */
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export class ScientificaPmtSimulator extends SerialSimulator {
  readonly channels: Record<Channel, SimulatedPmt> = { A: new SimulatedPmt(), B: new SimulatedPmt() };
  /** Where the gain comes from (SOURCE 0–3): 0 at power-up; ScanImage selects 3, gain over serial. */
  gainSource = 0;
  /** How long a RESTART leaves it silent (the real controller: about 5.5 s). */
  restartMs: number;
  /** Every command line received, in order. */
  readonly received: string[] = [];
  readonly serialNumber: string;
  readonly firmware: string;
  readonly uid: string;
  description: string;
  /** The highest gain it accepts; anything above is refused with E,2. */
  maxGainV = 1;
  private restartingUntil = 0;

  constructor(options: { serialNumber?: string; firmware?: string; uid?: string; description?: string; restartMs?: number } = {}) {
    super("\r", "\r", 9600, "scientifica-pmt");
    this.serialNumber = options.serialNumber ?? "PMT-2741";
    this.firmware = options.firmware ?? "3.12";
    this.uid = options.uid ?? "5E0C1D7A";
    this.description = options.description ?? "PMT Controller";
    this.restartMs = options.restartMs ?? 5500;
  }

  get restarting(): boolean {
    return Date.now() < this.restartingUntil;
  }

  protected respond(line: string): string | undefined {
    this.received.push(line);
    if (this.restarting) return undefined; // rebooting: the input is lost
    const [, name = "", rest = ""] = /^(\S*)\s*(.*)$/s.exec(line)!;
    const command = name.toUpperCase();
    if (command === "DESC") return rest === "" ? this.description : ((this.description = rest), OK);
    const [arg, extra] = rest === "" ? [] : rest.split(/\s+/);
    if (extra !== undefined) return BAD_ARGUMENT;
    switch (command) {
      case "SCIENTIFICA":
        return "Y519";
      case "SERIAL":
        return this.serialNumber;
      case "VER":
        return this.firmware;
      case "UID":
        return this.uid;
      case "ENABLE":
        if (arg === undefined) return this.channels.A.enabled && this.channels.B.enabled ? "1" : "0";
        if (arg !== "0" && arg !== "1") return BAD_ARGUMENT;
        for (const pmt of Object.values(this.channels)) pmt.enabled = arg === "1";
        return OK;
      case "A":
      case "B":
        return this.gain(command, arg);
      case "V":
        return String((this.channels.A.tripped ? 1 : 0) | (this.channels.B.tripped ? 2 : 0));
      case "SOURCE":
        if (arg === undefined) return String(this.gainSource);
        if (!/^[0-3]$/.test(arg)) return BAD_ARGUMENT;
        this.gainSource = Number(arg);
        return OK;
      case "RESTART":
        if (arg !== undefined) return BAD_ARGUMENT;
        this.restartingUntil = Date.now() + this.restartMs;
        for (const pmt of Object.values(this.channels)) pmt.resetTrip();
        return undefined; // it reboots without answering
      default:
        return UNKNOWN_COMMAND;
    }
  }

  /** A or B: reads the channel's gain, or sets it. */
  private gain(channel: Channel, arg: string | undefined): string {
    const pmt = this.channels[channel];
    if (arg === undefined) return pmt.gain.toFixed(3);
    const volts = Number(arg);
    if (!DECIMAL.test(arg) || volts < 0 || volts > this.maxGainV) return BAD_ARGUMENT;
    pmt.gain = volts;
    return OK;
  }
}
