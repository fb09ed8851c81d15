// What every serial driver does the same way: connect (and reconfigure after a reconnect), poll its
// state into state$, and pass the line's events on. A vendor file adds only its protocol.
import { Subject, type Subscription, exhaustMap, interval, merge } from "rxjs";
import type { Device, DeviceEvent, DeviceIdentity, Stamped } from "./device.js";
import { type LineFraming, type LineTiming, type LineTransport, SerialLine, type SerialSettings } from "./serial-line.js";

export abstract class SerialDevice<S> implements Device<S> {
  abstract readonly driver: string;
  protected readonly line: SerialLine;
  private readonly state = new Subject<Stamped<S>>();
  private readonly own = new Subject<DeviceEvent>();
  private polling: Subscription | undefined;
  readonly state$ = this.state.asObservable();
  readonly events$;

  constructor(connection: SerialSettings | LineTransport, framing: LineFraming, timing: Partial<LineTiming>, label: string) {
    this.line = new SerialLine(connection, framing, timing, label);
    this.events$ = merge(this.line.events$, this.own);
    // A device that lost power comes back with its defaults (echo on, watchdog on…): set them again,
    // as part of reconnecting.
    this.line.setup = () => this.configure();
  }

  /** Protocol set-up after the port opens (echo off, watchdog off…). */
  protected abstract configure(): Promise<void>;
  abstract identify(): Promise<DeviceIdentity>;
  abstract readState(): Promise<S>;

  async connect(): Promise<void> {
    await this.line.open();
    await this.configure();
  }

  startPolling(intervalMs: number): void {
    this.polling?.unsubscribe();
    // exhaustMap: a slow device skips polls instead of piling them up.
    this.polling = interval(intervalMs)
      .pipe(exhaustMap(() => this.poll()))
      .subscribe();
  }

  /**
   * Reads and publishes the state, stamped with `time` (default: when the read began, so that after a
   * setting is confirmed it is the moment of confirmation, not a few round trips later). A failure
   * becomes an event (the line already reported timeouts).
   */
  protected async poll(time = Date.now()): Promise<void> {
    try {
      this.state.next({ time, state: await this.readState() });
    } catch (e) {
      if (e instanceof Error && e.name !== "DeviceTimeoutError" && e.name !== "DeviceDisconnectedError") this.event("fault", e.message);
    }
  }

  protected event(kind: DeviceEvent["kind"], message: string): void {
    this.own.next({ time: Date.now(), kind, message: `${this.line.label}: ${message}` });
  }

  async close(): Promise<void> {
    this.polling?.unsubscribe();
    await this.line.close();
    this.state.complete();
    this.own.complete();
  }
}
