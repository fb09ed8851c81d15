// A line-oriented connection, what every serial driver shares: one command at a time, a reply line per
// query, command timeouts with bounded retries, a fault event on garbage, and reconnection with
// exponential backoff when the port disappears. It runs over a serial port, or any LineTransport (the
// usbtmc character device). It never rejects a promise nobody awaits: failures reach the caller of
// query() or the events stream.
import { Subject } from "rxjs";
import { ReadlineParser, SerialPort } from "serialport";
import { type DeviceEvent, epochMs } from "./device.js";

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: "none" | "even" | "odd";
  stopBits?: 1 | 2;
}

export interface LineFraming {
  /** Appended to every command, e.g. "\n" (Mai Tai), "\r" (Cobolt, Scientifica), "\r\n". */
  commandEnd: string;
  /** Ends every reply line; a trailing "\r" before it is dropped too. */
  replyEnd: string;
}

export interface LineTiming {
  /** How long a reply may take (default 1000 ms). */
  timeoutMs: number;
  /** Further attempts after a timeout or a garbled reply (default 2). */
  retries: number;
  /** Reconnect backoff: first wait and cap (defaults 200 ms and 5000 ms). */
  backoffMs: [first: number, max: number];
}

export const DEFAULT_TIMING: LineTiming = { timeoutMs: 1000, retries: 2, backoffMs: [200, 5000] };

/** What a line runs over: bytes out, bytes in, and word when it vanishes. */
export interface LineTransport {
  /** Where it is, e.g. "/dev/ttyUSB0" or "/dev/usbtmc0". */
  readonly path: string;
  readonly isOpen: boolean;
  /** Opens it: `received` gets what arrives, `lost` is called if it vanishes. Rejects when it is not there. */
  open(received: (chunk: Buffer) => void, lost: (reason: string) => void): Promise<void>;
  write(text: string): Promise<void>;
  /** A command that has a reply was just written: a transport that reads only on request (usbtmc) reads it now. */
  replyExpected?(): void;
  /** Never rejects. */
  close(): Promise<void>;
}

/** A serial port: replies arrive by themselves. */
export class SerialPortTransport implements LineTransport {
  private port: SerialPort | undefined;

  constructor(private readonly settings: SerialSettings) {}

