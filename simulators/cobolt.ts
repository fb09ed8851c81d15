// A Cobolt 06-01 series laser (06-MLD) at the other end of a pty: 115200 8N1, a command ends in CR (the LF of
// a CRLF is ignored), every command gets exactly one reply line ending in CRLF: a value for a query, "OK"
// for anything else, or a "Syntax error: …" line. Power ramps to its set point while on; an open interlock
// switches it off with fault 3.
//
// Sources. The command list is that of the Cobolt 06-01 Series owner's manual (D0136, January 2020),
// "Communication commands" (the OEM command table), with the 04-01 series manual's RS-232 table for the
// commands the older series shares (cp, ci, i?, leds?). The manuals themselves were not among the stored
// sources: names, arguments, units and reply forms below come from public material that quotes them and
// from replies recorded on real lasers — Cobolt's own pycobolt and Micro-Manager adapter, python-microscope
// (driver and its byte-level mock), pyLabLib and lantz drivers, and a lab's logged session with a 06-MLD 488 nm.
// Where they disagree: constant current / power are entered with ci / cp (04-01, DPL, pycobolt) or ecc / ecp
// (Cobolt's Micro-Manager adapter for the 06-MLD): both are taken. The logged 06-MLD refused i?, which every
// command list has: i? is answered. Out-of-range wording follows python-microscope's mock, recorded on a laser.
//
// Power-up state (06-01 manual, autostart): autostart enabled, the factory setting, and with the key switch
// enabled (CDRH) the autostart sequence waits for the key to be turned: gom? answers 1 at power-up, as the
// logged 06-MLD did, and l1 is refused until @cobas 0. The key is simulated by turnKey(). Warm-up (TEC
// settling) is not simulated: the laser emits as soon as the sequence completes.
//
// Units: p, p?, pa?, @cobasp in W; slp, glp?, gmlp?, slmp, glmp? in mW; slc, glc?, gmlc?, i? in mA (06-01;
// the 04-01 series answers i? in A). Formats as real lasers print them: W with 4 decimals ("0.0100"),
// mW with 6 ("600.000000"), mA with 1 ("30.0").
//
// | Command          | Manual section                | What the simulator does                                                  |
// |------------------|-------------------------------|--------------------------------------------------------------------------|
// | ?                | 06-01 communication commands  | "OK" (is anyone there)                                                   |
// | sn?, gsn?        | 06-01 / 04-01 commands        | serial number                                                            |
// | gfv?             | 06-01 commands                | firmware version (dotted, which pycobolt takes for 06-series firmware)   |
// | glm?             | 06-01 commands                | model number, e.g. 0488-06-01-0100-100 (wavelength-series-type-mW-…)     |
// | hrs?             | 06-01 / 04-01 commands        | operating hours                                                          |
// | l?               | 06-01 / 04-01 commands        | 1 emitting, 0 not                                                        |
// | l1               | 06-01 / 04-01 commands        | emission on; refused in autostart mode with the device's wording; with   |
// |                  |                               | the interlock open: stays off, fault 3                                   |
// | l0, l0r          | 06-01 commands                | emission off (l0r: the off that Cobolt's Micro-Manager adapter probes    |
// |                  |                               | for; what it keeps on a real laser is not in the sources: same as l0)    |
// | @cobas n/?       | 06-01 autostart               | autostart off/on; turning it on switches emission off (as observed on a  |
// | gas?             |                               | real laser); gas? reads the same setting                                 |
// | @cob1, restart   | 06-01 autostart               | emission off, autostart sequence restarted even with autostart disabled: |
// |                  |                               | waits for the key (key switch enabled) or emits at once                  |
// | @cob0            | 06-01 autostart               | emission off, sequence stopped (gom? 0)                                  |
// | abort            | 06-01 autostart               | emission off, sequence aborted (gom? 6) until restart                    |
// | @cobasky n/?     | 06-01 autostart               | key switch enabled (1) or bypassed (0, OEM); gkses? reads it             |
// | @cobasdr n/?     | 04-01 / 06-01 OEM commands    | direct-control flag, stored and read back                                |
// | gom?             | 06-01 commands                | 0 off, 1 waiting for key, 2 continuous, 3 on/off modulation,             |
// |                  |                               | 4 modulation, 5 fault, 6 aborted                                         |
// | gam?, sam n      | 06-01 commands                | run mode: 0 constant current, 1 constant power, 2 modulation             |
// | ci, ecc          | 04-01 / 06-01 commands        | enter constant current (ci is the 04-01 / DPL name, ecc the 06-MLD one)  |
// | cp, ecp          | 04-01 / 06-01 commands        | enter constant power                                                     |
// | em               | 06-01 commands                | enter modulation mode                                                    |
// | eoom, xoom       | 06-01 commands                | on/off modulation on / off                                               |
// | p W, p?, pa?     | 06-01 / 04-01 commands        | power set point (W, 0 … max), set point, actual output                   |
// | @cobasp W        | not in the manuals            | same as p (python-microscope sets power with it)                         |
// | slp mW, glp?     | 06-01 commands                | power set point in mW                                                    |
// | gmlp?            | 06-01 commands                | maximum power in mW                                                      |
// | slc mA, glc?     | 06-01 commands                | current set point (0 … max)                                              |
// | gmlc?            | 06-01 commands                | maximum current in mA                                                    |
// | i?               | 06-01 / 04-01 commands        | actual drive current (0 while off)                                       |
// | slmp mW, glmp?   | 06-01 modulation              | modulation power set point                                               |
// | sdmes n, gdmes?  | 06-01 modulation              | digital modulation on/off                                                |
// | sames n, games?  | 06-01 modulation              | analog modulation on/off                                                 |
// | salis n, galis?  | 06-01 modulation              | analog input impedance: 0 high (1 kΩ), 1 50 Ω                            |
// | f?, cf           | 06-01 / 04-01 commands        | fault: 0 none, 1 temperature, 3 interlock open, 4 constant-power time-out;|
// |                  |                               | cf clears it                                                             |
// | ilk?             | 06-01 / 04-01 commands        | 0 interlock closed, 1 open                                               |
// | leds?            | 04-01 commands                | LED bits: 1 power, 2 laser on, 4 locked (at set point), 8 error          |
//
// Errors: an unknown command, a query given an argument, or a missing or non-numeric argument answer
// "Syntax error: illegal command"; a number outside its range "Syntax error: Value is out of range."; l1 in
// autostart mode "Syntax error: not allowed in autostart mode." (wordings as real lasers answered them).
// Not simulated, so answered as unknown: temperatures and TEC set points (rbpt?, rtec…), gcn?, gfd?, gfbd?.
import { SerialSimulator } from "./serial-simulator.js";

