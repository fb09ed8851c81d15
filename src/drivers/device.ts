// What every device driver shares, whatever its kind: who it is, what state it reports, what happens to it.
// Drivers know nothing of NWB; the acquisition engine turns identities into device objects and
// state and events into telemetry.
import type { Observable } from "rxjs";

/** What a device says it is (query-only commands), used to fill the NWB device objects. */
export interface DeviceIdentity {
  manufacturer: string;
  model: string;
  serial_number: string;
  firmware?: string;
}

/**
 * Now, in milliseconds since the epoch with sub-millisecond resolution: how drivers stamp readings and events. Whole
 * milliseconds (Date.now()) made the readings of a short session evenly spaced to the nanosecond at times, which
 * nwbinspector's check_regular_timestamps flags (such a series should be starting_time + rate).
 */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** Something that happened to a device, for the event record. */
export interface DeviceEvent {
  /** Milliseconds since the epoch (epochMs()) when the driver saw it. */
  time: number;
  /**
   * "disconnected": the device is lost (a serial port gone, a producer gone mid-stream) until "reconnected" (a serial
   * port set up again) or "producer_connected" (a frame source's producer, new or back); "producer_closed": a producer
   * closed its connection at the end of its acquisition, which is no loss.
   */
  kind: "fault" | "fault_cleared" | "timeout" | "garbage" | "disconnected" | "reconnected" | "producer_connected" | "producer_closed" | "retry" | "dropped_frames";
  message: string;
}

/**
 * A setting the device cannot take — a value out of its range, a control it does not have — refused by the driver
 * before anything is sent: the caller's mistake, not a fault of the device.
 */
export class UnsupportedSetting extends Error {}

/** A state reading with the time it was taken (epochMs()). */
export interface Stamped<S> {
  time: number;
  state: S;
}

export interface Device<S> {
  /** Driver name as profiles name it, e.g. "spectra-physics-maitai". */
  readonly driver: string;
  /** Opens the connection and configures the device's protocol (echo off, watchdog off…). */
  connect(): Promise<void>;
  identify(): Promise<DeviceIdentity>;
  /** Reads the whole state once. */
  readState(): Promise<S>;
  /** State readings: one per poll while polling (paused while a setting is made), and the one after each setting. */
  readonly state$: Observable<Stamped<S>>;
  readonly events$: Observable<DeviceEvent>;
  /** Starts reading the state every `intervalMs` (a failed poll is an event, never an exception). */
  startPolling(intervalMs: number): void;
  close(): Promise<void>;
}
