// A simulated PMT behind its controller: light in, gain-scaled signal out, and the overload protection
// that switches it off. Controller simulators hold one per channel; a scanner simulator reads
// `signalScale` to scale frame brightness (zero while disabled or tripped).

/** Gain follows the control voltage to this power: Hamamatsu's H10721, as ThorImage linearises it. */
const GAIN_EXPONENT = 7.29;

export class SimulatedPmt {
  private gainV = 0;
  private on = false;
  private light = 0;
  /** Overload protection has switched the PMT off; only a reset brings it back. */
  tripped = false;

  constructor(
    /** Anode current above which the protection trips (100 µA: the H10721's maximum average output). */
    readonly tripCurrentUA = 100,
  ) {}

  /** Gain control voltage in V; a change applies at once. */
  get gain(): number {
    return this.gainV;
  }
  set gain(volts: number) {
    this.gainV = volts;
    this.checkOverload();
  }

  get enabled(): boolean {
    return this.on;
  }
  set enabled(on: boolean) {
    this.on = on;
    this.checkOverload();
  }

  /** Light on the photocathode, as the anode current in µA it would give at a 1 V control voltage. */
  get lightLevel(): number {
    return this.light;
  }
  set lightLevel(level: number) {
    this.light = level;
    this.checkOverload();
  }

  /** What the signal is multiplied by: the gain at this control voltage, or 0 while off or tripped. */
  get signalScale(): number {
    return this.on && !this.tripped ? this.gainV ** GAIN_EXPONENT : 0;
  }

  get anodeCurrentUA(): number {
    return this.light * this.signalScale;
  }

  /** Clears the trip; a PMT still flooded with light trips again at once. */
  resetTrip(): void {
    this.tripped = false;
    this.checkOverload();
  }

  private checkOverload(): void {
    if (this.anodeCurrentUA > this.tripCurrentUA) this.tripped = true;
  }
}