/** f?: what the laser reports as its operating fault. */
export type CoboltFault = "0" | "1" | "3" | "4";
/** gam? / sam: 0 constant current, 1 constant power, 2 modulation. */
export type CoboltRunMode = "0" | "1" | "2";
/** Where the autostart sequence stands while the laser does not emit. */
type Sequence = "stopped" | "waiting for key" | "aborted";

/** One command: what its argument must be, and what it does with it. */
type Command =
  | { takes: "nothing"; run: () => string }
  | { takes: "number"; max: () => number; run: (value: number) => string }
  | { takes: "one of"; values: readonly string[]; run: (value: string) => string };

const ILLEGAL = "Syntax error: illegal command";
const OUT_OF_RANGE = "Syntax error: Value is out of range.";
const AUTOSTART_ONLY = "Syntax error: not allowed in autostart mode.";
const FLAG = ["0", "1"] as const;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

const watts = (w: number) => w.toFixed(4);
const milliwatts = (w: number) => (w * 1000).toFixed(6);
const milliamps = (mA: number) => mA.toFixed(1);
const flag = (on: boolean) => (on ? "1" : "0");

export class CoboltSimulator extends SerialSimulator {
  on = false;
  setPointW = 0.05;
  /** Autostart enabled, as the laser ships (@cobas). */
  autostart = true;
  /** The key switch guards the autostart sequence (@cobasky 1, CDRH) or is bypassed (0, OEM). */
  keyswitchEnabled = true;
  directControl = false;
  runMode: CoboltRunMode = "1";
  currentSetPointMA = 0;
  modulationPowerW = 0;
  digitalModulation = false;
  analogModulation = false;
  /** Analog modulation input: 50 Ω (true) or high impedance. */
  analogInput50Ohm = false;
  onOffModulation = false;
  hours = 1234.5;
  fault: CoboltFault = "0";
  firmwareVersion = "4.120";
  /** At power-up with autostart on, the sequence waits for the key to be turned. */
  private sequence: Sequence = "waiting for key";
  private switchedOnAt = 0;
  private interlock = false;
  private readonly commands: Record<string, Command>;

