// The photodetector kind: a PMT controller with one or more channels.
import type { Device, Stamped } from "./device.js";

export interface PhotodetectorChannelState {
  /** Gain as the controller expresses it (control voltage in V, or the controller's own units). */
  gain: number;
  /** Overload protection tripped: the PMT is off until reset. */
  tripped: boolean;
}

export interface PhotodetectorState {
  enabled: boolean;
  /** Channel name ("A", "B", or "1") → its state. */
  channels: Record<string, PhotodetectorChannelState>;
}

/** A setter resolves once the controller shows the setting, with that reading, stamped when it took effect. */
type Setting = Promise<Stamped<PhotodetectorState>>;

export interface PhotodetectorController extends Device<PhotodetectorState> {
  readonly channels: readonly string[];
  readonly gainUnit: string;
  setEnabled(on: boolean): Setting;
  setGain(channel: string, gain: number): Setting;
  /** Clears overload trips; some controllers are unresponsive for seconds afterwards. */
  resetTrip(): Setting;
}

/** Rejects a gain before anything is sent: an unknown channel, or a value outside the controller's range. */
export function checkGain(controller: Pick<PhotodetectorController, "channels" | "gainUnit">, range: readonly [min: number, max: number], channel: string, gain: number): void {
  if (!controller.channels.includes(channel)) throw new Error(`no channel '${channel}' (channels: ${controller.channels.join(", ")})`);
  const [min, max] = range;
  if (!(gain >= min && gain <= max)) throw new Error(`gain for channel ${channel} must be between ${min} and ${max} ${controller.gainUnit}, got ${gain}`);
}

export interface TripChange {
  kind: "fault" | "fault_cleared";
  message: string;
}

/** Trips that appeared (faults) or went away between two readings, for the event record. */
export function tripChanges(before: PhotodetectorState | undefined, after: PhotodetectorState): TripChange[] {
  return Object.entries(after.channels).flatMap(([channel, { tripped }]): TripChange[] => {
    if (tripped === (before?.channels[channel]?.tripped ?? false)) return [];
    return tripped
      ? [{ kind: "fault", message: `channel ${channel}: overload protection tripped, the PMT is off until reset` }]
      : [{ kind: "fault_cleared", message: `channel ${channel}: overload trip cleared` }];
  });
}
