// Thorlabs PMT2100: one PMT, SCPI over USBTMC (/dev/usbtmc*) or a serial line, lines ending in LF.
// Commands as Thorlabs' ThorImageLS (ThorPMT2100.cpp) and dirigo send them: *IDN? (model field "pmt2100"),
// SENS:DET:FUNC? (the PMT type, e.g. H10721, which SENS:FUNC:ON|OFF|STAT? take as argument),
// INST GAIN;:SOUR:VOLT <V> (gain control voltage), SENS:CURR:PROT:TRIP? and SENS:CURR:PROT:CLE (overload
// trip), SENS:FILT:FREQ <Hz> (low-pass filter: 80 MHz, 2.5 MHz or 250 kHz). The device answers only queries,
// so every set command carries ";:SYST:ERR?" and is judged by the error it leaves (0,"No error" or e.g.
// -113,"Undefined header"): one message, one reply, safe to retry.
// The gain range follows the PMT type the device reports (PMT_GAIN_RANGES_V: 0.5–1.1 V for the H10721,
// 0.5–0.9 V for the H10770PA-40), with 0 V to turn the gain down as ThorImage does; dirigo's fixed
// 0.5–1 V would refuse an H10721 its top 0.1 V. Our choices: 0–1 V for a type not in the table, and
// 115200 baud for the serial variant, which nothing we found documents.
import type { DriverProbe } from "./probe.js";
import * as fs from "node:fs";
import { type DeviceIdentity, type Stamped, UnsupportedSetting } from "./device.js";
import { checkGain, type GainRange, type PhotodetectorController, type PhotodetectorState, pmtGainRange, tripChanges } from "./photodetector.js";
import { SerialDevice } from "./serial-device.js";
import type { LineTiming, LineTransport, SerialSettings } from "./serial-line.js";

/** For a PMT type not in PMT_GAIN_RANGES_V. */
const UNKNOWN_TYPE_GAIN_RANGE_V: GainRange = { min: 0, max: 1 };
export const PMT2100_BANDWIDTHS_HZ = [80e6, 2.5e6, 250e3] as const;
const volts = (reply: string) => /^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?\s*V?$/i.test(reply);
const hertz = (reply: string) => /^\d+(\.\d+)?([eE][-+]?\d+)?\s*(Hz)?$/i.test(reply);
const scpiError = (reply: string) => /^[-+]?\d+,".*"$/.test(reply);

/** Query-only identification for `rigd devices --probe`; the driver uses the same baud rate and framing. */
export const PMT2100_PROBE: DriverProbe = {
  driver: "thorlabs-pmt2100",
  baudRate: 115200,
  framing: { commandEnd: "\n", replyEnd: "\n" },
  query: "*IDN?",
  identify: (r) => (/^THORLABS,pmt2100/i.test(r) ? r : undefined),
};

export class ThorlabsPmt2100 extends SerialDevice<PhotodetectorState> implements PhotodetectorController {
  readonly driver = "thorlabs-pmt2100";
  readonly channels = ["1"] as const;
  readonly gainUnit = "V";
  /** The PMT type the controller reports; its enable commands name it. */
  private detector = "";
  /** The fitted PMT type's gain range. */
  private gainRange = UNKNOWN_TYPE_GAIN_RANGE_V;
  private seen: PhotodetectorState | undefined;

  constructor(connection: (Partial<SerialSettings> & { path: string }) | LineTransport, timing: Partial<LineTiming> = {}) {
    const over = "open" in connection ? connection : { baudRate: PMT2100_PROBE.baudRate, ...connection };
    super(over, PMT2100_PROBE.framing, timing, `Thorlabs PMT2100 on ${connection.path}`);
  }

  protected async configure(): Promise<void> {
    await this.command("*CLS"); // stale errors would answer our SYST:ERR? checks
    this.detector = await this.line.query("SENS:DET:FUNC?", { valid: (r) => /^[\w-]+$/.test(r) });
    this.gainRange = pmtGainRange(this.detector) ?? { ...UNKNOWN_TYPE_GAIN_RANGE_V, of: `${this.detector}, a PMT type of unknown range` };
  }

  async identify(): Promise<DeviceIdentity> {
    const idn = await this.line.query("*IDN?", { valid: (r) => /^[\x20-\x7e]+$/.test(r) && r.split(",").length === 4 });
    const [manufacturer = "", model = "", serial_number = "", firmware = ""] = idn.split(",").map((field) => field.trim());
    return { manufacturer, model, serial_number, firmware };
  }