  get path(): string {
    return this.settings.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(received: (chunk: Buffer) => void, lost: (reason: string) => void): Promise<void> {
    const port = new SerialPort({
      path: this.settings.path,
      baudRate: this.settings.baudRate,
      dataBits: this.settings.dataBits ?? 8,
      parity: this.settings.parity ?? "none",
      stopBits: this.settings.stopBits ?? 1,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("data", received);
    // A port already replaced or closed by us no longer speaks for the line.
    port.on("close", () => {
      if (port === this.port) lost("the port closed");
    });
    port.on("error", (e) => {
      if (port === this.port) lost(e.message);
    });
    this.port = port;
  }

  write(text: string): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new Error("the port is not open"));
    return new Promise((resolve, reject) => port.write(text, "latin1", (e) => (e ? reject(e) : resolve())));
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** A command got no valid reply in time, after every retry. */
export class DeviceTimeoutError extends Error {
  override name = "DeviceTimeoutError";
}

/** The port is gone (unplugged, powered off); the line is reconnecting. */
export class DeviceDisconnectedError extends Error {
  override name = "DeviceDisconnectedError";
}

interface QueryOptions {
  /** A reply is valid when this returns true; otherwise it is garbage (default: any line). */
  valid?: (reply: string) => boolean;
  /** Lines that come before the reply but are not it (the device echoing the command): skipped while waiting. */
  skip?: (line: string) => boolean;
  timeoutMs?: number;
  retries?: number;
  /** Silence is expected (a device rebooting): misses are not reported as timeout, garbage or retry events. */
  quiet?: boolean;
}

export class SerialLine {
  readonly events$ = new Subject<DeviceEvent>();
  private readonly transport: LineTransport;
  private waiting: ((line: string) => void) | undefined;
  /** Commands run one after another: each waits for the previous one's reply. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private reconnecting = false;
  private readonly timing: LineTiming;

  constructor(
    /** Serial port settings, or another transport. */
    connection: SerialSettings | LineTransport,
    private readonly framing: LineFraming,
    timing: Partial<LineTiming> = {},
    /** Names the device in messages, e.g. "Mai Tai on /dev/ttyUSB0". */
    readonly label = connection.path,
  ) {
    this.transport = "open" in connection ? connection : new SerialPortTransport(connection);
    this.timing = { ...DEFAULT_TIMING, ...timing };
  }

  get connected(): boolean {
    return this.transport.isOpen;
  }

  /**
   * The device's protocol set-up (echo off, watchdog off…), run after every reopen: a line counts as
   * reconnected only once it has succeeded, and is reopened again (with backoff) when it fails.
   */
  setup: (() => Promise<void>) | undefined;

  async open(): Promise<void> {
    const lines = new ReadlineParser({ delimiter: this.framing.replyEnd, encoding: "latin1" });
    // An unsolicited line (no query waiting) is dropped.
    lines.on("data", (line: string) => this.waiting?.(line.replace(/\r$/, "")));
    await this.transport.open((chunk) => lines.write(chunk), (reason) => this.lost(reason)).catch((e: Error) => {
      throw new DeviceDisconnectedError(`${this.label}: cannot open: ${e.message}`);
    });
  }

  /** Sends a command and resolves with its reply line (retried on timeouts and garbage). */
  query(command: string, options: QueryOptions = {}): Promise<string> {
    return this.serialized(() => this.attempt(command, options));
  }

  /** Sends a command that has no reply. */
  send(command: string): Promise<void> {
    return this.serialized(async () => {
      await this.write(command);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.transport.close();
    this.events$.complete();
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async attempt(command: string, options: QueryOptions): Promise<string> {
    const timeoutMs = options.timeoutMs ?? this.timing.timeoutMs;
    const attempts = 1 + (options.retries ?? this.timing.retries);
    const report = (kind: DeviceEvent["kind"], message: string) => {
      if (!options.quiet) this.emit(kind, `${this.label}: ${message}`);
    };
    let last = "";
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const reply = this.nextLine(timeoutMs, options.skip);
      await this.write(command);
      this.transport.replyExpected?.();
      const line = await reply;
      if (line === undefined) {
        last = `no reply to '${command}' within ${timeoutMs} ms`;
        report("timeout", last);
      } else if (options.valid && !options.valid(line)) {
        last = `garbled reply to '${command}': ${JSON.stringify(line.slice(0, 80))}`;
        report("garbage", last);
      } else return line;
      if (attempt < attempts) report("retry", `retrying '${command}' (${attempt + 1} of ${attempts})`);
    }
    throw new DeviceTimeoutError(`${this.label}: ${last} after ${attempts} attempts`);
  }

  /** Resolves with the next line that is not skipped, or undefined after `timeoutMs`. */
  private nextLine(timeoutMs: number, skip?: (line: string) => boolean): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(undefined);
      }, timeoutMs);
      // The waiter stays in place across skipped lines: the parser hands over every line of a chunk at once,
      // so the reply right behind an echo would be lost if a new waiter had to be installed for it.
      this.waiting = (line) => {
        if (skip?.(line)) return;
        this.waiting = undefined;
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  private write(command: string): Promise<void> {
    if (!this.transport.isOpen) return Promise.reject(new DeviceDisconnectedError(`${this.label}: disconnected, reconnecting`));
    return this.transport.write(command + this.framing.commandEnd).catch((e: Error) => {
      throw new DeviceDisconnectedError(`${this.label}: write failed: ${e.message}`);
    });
  }

  private emit(kind: DeviceEvent["kind"], message: string): void {
    if (!this.closed) this.events$.next({ time: epochMs(), kind, message });
  }

  /** The port vanished: report it once, then reopen with exponential backoff until it is back. */
  private lost(reason: string): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    void this.transport.close();
    this.emit("disconnected", `${this.label}: ${reason}`);
    let wait = this.timing.backoffMs[0];
    const retry = async () => {
      if (this.closed) return;
      try {
        await this.open();
        try {
          await this.setup?.();
        } catch (e) {
          void this.transport.close(); // not back until the device is set up again: try the whole again
          throw e;
        }
        this.reconnecting = false;
        this.emit("reconnected", `${this.label}: port open again`);
      } catch {
        wait = Math.min(wait * 2, this.timing.backoffMs[1]);
        setTimeout(retry, wait);
      }
    };
    setTimeout(retry, wait);
  }
}
