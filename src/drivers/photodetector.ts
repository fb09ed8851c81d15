// The photodetector kind: a PMT controller with one or more channels.
import type { Device } from "./device.js";

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

export interface PhotodetectorController extends Device<PhotodetectorState> {
  readonly channels: readonly string[];
  readonly gainUnit: string;
  setEnabled(on: boolean): Promise<void>;
  setGain(channel: string, gain: number): Promise<void>;
  /** Clears overload trips; some controllers are unresponsive for seconds afterwards. */
  resetTrip(): Promise<void>;
}
