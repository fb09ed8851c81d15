// What every example client does around its device's session: open the serial port named on the command line as
// any client opens it or, with none, start the device's own simulator and talk to that; write commands with the
// end the device reads and read replies up to the end it writes, as raw text, nothing of rigd's in between; and
// close the port and stop the simulator however the session ends. rigd's replay tests use the same client.
import { basename } from "node:path";
import { SerialPort } from "serialport";
import type { SerialSimulator } from "../../simulators/serial-simulator.js";

/** How a device frames its lines, from its manual. */
export interface Framing {
  baudRate: number;
  /** What ends each command the client sends, e.g. "\r". */
  commandEnd: string;
  /** What ends each reply the device sends, e.g. "\r\n". */
  replyEnd: string;
}

/** How long a device may stay quiet before a command counts as answered by silence. */
const QUIET_MS = 150;

export class SerialClient {
  private received = "";
  private arrived: (() => void) | undefined;

  constructor(
    private readonly port: SerialPort,
    readonly path: string,
    protected readonly framing: Framing,
  ) {
    port.on("data", (chunk: Buffer) => {
      this.received += chunk.toString("latin1");
      this.arrived?.();
    });
  }

  static async open<C extends SerialClient>(this: new (port: SerialPort, path: string, framing: Framing) => C, path: string, framing: Framing): Promise<C> {
    const port = new SerialPort({ path, baudRate: framing.baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`cannot open ${path}: ${e.message}`)) : resolve())));
    return new this(port, path, framing);
  }

  /** Sends a command the device answers with nothing. */
  async send(command: string): Promise<void> {
    await this.exchange(command + this.framing.commandEnd, 0);
  }

  /** Sends a command and resolves with its reply, without the reply's end. */
  async ask(command: string): Promise<string> {
    const reply = await this.exchange(command + this.framing.commandEnd);
    return reply.slice(0, -this.framing.replyEnd.length);
  }

  /** Asks `query` every 200 ms until `done` holds for the reply, and resolves with that reply; rejects after `ms`. */
  async until(query: string, done: (reply: string) => boolean, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const reply = await this.ask(query);
      if (done(reply)) return reply;
      if (Date.now() > deadline) throw new Error(`${query} still answers ${reply} after ${ms / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Writes `bytes` as they are and resolves with what comes back up to the end of the `replies`-th reply, ends
   * included; anything after it is kept for the next exchange. With `replies` 0, resolves with whatever arrives
   * within a short quiet period: "" from a device that answers nothing. Rejects when the replies are not all there
   * within `timeoutMs`.
   */
  async exchange(bytes: string, replies = 1, timeoutMs = 2000): Promise<string> {
    await new Promise<void>((resolve, reject) => this.port.write(bytes, "latin1", (e) => (e ? reject(e) : this.port.drain(() => resolve()))));
    if (replies === 0) {
      await new Promise((r) => setTimeout(r, QUIET_MS));
      return this.take(this.received.length);
    }
    const length = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.arrived = undefined;
        reject(new Error(`${JSON.stringify(bytes)}: ${replies} ${replies === 1 ? "reply" : "replies"} due within ${timeoutMs} ms on ${this.path}, got ${JSON.stringify(this.received)}`));
      }, timeoutMs);
      this.arrived = () => {
        const length = this.lengthOfReplies(replies);
        if (length === undefined) return;
        clearTimeout(timer);
        this.arrived = undefined;
        resolve(length);
      };
      this.arrived();
    });
    return this.take(length);
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }

  /** How much of what has arrived the first `count` replies take, ends included; undefined until they all have. */
  private lengthOfReplies(count: number): number | undefined {
    let length = 0;
    for (let i = 0; i < count; i++) {
      const end = this.received.indexOf(this.framing.replyEnd, length);
      if (end < 0) return undefined;
      length = end + this.framing.replyEnd.length;
    }
    return length;
  }

  private take(length: number): string {
    const text = this.received.slice(0, length);
    this.received = this.received.slice(length);
    return text;
  }
}

/**
 * Runs `session` with the device on the port named on the command line or, when none is, with a simulator from
 * `simulate`. A failure is printed as one line, and the script exits with 1.
 */
export async function runSession(framing: Framing, simulate: () => SerialSimulator, session: (device: SerialClient) => Promise<void>): Promise<void> {
  const own = process.argv[2] === undefined ? simulate() : undefined;
  try {
    await own?.start();
    const device = await SerialClient.open(process.argv[2] ?? own!.path, framing);
    try {
      await session(device);
    } finally {
      await device.close();
    }
  } catch (e) {
    process.stderr.write(`${basename(process.argv[1]!)}: ${(e as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await own?.stop();
  }
}