  constructor(
    readonly serialNumber = "17354",
    readonly maxPowerW = 0.1,
    readonly wavelengthNm = 488,
    readonly maxCurrentMA = 150,
  ) {
    super("\r", "\r\n", 115200, "cobolt");
    const query = (read: () => string): Command => ({ takes: "nothing", run: read });
    const action = (act: () => void): Command => ({ takes: "nothing", run: () => (act(), "OK") });
    const setting = (set: (on: boolean) => void): Command => ({ takes: "one of", values: FLAG, run: (v) => (set(v === "1"), "OK") });
    const amount = (max: () => number, set: (value: number) => void): Command => ({ takes: "number", max, run: (v) => (set(v), "OK") });
    const runMode = (mode: CoboltRunMode) => action(() => (this.runMode = mode));
    const startSequence = action(() => this.startSequence());
    const off = action(() => this.switchOff("stopped"));
    const setPower = amount(() => this.maxPowerW, (w) => (this.setPointW = w));
    const autostart = query(() => flag(this.autostart));
    const keyswitch = query(() => flag(this.keyswitchEnabled));
    this.commands = {
      "?": query(() => "OK"),
      "sn?": query(() => this.serialNumber),
      "gsn?": query(() => this.serialNumber),
      "gfv?": query(() => this.firmwareVersion),
      "glm?": query(() => this.model),
      "hrs?": query(() => this.hours.toFixed(2)),
      "l?": query(() => flag(this.on)),
      l1: { takes: "nothing", run: () => this.switchOn() },
      l0: off,
      l0r: off,
      "@cobas": setting((on) => this.setAutostart(on)),
      "@cobas?": autostart,
      "gas?": autostart,
      "@cob1": startSequence,
      restart: startSequence,
      "@cob0": off,
      abort: action(() => this.switchOff("aborted")),
      "@cobasky": setting((on) => (this.keyswitchEnabled = on)),
      "@cobasky?": keyswitch,
      "gkses?": keyswitch,
      "@cobasdr": setting((on) => (this.directControl = on)),
      "@cobasdr?": query(() => flag(this.directControl)),
      "gom?": query(() => this.operatingMode),
      "gam?": query(() => this.runMode),
      sam: { takes: "one of", values: ["0", "1", "2"], run: (m) => ((this.runMode = m as CoboltRunMode), "OK") },
      ci: runMode("0"),
      ecc: runMode("0"),
      cp: runMode("1"),
      ecp: runMode("1"),
      em: runMode("2"),
      eoom: action(() => (this.onOffModulation = true)),
      xoom: action(() => (this.onOffModulation = false)),
      p: setPower,
      "@cobasp": setPower,
      "p?": query(() => watts(this.setPointW)),
      "pa?": query(() => watts(this.powerW)),
      slp: amount(() => this.maxPowerW * 1000, (mW) => (this.setPointW = mW / 1000)),
      "glp?": query(() => milliwatts(this.setPointW)),
      "gmlp?": query(() => milliwatts(this.maxPowerW)),
      slc: amount(() => this.maxCurrentMA, (mA) => (this.currentSetPointMA = mA)),
      "glc?": query(() => milliamps(this.currentSetPointMA)),
      "gmlc?": query(() => milliamps(this.maxCurrentMA)),
      "i?": query(() => milliamps(this.currentMA)),
      slmp: amount(() => this.maxPowerW * 1000, (mW) => (this.modulationPowerW = mW / 1000)),
      "glmp?": query(() => milliwatts(this.modulationPowerW)),
      sdmes: setting((on) => (this.digitalModulation = on)),
      "gdmes?": query(() => flag(this.digitalModulation)),
      sames: setting((on) => (this.analogModulation = on)),
      "games?": query(() => flag(this.analogModulation)),
      salis: setting((on) => (this.analogInput50Ohm = on)),
      "galis?": query(() => flag(this.analogInput50Ohm)),
      "f?": query(() => this.fault),
      cf: action(() => (this.fault = "0")),
      "ilk?": query(() => flag(this.interlock)),
      "leds?": query(() => String(1 | (this.on ? 2 : 0) | (this.atSetPoint ? 4 : 0) | (this.fault !== "0" ? 8 : 0))),
    };
  }

