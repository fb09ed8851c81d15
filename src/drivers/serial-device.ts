// What every serial driver does the same way: connect (and reconfigure after a reconnect), poll its
// state into state$, and pass the line's events on. A vendor file adds only its protocol.
import { Subject, type Subscription, exhaustMap, interval, merge } from "rxjs";
import { type Device, type DeviceEvent, type DeviceIdentity, epochMs, type Stamped } from "./device.js";
import { type LineFraming, type LineTiming, type LineTransport, SerialLine, type SerialSettings } from "./serial-line.js";

export abstract class SerialDevice<S> implements Device<S> {
  abstract readonly driver: string;
  protected readonly line: SerialLine;
  private readonly state = new Subject<Stamped<S>>();
  private readonly own = new Subject<DeviceEvent>();
  private polling: Subscription | undefined;
  /** Settings under way (see apply). */
  private applying = 0;
  /** The latest periodic poll (never rejects). */
  private polled: Promise<void> = Promise.resolve();
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
      .pipe(exhaustMap(() => (this.polled = this.poll())))
      .subscribe();
  }

  /**
   * Makes a setting: runs `work` (its commands and any read-back it waits for), then reads the state,
   * publishes it and resolves with it, stamped with the moment the setting took effect when `work`
   * returns one (else when the read began). Periodic polls pause meanwhile: each holds the line for
   * several round trips, and a read-back waiting behind one would date the change late. One already
   * under way finishes first, or it could read the new setting and date it before the command.
   */
  protected async apply(work: () => Promise<number | void>): Promise<Stamped<S>> {
    this.applying++;
    try {
      await this.polled;
      const tookEffect = await work();
      return await this.publish(tookEffect ?? epochMs());
    } finally {
      this.applying--;
    }
  }

  /** A periodic reading; a failure becomes an event (the line already reported timeouts). */
  private async poll(): Promise<void> {
    if (this.applying > 0) return;
    try {
      await this.publish(epochMs());
    } catch (e) {
      if (e instanceof Error && e.name !== "DeviceTimeoutError" && e.name !== "DeviceDisconnectedError") this.event("fault", e.message);
    }
  }

  private async publish(time: number): Promise<Stamped<S>> {
    const reading = { time, state: await this.readState() };
    this.state.next(reading);
    return reading;
  }

  protected event(kind: DeviceEvent["kind"], message: string): void {
    this.own.next({ time: epochMs(), kind, message: `${this.line.label}: ${message}` });
  }

  async close(): Promise<void> {
    this.polling?.unsubscribe();
    await this.line.close();
    this.state.complete();
    this.own.complete();
  }
}
