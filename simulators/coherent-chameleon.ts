// A Coherent Chameleon Ultra II at the other end of a pty. Like the real laser it starts with echo and prompt on,
// answers every command with one line (a setting with an empty one), puts "Error" in the reply to a command it
// does not know (the exact wording is not in any source found: this one is chosen), and clamps an out-of-range
// wavelength to the nearer end of its range, as its manual describes.
import { type TunableLaserBehaviour, TunableLaserSimulator } from "./tunable-laser.js";

export class ChameleonSimulator extends TunableLaserSimulator {
  echo = true;
  prompt = true;
  /** The heartbeat: the real laser switches off when the host goes quiet. Recorded, not enforced. */
  heartbeat = true;
  /** The external interlock (?F code 2): while open the laser cannot switch on. */
  interlockOpen = false;
  private faulted = false;

  constructor(
    behaviour: Partial<TunableLaserBehaviour> = {},
    readonly serialNumber = "GDP.3561",
    /** Software version for ?SV; null for a firmware that does not know ?SV. */
    readonly firmware: string | null = "5.07",
  ) {
    super("\r\n", "\r\n", 19200, "chameleon", { range: [680, 1080], peakW: 3.5, ...behaviour });
  }

  /**
   * The echo and the prompt as they were before this command (ECHO=0 is still echoed). The real laser prints its
   * prompt after a reply and the next command's echo after that; writing it here, before the next reply, puts the
   * same lines on the wire.
   */
  protected respond(command: string): string {
    const before = `${this.prompt ? "CHAMELEON> " : ""}${this.echo ? `${command}\r\n` : ""}`;
    return before + this.execute(command);
  }

  private execute(command: string): string {
    if (command.startsWith("?")) return this.query(command.slice(1).toUpperCase()) ?? "Command Error";
    const [name = "", value = ""] = command.toUpperCase().split("=", 2).map((part) => part.trim());
    if (!/^\d+$/.test(value)) return "Command Error";
    const n = Number(value);
    switch (name) {
      case "ECHO":
        this.echo = n === 1;
        return "";
      case "PROMPT":
        this.prompt = n === 1;
        return "";
      case "HB":
      case "HEARTBEAT":
        this.heartbeat = n === 1;
        return "";
      case "L":
      case "LASER":
        this.switchLaser(n === 1);
        return "";
      case "SHUTTER":
        this.moveShutter(n === 1);
        return "";
      case "WAVELENGTH":
      case "VW":
        this.tune(Math.min(this.behaviour.range[1], Math.max(this.behaviour.range[0], n)));
        return "";
      default:
        return "Command Error";
    }
  }

  private query(name: string): string | undefined {
    switch (name) {
      case "L":
        return this.faulted ? "2" : this.pumpOn ? "1" : "0";
      case "S":
        return this.shutterOpen ? "1" : "0";
      case "VW":
        return String(Math.round(this.wavelengthNm));
      case "UF":
        return String(Math.round(this.powerW * 1000));
      case "MDLK":
        return !this.emission ? "0" : this.modeLocked ? "1" : "2";
      case "TS":
        return this.isTuning ? "1" : "0";
      case "ST":
        return !this.pumpOn ? "Standby" : this.emission ? "OK" : "Starting";
      case "F":
        return this.interlockOpen ? "2" : "0";
      case "SN":
        return this.serialNumber;
      case "SV":
        return this.firmware ?? undefined;
      case "TMIN":
        return String(this.behaviour.range[0]);
      case "TMAX":
        return String(this.behaviour.range[1]);
      default:
        return undefined;
    }
  }

  /** L=1 clears faults and switches on (warming up first when cold), unless the interlock is still open. */
  private switchLaser(on: boolean): void {
    this.faulted = on && this.interlockOpen;
    this.pumpOn = on && !this.interlockOpen;
    if (this.pumpOn) this.startWarmUp();
  }
}
