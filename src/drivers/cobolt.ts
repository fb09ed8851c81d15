// Cobolt (HÜBNER Photonics) fixed-wavelength lasers: 115200 8N1, commands end in CR, replies in CRLF;
// a command that is not a query answers "OK", a bad one "Syntax error: …".
import { type DeviceIdentity, type Stamped, UnsupportedSetting } from "./device.js";
import type { DriverProbe } from "./probe.js";
import type { ExcitationSource, ExcitationSourceState } from "./excitation-source.js";
import { SerialDevice } from "./serial-device.js";
import type { LineTiming, SerialSettings } from "./serial-line.js";

const FAULTS: Record<string, string> = { "1": "temperature error", "3": "interlock open", "4": "constant-power time-out" };
const number = (reply: string) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(reply);

/** Query-only identification for `rigd devices --probe`; the driver uses the same baud rate and framing. */
export const COBOLT_PROBE: DriverProbe = {
  driver: "cobolt",
  baudRate: 115200,
  framing: { commandEnd: "\r", replyEnd: "\n" },
  query: "sn?",
  identify: (r) => (/^\d{3,}$/.test(r) ? `Cobolt s/n ${r}` : undefined),
};

export class CoboltLaser extends SerialDevice<ExcitationSourceState> implements ExcitationSource {
  readonly driver = "cobolt";
  readonly controls = { shutter: false, wavelength: false, power: true };

  constructor(
    settings: Partial<SerialSettings> & { path: string },
    /** Cobolt lasers do not report their wavelength: it comes from the rig profile. */
    private readonly wavelength_nm: number,
    timing: Partial<LineTiming> = {},
  ) {
    super({ baudRate: COBOLT_PROBE.baudRate, ...settings }, COBOLT_PROBE.framing, timing, `Cobolt on ${settings.path}`);
  }

  protected async configure(): Promise<void> {
    // Autostart off: the laser must not start emitting by itself after an interlock or power cycle.
    await this.command("@cobas 0");
  }

  async identify(): Promise<DeviceIdentity> {
    const serial = await this.line.query("sn?", { valid: (r) => /^\w+$/.test(r) });
    return { manufacturer: "Cobolt", model: `Cobolt ${this.wavelength_nm} nm`, serial_number: serial };
  }

  async readState(): Promise<ExcitationSourceState> {
    const on = await this.line.query("l?", { valid: (r) => r === "0" || r === "1" });
    const power = await this.line.query("pa?", { valid: number });
    const fault = await this.line.query("f?", { valid: (r) => /^\d$/.test(r) });
    return {
      emission: on === "1",
      shutter_open: on === "1", // no shutter: light leaves whenever it emits
      wavelength_nm: this.wavelength_nm,
      power_W: Number(power),
      ...(fault !== "0" ? { fault: FAULTS[fault] ?? `fault code ${fault}` } : {}),
    };
  }

  setEmission(on: boolean): Promise<Stamped<ExcitationSourceState>> {
    return this.apply(() => this.command(on ? "l1" : "l0"));
  }

  async setShutter(): Promise<never> {
    throw new UnsupportedSetting("Cobolt lasers have no shutter: switch emission instead");
  }

  async setWavelength(): Promise<never> {
    throw new UnsupportedSetting(`Cobolt lasers have a fixed wavelength (${this.wavelength_nm} nm)`);
  }

  async setPower(watts: number): Promise<Stamped<ExcitationSourceState>> {
    if (!(watts >= 0)) throw new UnsupportedSetting(`power must be ≥ 0 W, got ${watts}`);
    return this.apply(() => this.command(`p ${watts.toFixed(4)}`));
  }

  /** A non-query command: "OK", or the device's error as an exception. */
  private async command(command: string): Promise<void> {
    const reply = await this.line.query(command, { valid: (r) => r === "OK" || r.startsWith("Syntax error") });
    if (reply !== "OK") throw new Error(`Cobolt refused '${command}': ${reply}`);
  }
}
