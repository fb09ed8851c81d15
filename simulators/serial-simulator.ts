// The device end of a serial line: a simulator reads commands and answers as the real device does.
// Fault injection covers what a real line does: no answer, garbage, a slow answer, and the port
// vanishing and coming back.
import { RegexParser, SerialPort } from "serialport";
import { PtyPair } from "./pty.js";

export interface Faults {
  /** Swallow commands without answering (a hung or powered-off device). */
  silent: boolean;
  /** Answer with line noise instead of the reply. */
  garbage: boolean;
  /** Extra delay before every answer, in ms. */
  delayMs: number;
}

export abstract class SerialSimulator {
  readonly faults: Faults = { silent: false, garbage: false, delayMs: 0 };
  readonly pty: PtyPair;
  private port: SerialPort | undefined;
  /** Where one command ends and the next begins. */
  private readonly commandEnds: RegExp;

  constructor(
    /**
     * Command terminator the device reads, e.g. "\n" or "\r", or each it takes, e.g. ["\r", "\n"] for one that
     * ends a command at a CR, an LF or both (the empty command between a CR and its LF is ignored).
     */
    commandEnd: string | readonly string[],
    /** Appended to every reply line, e.g. "\n" or "\r\n". */
    private readonly replyEnd: string,
    private readonly baudRate: number,
    name: string,
  ) {
    const ends = typeof commandEnd === "string" ? [commandEnd] : [...commandEnd];
    if (ends.length === 0 || ends.includes("")) throw new Error(`${name} simulator: a command end must be a non-empty string`);
    // Longest first, so that "\r\n" is one end and not a "\r" followed by an empty command.
    const alternatives = ends.sort((a, b) => b.length - a.length).map((end) => end.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    this.commandEnds = new RegExp(alternatives.join("|"));
    this.pty = new PtyPair(undefined, name);
  }

  /** Where a driver connects. */
  get path(): string {
    return this.pty.clientPath;
  }

  /** The reply to one command line, or undefined for none (the device answers nothing). */
  protected abstract respond(command: string): string | undefined | Promise<string | undefined>;

  async start(): Promise<void> {
    await this.pty.start();
    const port = new SerialPort({ path: this.pty.devicePath, baudRate: this.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("error", () => undefined); // the pty vanishing is the point of some tests
    port.pipe(new RegexParser({ regex: this.commandEnds, encoding: "latin1" })).on("data", (line: string) => {
      void this.answer(port, line.trim());
    });
    this.port = port;
  }

  private async answer(port: SerialPort, command: string): Promise<void> {
    if (this.faults.silent || command === "") return;
    const reply = await this.respond(command);
    if (reply === undefined) return;
    if (this.faults.delayMs) await new Promise((r) => setTimeout(r, this.faults.delayMs));
    const text = this.faults.garbage ? "\x8f\xff#~\x02" + "?".repeat(5) : reply;
    if (port.isOpen) port.write(text + this.replyEnd, "latin1");
  }

  /** The port vanishes (cable pulled) for `ms`, then comes back at the same path. */
  async vanish(ms: number): Promise<void> {
    await this.closePort();
    await this.pty.stop();
    await new Promise((r) => setTimeout(r, ms));
    await this.start();
  }

  private async closePort(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async stop(): Promise<void> {
    await this.closePort();
    await this.pty.stop();
  }
}
