// A Cobolt laser at the other end of a pty: power ramps to its set point while on, an open interlock
// keeps it off with fault 3, and an unknown command gets the device's syntax error.
import { SerialSimulator } from "./serial-simulator.js";

export class CoboltSimulator extends SerialSimulator {
  on = false;
  setPointW = 0.05;
  interlockOpen = false;
  autostart = true;
  hours = 1234.5;
  fault = "0";
  private switchedOnAt = 0;

  constructor(readonly serialNumber = "17354", readonly maxPowerW = 0.1, readonly wavelengthNm = 488) {
    super("\r", "\r\n", 115200, "cobolt");
  }

  /** No shutter: light leaves whenever the laser emits (what a scanner simulator reads). */
  get shutterOpen(): boolean {
    return this.on;
  }

  /** Output power: it reaches the set point over ~200 ms after switching on. */
  get powerW(): number {
    if (!this.on) return 0;
    const ramp = Math.min(1, (Date.now() - this.switchedOnAt) / 200);
    return this.setPointW * ramp;
  }

  protected respond(command: string): string {
    const [name, arg] = command.split(/\s+/, 2);
    switch (name) {
      case "l1":
        if (this.interlockOpen) {
          this.fault = "3";
          return "OK";
        }
        if (!this.on) this.switchedOnAt = Date.now();
        this.on = true;
        return "OK";
      case "l0":
        this.on = false;
        return "OK";
      case "l?":
        return this.on ? "1" : "0";
      case "p": {
        const w = Number(arg);
        if (arg === undefined || !Number.isFinite(w) || w < 0 || w > this.maxPowerW) return "Syntax error: value out of range";
        this.setPointW = w;
        return "OK";
      }
      case "p?":
        return this.setPointW.toFixed(4);
      case "pa?":
        return this.powerW.toFixed(4);
      case "@cobas":
        this.autostart = arg === "1";
        return "OK";
      case "f?":
        return this.fault;
      case "ilk?":
        return this.interlockOpen ? "1" : "0";
      case "sn?":
        return this.serialNumber;
      case "hrs?":
        return this.hours.toFixed(1);
      default:
        return "Syntax error: illegal command";
    }
  }
}
