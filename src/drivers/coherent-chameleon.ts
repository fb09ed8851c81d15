// Coherent Chameleon Ti:Sapphire lasers (Ultra, Ultra II, Vision): 19200 8N1, CR/LF both ways. Every command gets
// one reply line: the value for a query, an empty line for a setting, " Command Error", " Query Error" or
// " RANGE ERROR" when refused. From power-up the laser echoes each command's characters and prints a "CHAMELEON>"
// prompt after each reply, so a reply line reads "CHAMELEON> ?L1"; configure() turns both off, and until then (at
// connect, after a power cycle) every exchange copes with them: it strips the prompt, then the echo.
import type { DeviceIdentity, Stamped } from "./device.js";
import type { DriverProbe } from "./probe.js";
import type { ExcitationSourceState } from "./excitation-source.js";
import type { LineTiming, SerialSettings } from "./serial-line.js";
import { type ConfirmTiming, TunableLaser } from "./tunable-laser.js";

const PROMPT = /^CHAMELEON>\s*/i;

/** The reply in a line: without the prompt and the echo of `command` that may lead it, and without padding. */
function replyTo(command: string, line: string): string {
  const unprompted = line.replace(PROMPT, "");
  return (unprompted.startsWith(command) ? unprompted.slice(command.length) : unprompted).trim();
}

/** ?F codes, from the Chameleon Ultra / Vision operator's manual's fault table; "&" joins several. */
const FAULTS: Record<string, string> = {
  "1": "laser head interlock open",
  "2": "external interlock open",
  "3": "power supply cover interlock open",
  "43": "lost mode-lock",
};
/** The laser answered with an error: the command is unknown to this firmware or its value is not accepted. */
class CommandRefused extends Error {
  override name = "CommandRefused";
}

const number = (reply: string) => /^-?\d+(\.\d+)?$/.test(reply);
const digit = (reply: string) => /^\d$/.test(reply);
/** Printable ASCII: anything else in a text reply is line noise. */
const text = (reply: string) => /^[\x20-\x7e]+$/.test(reply);
const word = (reply: string) => /^[\x21-\x7e]+$/.test(reply);

/** Query-only identification for `rigd devices --probe`; the driver uses the same baud rate and framing. */
export const CHAMELEON_PROBE: DriverProbe = {
  driver: "coherent-chameleon",
  baudRate: 19200,
  framing: { commandEnd: "\r\n", replyEnd: "\n" },
  query: "?SN",
  identify: (reply) => {
    const serial = replyTo("?SN", reply); // a freshly powered laser still prompts and echoes
    return /^[\w.-]+$/.test(serial) && !/error/i.test(serial) ? `Coherent Chameleon s/n ${serial}` : undefined;
  },
};

export class CoherentChameleon extends TunableLaser {
  readonly driver = "coherent-chameleon";

  constructor(
    settings: Partial<SerialSettings> & { path: string },
    /** The laser names only its serial number: the model comes from the rig profile. */
    private readonly model = "Chameleon Ultra II",
    timing: Partial<LineTiming> = {},
    waits: Partial<ConfirmTiming> = {},
  ) {
    super({ baudRate: CHAMELEON_PROBE.baudRate, ...settings }, CHAMELEON_PROBE.framing, timing, `Chameleon on ${settings.path}`, waits);
  }

  protected async configure(): Promise<void> {
    await this.set("ECHO=0");
    await this.set("PROMPT=0");
    // Heartbeat off: otherwise the laser switches off when the host is quiet for the heartbeat period.
    await this.set("HB=0");
    this.range = [Number(await this.ask("?TMIN", number)), Number(await this.ask("?TMAX", number))];
  }

  async identify(): Promise<DeviceIdentity> {
    const serial = await this.ask("?SN", word);
    // Not every firmware knows ?SV (software version): one that refuses it goes without.
    const firmware = await this.ask("?SV", word).catch((e: Error) => {
      if (e instanceof CommandRefused) return undefined;
      throw e;
    });
    return { manufacturer: "Coherent", model: this.model, serial_number: serial, ...(firmware ? { firmware } : {}) };
  }

  async readState(): Promise<ExcitationSourceState> {
    const on = await this.ask("?L", digit);
    const shutter = await this.ask("?S", digit);
    const wavelength = await this.ask("?VW", number);
    const power = await this.ask("?UF", number);
    const modeLock = await this.ask("?MDLK", digit);
    const tuning = await this.ask("?TS", digit);
    const status = await this.ask("?ST", text);
    const fault = await this.fault();
    return {
      emission: on === "1", // 0 off, 2 a fault keeps it off
      shutter_open: shutter === "1",
      wavelength_nm: Number(wavelength),
      power_W: Number(power) / 1000,
      mode_locked: modeLock === "1", // 2 is CW
      tuning: tuning === "1", // 2 and 3 are searching for mode-lock and recovering
      // ?ST says "Starting" while the laser warms up and "OK" once it runs; it gives no percentage.
      ...(/^Starting/i.test(status) ? { warmed_up_percent: 0 } : /^OK/i.test(status) ? { warmed_up_percent: 100 } : {}),
      ...(fault ? { fault } : {}),
    };
  }

  /** Resolves once ?L reports the new state; a cold laser then warms up on its own (warmed_up_percent 0 until it runs). */
  setEmission(on: boolean): Promise<Stamped<ExcitationSourceState>> {
    const want = on ? "1" : "0";
    return this.apply(async () => {
      await this.set(`L=${want}`);
      const state = await this.until(() => this.ask("?L", digit), (l) => l === want || (on && l === "2"), this.waits.confirmMs, (l) => `?L still ${l} after L=${want}`);
      if (state !== want) throw new Error(`${this.line.label}: did not switch on: ${(await this.fault()) ?? "fault"}`);
    });
  }

  setShutter(open: boolean): Promise<Stamped<ExcitationSourceState>> {
    const want = open ? "1" : "0";
    return this.apply(async () => {
      await this.set(`SHUTTER=${want}`);
      return this.confirmShutter(() => this.ask("?S", digit), want, `SHUTTER=${want}`);
    });
  }

  /** The laser acknowledges the command itself (an empty line), so no read-back is needed; ?TS then shows the tuning. */
  protected async tune(nm: number): Promise<void> {
    await this.set(`WAVELENGTH=${nm}`);
  }

  private async fault(): Promise<string | undefined> {
    const codes = await this.ask("?F", (r) => /^\d+(&\d+)*$/.test(r));
    if (codes === "0") return undefined;
    return codes
      .split("&")
      .map((code) => FAULTS[code] ?? `fault code ${code}`)
      .join(", ");
  }

  /** A setting: its reply is an empty line. */
  private set(command: string): Promise<string> {
    return this.ask(command, (reply) => reply === "");
  }

  /** One command, one reply line: a leading prompt and echo stripped, an error thrown. */
  private async ask(command: string, valid: (reply: string) => boolean): Promise<string> {
    const reply = replyTo(command, await this.line.query(command, { valid: (line) => /error/i.test(line) || valid(replyTo(command, line)) }));
    if (/error/i.test(reply)) throw new CommandRefused(`${this.line.label}: the laser refused '${command}': ${reply}`);
    return reply;
  }
}
