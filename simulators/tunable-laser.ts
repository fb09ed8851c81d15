// What a tunable Ti:Sapphire laser does whatever its protocol: it warms up before it can lase, tunes at a bounded
// speed and loses mode-lock while it does, gives most power near 800 nm, and its shutter takes a moment to move.
// The state is public (emission, shutterOpen, wavelengthNm, powerW…) so other simulators, a scanner's frames,
// can follow the light. Everything is computed from timestamps when read, like the Cobolt's power ramp.
import { SerialSimulator } from "./serial-simulator.js";

export interface TunableLaserBehaviour {
  /** Tuning range [min, max] in nm. */
  range: [number, number];
  /** Output at the gain peak, 800 nm, in W. */
  peakW: number;
  /** From the first switch-on to warmed up (default 3000 ms; minutes on a real laser). */
  warmUpMs: number;
  /** Tuning speed (default 20 ms per nm)… */
  tuneMsPerNm: number;
  /** …and the longest any tuning takes (default 3000 ms). */
  maxTuneMs: number;
  /** Until the shutter reports its new position (default 1000 ms, as the Mai Tai manual describes). */
  shutterMs: number;
}

const DEFAULTS = { warmUpMs: 3000, tuneMsPerNm: 20, maxTuneMs: 3000, shutterMs: 1000 };

export abstract class TunableLaserSimulator extends SerialSimulator {
  readonly behaviour: TunableLaserBehaviour;
  /** Pump diodes on. The laser lases once it is also warmed up. */
  pumpOn = false;
  /** Where the laser was sent. */
  targetNm = 800;
  /** Held in CW, mode-locking off (the Chameleon's alignment mode or SM=0, the Mai Tai's CONT:MLEN 0). */
  continuousWave = false;
  private warmUpFrom: number | undefined;
  private tuning = { fromNm: 800, at: 0, ms: 0 };
  private shutter = { open: false, was: false, at: 0 };

  constructor(commandEnd: string | readonly string[], replyEnd: string, baudRate: number, name: string, behaviour: Partial<TunableLaserBehaviour> & Pick<TunableLaserBehaviour, "range" | "peakW">) {
    super(commandEnd, replyEnd, baudRate, name);
    this.behaviour = { ...DEFAULTS, ...behaviour };
  }

  get warmedUpPercent(): number {
    if (this.warmUpFrom === undefined) return 0;
    const elapsed = Date.now() - this.warmUpFrom;
    return elapsed >= this.behaviour.warmUpMs ? 100 : (100 * elapsed) / this.behaviour.warmUpMs;
  }

  /** Light is generated (the shutter may still be closed). */
  get emission(): boolean {
    return this.pumpOn && this.warmedUpPercent >= 100;
  }

  get wavelengthNm(): number {
    const { fromNm, at, ms } = this.tuning;
    const done = ms === 0 ? 1 : Math.min(1, (Date.now() - at) / ms);
    return fromNm + (this.targetNm - fromNm) * done;
  }

  get isTuning(): boolean {
    return Date.now() - this.tuning.at < this.tuning.ms;
  }

  get modeLocked(): boolean {
    return this.emission && !this.isTuning && !this.continuousWave;
  }

  /** Output power as the laser's own meter reads it, before the shutter. */
  get powerW(): number {
    return this.emission ? this.gainW(this.wavelengthNm) : 0;
  }

  /** When the shutter reached its position (Date.now() ms; in the future while it moves). */
  get shutterSettledAt(): number {
    return this.shutter.at + this.behaviour.shutterMs;
  }

  get shutterOpen(): boolean {
    return Date.now() - this.shutter.at >= this.behaviour.shutterMs ? this.shutter.open : this.shutter.was;
  }

  /** The Ti:Sapphire gain curve: a peak at 800 nm, falling faster toward the blue end than toward the red. */
  gainW(nm: number): number {
    const width = nm < 800 ? 120 : 220;
    return this.behaviour.peakW * Math.exp(-(((nm - 800) / width) ** 2));
  }

  inRange(nm: number): boolean {
    return nm >= this.behaviour.range[0] && nm <= this.behaviour.range[1];
  }

  /** The state a lab leaves its laser in before a session: warm, lasing at `nm`, shutter open. */
  lasingAt(nm: number): void {
    this.warmUpFrom = Date.now() - this.behaviour.warmUpMs;
    this.pumpOn = true;
    this.targetNm = nm;
    this.tuning = { fromNm: nm, at: 0, ms: 0 };
    this.shutter = { open: true, was: true, at: 0 };
  }

  /** Starts the warm-up unless it has already begun; the laser stays warm after the pump goes off. */
  protected startWarmUp(): void {
    this.warmUpFrom ??= Date.now();
  }

  /** Moves to `nm` (in range) from wherever it is now, even mid-tuning. */
  protected tune(nm: number): void {
    const fromNm = this.wavelengthNm;
    const ms = Math.min(this.behaviour.maxTuneMs, Math.abs(nm - fromNm) * this.behaviour.tuneMsPerNm);
    this.tuning = { fromNm, at: Date.now(), ms };
    this.targetNm = nm;
  }

  protected moveShutter(open: boolean): void {
    if (open === this.shutter.open) return;
    this.shutter = { open, was: this.shutterOpen, at: Date.now() };
  }
}
