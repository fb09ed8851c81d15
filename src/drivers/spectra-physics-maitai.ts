// Spectra-Physics Mai Tai and InSight Ti:Sapphire lasers: 9600 8N1, commands and replies end in LF, SCPI-style
// names. A set command gets no reply, and one the laser does not understand or cannot carry out is dropped without
// a word (the manual: it "will not generate any signals on the RS-232 unless a query command is received"), so
// every setting is sent with SerialLine.send and confirmed by a query that reads it back.
import type { DeviceIdentity, Stamped } from "./device.js";
import type { DriverProbe } from "./probe.js";
import type { ExcitationSourceState } from "./excitation-source.js";
import type { LineTiming, SerialSettings } from "./serial-line.js";
import { type ConfirmTiming, TunableLaser } from "./tunable-laser.js";

/** *STB? bits. */
const EMITTING = 1;
const MODE_LOCKED = 2;

export interface MaiTaiWaits extends ConfirmTiming {
  /** How long switching on may take when the laser is cold, warm-up included (default 30 min). */
  warmUpMs: number;
}

/** Query-only identification for `rigd devices --probe`; the driver uses the same baud rate and framing. */
export const MAITAI_PROBE: DriverProbe = {
  driver: "spectra-physics-maitai",
  baudRate: 9600,
  framing: { commandEnd: "\n", replyEnd: "\n" },
  query: "*IDN?",
  identify: (r) => (/spectra.?physics/i.test(r) ? r : undefined),
};

export class SpectraPhysicsMaiTai extends TunableLaser {
  readonly driver = "spectra-physics-maitai";
  private readonly warmUpMs: number;

  constructor(settings: Partial<SerialSettings> & { path: string }, timing: Partial<LineTiming> = {}, waits: Partial<MaiTaiWaits> = {}) {
    super({ baudRate: MAITAI_PROBE.baudRate, ...settings }, MAITAI_PROBE.framing, timing, `Mai Tai on ${settings.path}`, waits);
    this.warmUpMs = waits.warmUpMs ?? 30 * 60_000;
  }

  protected async configure(): Promise<void> {
    // Otherwise the pump switches off whenever the host is quiet for the watchdog's number of seconds.
    await this.line.send("TIMER:WATCHDOG 0");
    this.range = [await this.read("WAVELENGTH:MIN?", "nm"), await this.read("WAVELENGTH:MAX?", "nm")];
  }

  async identify(): Promise<DeviceIdentity> {
    // "Spectra Physics,MaiTai,3312,0245-2.00.34 / CD00000019 / 214-00.004.057": maker, model, serial, firmware.
    const idn = await this.line.query("*IDN?", { valid: (r) => r.split(",").length >= 4 });
    const [manufacturer = "", model = "", serial = "", ...firmware] = idn.split(",").map((field) => field.trim());
    return { manufacturer, model, serial_number: serial, firmware: firmware.join(",") };
  }

  async readState(): Promise<ExcitationSourceState> {
    const status = await this.status();
    const shutter = await this.line.query("SHUTTER?", { valid: (r) => r === "0" || r === "1" });
    const target = await this.read("WAVELENGTH?", "nm");
    const actual = await this.read("READ:WAVELENGTH?", "nm");
    return {
      emission: (status & EMITTING) !== 0,
      shutter_open: shutter === "1",
      wavelength_nm: actual,
      power_W: await this.read("READ:POWER?", "W"),
      mode_locked: (status & MODE_LOCKED) !== 0,
      warmed_up_percent: await this.read("READ:PCTWARMEDUP?", "%"),
      // There is no tuning query: the laser is tuning while it is a whole nm or more from its target.
      tuning: Math.abs(actual - target) >= 1,
    };
  }

  /**
   * Resolves once the pump is on or off. A cold laser warms up first, which takes minutes on a real one:
   * periodic polls go on meanwhile, so the warm-up shows in the state.
   */
  async setEmission(on: boolean): Promise<Stamped<ExcitationSourceState>> {
    if (on) await this.warmUp();
    return this.apply(async () => {
      await this.line.send(on ? "ON" : "OFF");
      const emitting = (s: number) => (s & EMITTING) !== 0;
      await this.until(() => this.status(), (s) => emitting(s) === on, this.waits.confirmMs, () => (on ? "no emission after ON" : "still emitting after OFF"));
    });
  }

  setShutter(open: boolean): Promise<Stamped<ExcitationSourceState>> {
    const want = open ? "1" : "0";
    return this.apply(async () => {
      await this.line.send(`SHUTTER ${want}`);
      return this.confirmShutter(() => this.line.query("SHUTTER?", { valid: (r) => r === "0" || r === "1" }), want, `SHUTTER ${want}`);
    });
  }

  protected async tune(nm: number): Promise<void> {
    await this.line.send(`WAVELENGTH ${nm}`);
    // WAVELENGTH? is the set point, which changes as soon as the laser takes the command; READ:WAVELENGTH? follows it as the laser tunes.
    const target = await this.read("WAVELENGTH?", "nm");
    if (target !== nm) throw new Error(`${this.line.label}: the laser did not take WAVELENGTH ${nm}: its set point is still ${target} nm`);
  }

  /**
   * The manual's sequence: ON at 0 % warm starts the warm-up, ON while it runs (1–99 %) is refused, and ON at
   * 100 % switches the pump on (setEmission sends that one). The laser stays warm after OFF.
   */
  private async warmUp(): Promise<void> {
    const warm = await this.read("READ:PCTWARMEDUP?", "%");
    if (warm >= 100) return;
    if (warm === 0) await this.line.send("ON");
    await this.until(() => this.read("READ:PCTWARMEDUP?", "%"), (p) => p >= 100, this.warmUpMs, (p) => `still warming up (${p} %) after ${this.warmUpMs / 1000} s`);
  }

  private async status(): Promise<number> {
    return Number(await this.line.query("*STB?", { valid: (r) => /^\d+$/.test(r) }));
  }

  /** A number with its unit, e.g. "920nm", "1.52W", "100.00%". */
  private async read(query: string, unit: string): Promise<number> {
    const pattern = new RegExp(`^-?\\d+(\\.\\d+)?${unit}$`);
    return parseFloat(await this.line.query(query, { valid: (r) => pattern.test(r) }));
  }
}
