// The excitation source kind (a laser), like python-microscope's LightSource: one interface, one file per protocol.
import type { Device, Stamped } from "./device.js";

export interface ExcitationSourceState {
  /** Laser emission (diodes / pump on). */
  emission: boolean;
  /** Shutter open; a device without a shutter reports whether light leaves it. */
  shutter_open: boolean;
  wavelength_nm: number;
  /** Output power in W as the device reads it back. */
  power_W: number;
  /** Pulsed lasers: mode-locked; absent for CW lasers. */
  mode_locked?: boolean;
  /** 0–100; absent when the device does not report warm-up. */
  warmed_up_percent?: number;
  /** Still moving to a new wavelength. */
  tuning?: boolean;
  /** The device's fault, or undefined when none. */
  fault?: string;
}

/** A setter resolves once the device shows the setting, with that reading, stamped when it took effect. */
type Setting = Promise<Stamped<ExcitationSourceState>>;

/** Which settings a laser takes besides emission: the others' setters reject with UnsupportedSetting. */
export interface LaserControls {
  shutter: boolean;
  wavelength: boolean;
  power: boolean;
}

export interface ExcitationSource extends Device<ExcitationSourceState> {
  readonly controls: LaserControls;
  setEmission(on: boolean): Setting;
  /** Lasers with a shutter only (controls.shutter). */
  setShutter(open: boolean): Setting;
  /** Tunable lasers only (controls.wavelength). */
  setWavelength(nm: number): Setting;
  /** Devices with power control only (controls.power). */
  setPower(watts: number): Setting;
}
