// The photodetector kind: a PMT controller with one or more channels.
import { type Device, type Stamped, UnsupportedSetting } from "./device.js";

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

/** The gain control voltages a controller or PMT module takes, in the controller's gain unit. */
export interface GainRange {
  min: number;
  max: number;
  /** A value below `min` that is taken anyway and turns the gain off (0 V on PMT modules, as ThorImageLS sends it). */
  off?: number;
  /** Whose range it is, for messages, e.g. "H10721". */
  of?: string;
}

/**
 * Control-voltage ranges of the PMT modules the controllers drive, by the type name the controller reports
 * (the PMT2100's SENS:DET:FUNC?): the gain limits Thorlabs' ThorImageLS (ThorPMT2100.cpp) sets on a PMT2100
 * for each type. 0 V turns the gain down, as ThorImageLS sends it before switching a PMT off.
 */
export const PMT_GAIN_RANGES_V: Readonly<Record<string, GainRange>> = {
  H10721: { min: 0.5, max: 1.1, off: 0 },
  "H10770PA-40": { min: 0.5, max: 0.9, off: 0 },
  "H11706P-40": { min: 0.5, max: 0.9, off: 0 },
};

/** The range for a PMT type (matched in any case), named after it, or undefined for a type not in the table. */
export function pmtGainRange(type: string): GainRange | undefined {
  const entry = Object.entries(PMT_GAIN_RANGES_V).find(([name]) => name.toUpperCase() === type.trim().toUpperCase());
  return entry && { ...entry[1], of: entry[0] };
}

/** Rejects a gain before anything is sent: an unknown channel, or a value outside the range. */
export function checkGain(controller: Pick<PhotodetectorController, "channels" | "gainUnit">, range: GainRange, channel: string, gain: number): void {
  if (!controller.channels.includes(channel)) throw new UnsupportedSetting(`no channel '${channel}' (channels: ${controller.channels.join(", ")})`);
  if (gain === range.off || (gain >= range.min && gain <= range.max)) return;
  const unit = controller.gainUnit;
  const allowed = `${range.off === undefined ? "" : `${range.off} ${unit} (off) or `}between ${range.min} and ${range.max} ${unit}${range.of ? ` (${range.of})` : ""}`;
  throw new UnsupportedSetting(`gain for channel ${channel} must be ${allowed}, got ${gain}`);
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