  /** The interlock circuit: opening it stops emission with fault 3, as on the device. */
  get interlockOpen(): boolean {
    return this.interlock;
  }

  set interlockOpen(open: boolean) {
    this.interlock = open;
    if (open && this.on) {
      this.on = false;
      this.fault = "3";
    }
  }

  /** No shutter: light leaves whenever the laser emits (what a scanner simulator reads). */
  get shutterOpen(): boolean {
    return this.on;
  }

  /** The output power the run mode asks for, once the laser has settled. */
  private get targetW(): number {
    if (this.runMode === "0") return (this.maxPowerW * this.currentSetPointMA) / this.maxCurrentMA;
    return this.runMode === "2" ? this.modulationPowerW : this.setPointW;
  }

  private get atSetPoint(): boolean {
    return this.on && Date.now() - this.switchedOnAt >= 200;
  }

  /** Output power: it reaches the run mode's set point over ~200 ms after switching on. */
  get powerW(): number {
    if (!this.on) return 0;
    const ramp = Math.min(1, (Date.now() - this.switchedOnAt) / 200);
    return this.targetW * ramp;
  }

  /** Drive current: the set point in constant current, else what the output takes (a diode without threshold). */
  get currentMA(): number {
    if (!this.on) return 0;
    return this.runMode === "0" ? this.currentSetPointMA : (this.maxCurrentMA * this.powerW) / this.maxPowerW;
  }

  /** glm?: wavelength, series 06-01, power in mW, each zero-padded as Cobolt's model numbers are. */
  get model(): string {
    const pad = (n: number) => String(Math.round(n)).padStart(4, "0");
    return `${pad(this.wavelengthNm)}-06-01-${pad(this.maxPowerW * 1000)}-100`;
  }

  /** gom?: the operating mode code of the 06-01 manual. */
  get operatingMode(): string {
    if (this.fault !== "0") return "5";
    if (this.on) return this.onOffModulation ? "3" : this.runMode === "2" ? "4" : "2";
    return { stopped: "0", "waiting for key": "1", aborted: "6" }[this.sequence];
  }

  /** The key switch turned off and on again: a sequence waiting for it completes and the laser emits. */
  turnKey(): void {
    if (this.sequence === "waiting for key") this.emit();
  }

  protected respond(line: string): string {
    const [name = "", arg, ...rest] = line.split(/\s+/);
    const command = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    if (command === undefined || rest.length > 0) return ILLEGAL;
    if (command.takes === "nothing") return arg === undefined ? command.run() : ILLEGAL;
    if (arg === undefined) return ILLEGAL;
    if (command.takes === "one of") return command.values.includes(arg) ? command.run(arg) : OUT_OF_RANGE;
    if (!NUMBER.test(arg)) return ILLEGAL;
    const value = Number(arg);
    return value >= 0 && value <= command.max() ? command.run(value) : OUT_OF_RANGE;
  }

  private switchOn(): string {
    if (this.autostart) return AUTOSTART_ONLY;
    this.emit();
    return "OK";
  }

  /** Emission on, unless the interlock is open: then it stays off with fault 3 (and still answers OK). */
  private emit(): void {
    this.sequence = "stopped";
    if (this.interlock) {
      this.fault = "3";
      return;
    }
    if (!this.on) this.switchedOnAt = Date.now();
    this.on = true;
  }

  private switchOff(sequence: Sequence): void {
    this.on = false;
    this.sequence = sequence;
  }

  private startSequence(): void {
    this.switchOff("waiting for key");
    if (!this.keyswitchEnabled) this.emit();
  }

  private setAutostart(on: boolean): void {
    // Enabling autostart switches emission off; leaving it abandons a sequence that waits for the key.
    if (on && !this.autostart) this.switchOff("stopped");
    if (!on && this.sequence === "waiting for key") this.sequence = "stopped";
    this.autostart = on;
  }
}
