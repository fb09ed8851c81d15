// What the tunable Ti:Sapphire drivers share (Spectra-Physics Mai Tai / InSight, Coherent Chameleon): the tuning
// range comes from the laser at connect, a wavelength outside it is refused before anything is sent, there is no
// power control, and a setting counts as done only once the laser reads it back, since these lasers act on a
// command with a delay (the Mai Tai manual: the shutter reads its old position for about a second).
import { epochMs, type Stamped, UnsupportedSetting } from "./device.js";
import type { ExcitationSource, ExcitationSourceState } from "./excitation-source.js";
import { SerialDevice } from "./serial-device.js";
import type { LineFraming, LineTiming, SerialSettings } from "./serial-line.js";

export interface ConfirmTiming {
  /** How long a setting may take to show in its read-back (default 3000 ms). */
  confirmMs: number;
  /** Pause between read-backs (default 100 ms). */
  intervalMs: number;
  /**
   * Pause between read-backs of the shutter (default 10 ms): it moves in one step, and the moment its
   * new position shows is when frames go dark or bright, wanted to within a frame.
   */
  shutterIntervalMs: number;
}

export abstract class TunableLaser extends SerialDevice<ExcitationSourceState> implements ExcitationSource {
  readonly controls = { shutter: true, wavelength: true, power: false };
  /** [min, max] in nm as the laser reports it; configure() reads it. */
  protected range: [number, number] | undefined;
  protected readonly waits: ConfirmTiming;

  constructor(settings: SerialSettings, framing: LineFraming, timing: Partial<LineTiming>, label: string, waits: Partial<ConfirmTiming>) {
    super(settings, framing, timing, label);
    this.waits = { confirmMs: 3000, intervalMs: 100, shutterIntervalMs: 10, ...waits };
  }

  abstract setEmission(on: boolean): Promise<Stamped<ExcitationSourceState>>;
  abstract setShutter(open: boolean): Promise<Stamped<ExcitationSourceState>>;

  /** Sends the new target and resolves once the laser has taken it; the state shows tuning until it is there. */
  protected abstract tune(nm: number): Promise<void>;

  async setWavelength(nm: number): Promise<Stamped<ExcitationSourceState>> {
    const range = this.range;
    if (!range) throw new Error(`${this.line.label}: not connected (the tuning range comes from the laser)`);
    if (!Number.isInteger(nm)) throw new UnsupportedSetting(`${this.line.label}: the wavelength is set in whole nm, not ${nm} nm`);
    if (nm < range[0] || nm > range[1]) throw new UnsupportedSetting(`${this.line.label}: ${nm} nm is outside the tuning range ${range[0]}–${range[1]} nm`);
    return this.apply(() => this.tune(nm));
  }

  async setPower(watts: number): Promise<never> {
    throw new UnsupportedSetting(`${this.line.label}: cannot set ${watts} W: this laser has no power control (its output follows the wavelength); set the power with the Pockels cell or attenuator`);
  }

  /**
   * Asks for the shutter's position every shutterIntervalMs until it shows `want`, and resolves with when
   * it moved: halfway between the ask that still showed the old position (or the command) and the one
   * that first showed the new, so to within half an interval plus a round trip.
   */
  protected async confirmShutter(read: () => Promise<string>, want: "0" | "1", command: string): Promise<number> {
    let before = epochMs();
    let asked = before;
    const ask = () => {
      before = asked;
      asked = epochMs();
      return read();
    };
    await this.until(ask, (r) => r === want, this.waits.confirmMs, () => `shutter still ${want === "1" ? "closed" : "open"} after ${command}`, this.waits.shutterIntervalMs);
    return (before + asked) / 2;
  }

  /** Reads every `intervalMs` until `done` holds, or rejects with `failure(last reading)` after `timeoutMs`; resolves with the reading. */
  protected async until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, failure: (last: T) => string, intervalMs = this.waits.intervalMs): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() >= deadline) throw new Error(`${this.line.label}: ${failure(value)}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