  async readState(): Promise<PhotodetectorState> {
    const enabled = await this.line.query(`SENS:FUNC:STAT? ${this.detector}`, { valid: (r) => r === "0" || r === "1" });
    const gain = await this.line.query("INST GAIN;:SOUR:VOLT?", { valid: volts });
    // "1" when tripped; ThorImage reads only the first character (a saturation count may follow).
    const trip = await this.line.query("SENS:CURR:PROT:TRIP?", { valid: (r) => /^[01]/.test(r) });
    const state: PhotodetectorState = { enabled: enabled === "1", channels: { "1": { gain: parseFloat(gain), tripped: trip.startsWith("1") } } };
    for (const { kind, message } of tripChanges(this.seen, state)) this.event(kind, message);
    this.seen = state;
    return state;
  }

  setEnabled(on: boolean): Promise<Stamped<PhotodetectorState>> {
    return this.apply(() => this.command(`SENS:FUNC:${on ? "ON" : "OFF"} ${this.detector}`));
  }

  async setGain(channel: string, gain: number): Promise<Stamped<PhotodetectorState>> {
    checkGain(this, this.gainRange, channel, gain);
    return this.apply(() => this.command(`INST GAIN;:SOUR:VOLT ${gain.toFixed(4)}V`));
  }

  resetTrip(): Promise<Stamped<PhotodetectorState>> {
    return this.apply(() => this.command("SENS:CURR:PROT:CLE"));
  }

  /** The low-pass filter after the amplifier, in Hz. */
  async readBandwidth(): Promise<number> {
    return parseFloat(await this.line.query("SENS:FILT:FREQ?", { valid: hertz }));
  }

  async setBandwidth(hz: number): Promise<void> {
    if (!PMT2100_BANDWIDTHS_HZ.some((allowed) => allowed === hz)) throw new UnsupportedSetting(`bandwidth must be 80 MHz, 2.5 MHz or 250 kHz, got ${hz} Hz`);
    await this.command(`SENS:FILT:FREQ ${hz}Hz`);
  }

  /** A set command, judged by the error it leaves in the SCPI error queue. */
  private async command(command: string): Promise<void> {
    const error = await this.line.query(`${command};:SYST:ERR?`, { valid: scpiError });
    if (!/^\+?0,/.test(error)) throw new Error(`Thorlabs PMT2100 refused '${command}': ${error}`);
  }
}

interface UsbtmcSession {
  fd: number;
  received: (chunk: Buffer) => void;
  lost: (reason: string) => void;
  reading: boolean;
  /** A query's reply is due and not yet all read. */
  wanted: boolean;
}

/**
 * The Linux usbtmc character device (/dev/usbtmc0…): a write sends a message, a read fetches the answer to
 * the last query. A read with no query pending stalls in the kernel until its timeout (5 s by default) and
 * holds writes back meanwhile, so this reads only when a reply is due; give the line a timeout above the
 * kernel's. Written for the PMT2100; any USBTMC instrument can use it.
 */
export class UsbtmcTransport implements LineTransport {
  private session: UsbtmcSession | undefined;

  constructor(readonly path: string) {}

  get isOpen(): boolean {
    return this.session !== undefined;
  }

  open(received: (chunk: Buffer) => void, lost: (reason: string) => void): Promise<void> {
    return new Promise((resolve, reject) =>
      // O_NOCTTY: a tty standing in for the device (in tests) must not become our controlling terminal.
      fs.open(this.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY, (e, fd) => {
        if (e) return reject(e);
        this.session = { fd, received, lost, reading: false, wanted: false };
        resolve();
      }),
    );
  }

  write(text: string): Promise<void> {
    const session = this.session;
    if (!session) return Promise.reject(new Error("not open"));
    return new Promise((resolve, reject) =>
      fs.write(session.fd, text, null, "latin1", (e) => {
        if (!e) return resolve();
        this.fail(session, e.message);
        reject(e);
      }),
    );
  }

  replyExpected(): void {
    if (!this.session) return;
    this.session.wanted = true;
    this.read(this.session);
  }

  close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (!session) return Promise.resolve();
    // A read still blocked on the old descriptor ends with it; its result is ignored.
    return new Promise((resolve) => fs.close(session.fd, () => resolve()));
  }

  /** Reads, one read at a time, until the reply's closing newline is in. */
  private read(session: UsbtmcSession): void {
    if (session.reading || !session.wanted) return;
    session.reading = true;
    const buffer = Buffer.alloc(4096);
    fs.read(session.fd, buffer, 0, buffer.length, null, (e, bytes) => {
      session.reading = false;
      if (session !== this.session) return;
      if (e?.code === "ETIMEDOUT") session.wanted = false; // the kernel gave up; the line reports the missing reply
      else if (e || bytes === 0) return this.fail(session, e?.message ?? "end of file");
      else {
        if (buffer[bytes - 1] === 0x0a) session.wanted = false;
        session.received(buffer.subarray(0, bytes));
      }
      this.read(session);
    });
  }

  private fail(session: UsbtmcSession, reason: string): void {
    if (session === this.session) session.lost(reason);
  }
}
