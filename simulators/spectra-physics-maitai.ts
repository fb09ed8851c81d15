// A Spectra-Physics Mai Tai (or InSight) at the other end of a pty, following the Mai Tai user's manual's RS-232
// chapter: SCPI-style names in long or short form (SHUTTER or SHUT, READ:PCTWARMEDUP? or READ:PCTW?), any case;
// set commands never answer; a command it does not know or cannot carry out (ON while warming up, a wavelength
// out of range) is dropped silently: the real laser only flags it in its error queue, which no driver here reads.
import { type TunableLaserBehaviour, TunableLaserSimulator } from "./tunable-laser.js";

const MODELS = {
  MaiTai: { range: [690, 1040], peakW: 2.5 },
  InSight: { range: [680, 1300], peakW: 2.0 },
} satisfies Record<string, Pick<TunableLaserBehaviour, "range" | "peakW">>;

/** A SCPI header such as "READ:PCTWarmedup?" accepts each keyword long (PCTWARMEDUP) or short (its capitals, PCTW). */
function matches(pattern: string, header: string): boolean {
  const keys = pattern.split(":");
  const given = header.toUpperCase().split(":");
  return keys.length === given.length && keys.every((key, i) => given[i] === key.toUpperCase() || given[i] === key.replace(/[a-z]/g, ""));
}

export class MaiTaiSimulator extends TunableLaserSimulator {
  /** The watchdog: seconds of host silence before the real laser switches off, 0 for never. Recorded, not enforced. */
  watchdogS = 10;
  readonly firmware = "0245-2.00.34 / CD00000019 / 214-00.004.057";
  private readonly commands: [pattern: string, run: (arg: string | undefined) => string | void][] = [
    ["*IDN?", () => `Spectra Physics,${this.model},${this.serialNumber},${this.firmware}`],
    ["*STB?", () => String((this.emission ? 1 : 0) | (this.modeLocked ? 2 : 0))],
    ["ON", () => this.switchOn()],
    ["OFF", () => {
      this.pumpOn = false;
    }],
    ["SHUTter", (arg) => {
      if (arg === "0" || arg === "1") this.moveShutter(arg === "1");
    }],
    ["SHUTter?", () => (this.shutterOpen ? "1" : "0")],
    ["WAVelength", (arg) => {
      if (arg !== undefined && /^\d+$/.test(arg) && this.inRange(Number(arg))) this.tune(Number(arg));
    }],
    ["WAVelength?", () => `${this.targetNm}nm`],
    ["WAVelength:MIN?", () => `${this.behaviour.range[0]}nm`],
    ["WAVelength:MAX?", () => `${this.behaviour.range[1]}nm`],
    ["READ:WAVelength?", () => `${Math.round(this.wavelengthNm)}nm`],
    ["READ:POWer?", () => `${this.powerW.toFixed(2)}W`],
    // Two decimals as the firmware answers ("100.00%"), though the manual writes "050%".
    ["READ:PCTWarmedup?", () => `${this.warmedUpPercent.toFixed(2)}%`],
    ["TIMer:WATChdog", (arg) => {
      if (arg !== undefined && /^\d+$/.test(arg)) this.watchdogS = Number(arg);
    }],
  ];

  constructor(
    readonly model: keyof typeof MODELS = "MaiTai",
    behaviour: Partial<TunableLaserBehaviour> = {},
    readonly serialNumber = "3312",
  ) {
    super("\n", "\n", 9600, "maitai", { ...MODELS[model], ...behaviour });
  }

  protected respond(command: string): string | undefined {
    const [header = "", arg] = command.split(/\s+/, 2);
    const found = this.commands.find(([pattern]) => matches(pattern, header));
    return found?.[1](arg) ?? undefined;
  }

  /** ON at 0 % starts the warm-up, at 100 % switches the pump on; in between it is an execution error. */
  private switchOn(): void {
    const warm = this.warmedUpPercent;
    if (warm === 0) this.startWarmUp();
    else if (warm >= 100) this.pumpOn = true;
  }
}
