// Scientifica PMT controller (two PMTs, A and B): 9600 8N1, commands and replies end in CR.
// Commands as ScanImage's dabs.scientifica.PMT sends them: the handshake SCIENTIFICA → Y519, SERIAL, VER,
// ENABLE [0|1], A|B [volts], V (trip bits), SOURCE 3 (gain set over serial), RESTART (no reply; clears trips
// by rebooting, ScanImage then waits 5.5 s). ScanImage reads a reply to every other command; what a set
// command answers is not in it, so we take the Scientifica motion controllers' convention (Micro-Manager's
// Scientifica adapter checks for "A", acq4 raises on "E,<n>", ScanImage treats "E,1" as a failed handshake).
// Our choices, documented nowhere we could find: V's bit 0 is channel A and bit 1 channel B (ScanImage's
// decoding of V is inconsistent), and the gain range is 0–1 V.
import type { DeviceIdentity, Stamped } from "./device.js";
import type { DriverProbe } from "./probe.js";
import { checkGain, type GainRange, type PhotodetectorController, type PhotodetectorState, tripChanges } from "./photodetector.js";
import { SerialDevice } from "./serial-device.js";
import { DeviceTimeoutError, type LineTiming, type SerialSettings } from "./serial-line.js";

/** The controller's gain output, whatever PMT it drives. */
const GAIN_RANGE_V: GainRange = { min: 0, max: 1 };
/** How often the handshake is tried while the controller reboots after RESTART. */
const RESTART_POLL_MS = 250;
const number = (reply: string) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(reply);
const printable = (reply: string) => /^[\x20-\x7e]+$/.test(reply);

/** Query-only identification for `rigd devices --probe`; the driver uses the same baud rate and framing. */
export const SCIENTIFICA_PMT_PROBE: DriverProbe = {
  driver: "scientifica-pmt",
  baudRate: 9600,
  framing: { commandEnd: "\r", replyEnd: "\r" },
  query: "SCIENTIFICA",
  identify: (r) => (r === "Y519" ? "Scientifica PMT controller" : undefined),
};

export class ScientificaPmtController extends SerialDevice<PhotodetectorState> implements PhotodetectorController {
  readonly driver = "scientifica-pmt";
  readonly channels = ["A", "B"] as const;
  readonly gainUnit = "V";
  private seen: PhotodetectorState | undefined;
  /** Settles when a reboot after RESTART is over: commands wait for it rather than time out against it. */
  private rebooted: Promise<void> = Promise.resolve();

  constructor(
    settings: Partial<SerialSettings> & { path: string },
    timing: Partial<LineTiming> = {},
    /** How long resetTrip() waits for the controller to answer again after RESTART (it takes about 5.5 s). */
    private readonly restartTimeoutMs = 10_000,
  ) {
    super({ baudRate: SCIENTIFICA_PMT_PROBE.baudRate, ...settings }, SCIENTIFICA_PMT_PROBE.framing, timing, `Scientifica PMT controller on ${settings.path}`);
  }

  protected async configure(): Promise<void> {
    await this.ask("SCIENTIFICA", (r) => r === "Y519");
    await this.command("SOURCE 3");
  }

  async identify(): Promise<DeviceIdentity> {
    const serial = await this.ask("SERIAL", printable);
    const firmware = await this.ask("VER", printable);
    return { manufacturer: "Scientifica", model: "MDU PMT controller", serial_number: serial, firmware };
  }

  async readState(): Promise<PhotodetectorState> {
    const enabled = await this.ask("ENABLE", (r) => r === "0" || r === "1");
    const gainA = await this.ask("A", number);
    const gainB = await this.ask("B", number);
    const trips = Number(await this.ask("V", (r) => /^\d+$/.test(r)));
    const state: PhotodetectorState = {
      enabled: enabled === "1",
      channels: { A: { gain: Number(gainA), tripped: (trips & 1) !== 0 }, B: { gain: Number(gainB), tripped: (trips & 2) !== 0 } },
    };
    for (const { kind, message } of tripChanges(this.seen, state)) this.event(kind, message);
    this.seen = state;
    return state;
  }

  setEnabled(on: boolean): Promise<Stamped<PhotodetectorState>> {
    return this.apply(() => this.command(`ENABLE ${on ? 1 : 0}`));
  }

  async setGain(channel: string, volts: number): Promise<Stamped<PhotodetectorState>> {
    checkGain(this, GAIN_RANGE_V, channel, volts);
    return this.apply(() => this.command(`${channel} ${volts.toFixed(3)}`));
  }

  /** RESTART reboots the controller, which clears the trips; it is silent until the reboot is over. */
  resetTrip(): Promise<Stamped<PhotodetectorState>> {
    return this.apply(async () => {
      const reboot = this.restart();
      this.rebooted = reboot.then(
        () => undefined,
        () => undefined,
      );
      const silentMs = await reboot;
      this.event("fault_cleared", `trips reset by RESTART; the controller rebooted and was silent for ${(silentMs / 1000).toFixed(1)} s`);
      await this.configure(); // a rebooted controller may be back on its own defaults
    });
  }

  /** Sends RESTART, then tries the handshake until the controller answers; resolves with how long it was silent. */
  private async restart(): Promise<number> {
    await this.line.send("RESTART");
    const sent = Date.now();
    try {
      // The silence is expected: quiet, so it is not reported as timeouts.
      const attempts = Math.ceil(this.restartTimeoutMs / RESTART_POLL_MS);
      await this.line.query("SCIENTIFICA", { valid: (r) => r === "Y519", timeoutMs: RESTART_POLL_MS, retries: attempts - 1, quiet: true });
    } catch (e) {
      if (e instanceof DeviceTimeoutError) throw new DeviceTimeoutError(`${this.line.label}: still silent ${this.restartTimeoutMs} ms after RESTART`);
      throw e;
    }
    return Date.now() - sent;
  }

  private async ask(command: string, valid: (reply: string) => boolean): Promise<string> {
    await this.rebooted;
    return this.line.query(command, { valid });
  }

  /** A set command: "A", or the controller's refusal ("E,<n>") as an exception. */
  private async command(command: string): Promise<void> {
    const reply = await this.ask(command, (r) => r === "A" || /^E,\d+$/.test(r));
    if (reply !== "A") throw new Error(`Scientifica PMT controller refused '${command}': ${reply}`);
  }
}
