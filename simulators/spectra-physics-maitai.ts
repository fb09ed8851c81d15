// A Spectra-Physics Mai Tai (or InSight) at the other end of a pty, following the Mai Tai user's manual, chapter 6,
// "The RS-232 Serial Port": 9600 8N1; a command ends at a CR, an LF or both; every reply ends in an LF; SCPI names in
// long or short form, freely mixed within a header (READ:PLASER:DIODE1:CURRENT? or READ:PLAS:DIOD1:CURR?), in any
// case; parameters after a space. The laser "will not generate any signals on the RS-232 unless a query command is
// received": a setting never answers, and a command it does not know or cannot carry out (ON while warming up, a
// wavelength out of range) is dropped without a word — the manual's status byte bits CMD_ERR / EXE_ERR go to the
// error queue, which SYSTem:ERRor? reads.
//
// | command (manual ch. 6)          | what the simulator does                                                             |
// |---------------------------------|-------------------------------------------------------------------------------------|
// | *IDN?                           | "Spectra Physics,<model>,<serial>,<software>" (the manual's example writes          |
// |                                 | "Spectra-Physics, MaiTai, …"; the firmware of the lasers rigd met omits the hyphen)  |
// | *STB?                           | 1 emission possible + 2 mode-locked (manual, *STB?)                                 |
// | ON                              | at 0 % warm starts the warm-up; at 100 % switches the pump on; in between EXE_ERR   |
// | OFF                             | pump off; the laser stays warm                                                      |
// | MODE PPOWer|PCURrent, MODE?     | pump control mode; the query answers "PPOW" or "PCUR" (the manual names the         |
// |                                 | parameters in SCPI notation; acq4, written against a laser, reads the short form)   |
// | PLASer:POWer n (0–5.0), ?       | pump power set point in W; the query answers e.g. "5.00W"                           |
// | PLASer:PCURrent n (0–20.0), ?   | pump current set point in %; e.g. "12.0%"                                           |
// | PLASer:ERRCode?                 | pump laser error code: "0"                                                          |
// | PLASer:HISTory?                 | the 16 latest pump status codes, newest first, space-separated                      |
// | PLASer:AHIStory?                | the same history as text: "<code> <meaning>" joined by "; "                         |
// | READ:PCTWarmedup?               | warm-up in %, two decimals ("100.00%", as the firmware answers; the manual: "050%") |
// | READ:PLASer:POWer?              | pump output in W: the set point while on, else "0.00W"                              |
// | READ:PLASer:PCURrent?           | pump current in % of full: "0.0%" while off                                         |
// | READ:PLASer:SHGS?               | pump SHG oven: "0S" settled (warm), "1S" heating                                    |
// | READ:PLASer:DIODe1|2:CURRent?   | diode current in % of full, e.g. "75.1%"; "0.0%" while off                          |
// | READ:PLASer:DIODe1|2:TEMPerature? | diode temperature in °C, e.g. "20.5"                                              |
// | READ:POWer?, POWer?             | output power in W ("1.52W"); POWer? as the InSight firmware also takes it           |
// | READ:WAVelength?                | wavelength now, e.g. "800nm" (moves while tuning)                                   |
// | READ:HUMidity?                  | cavity relative humidity in %, e.g. "4.10%"                                         |
// | READ:AHIStory?                  | laser head history as text, like PLASer:AHIStory?                                   |
// | READ:PDITher?                   | pump dither in % ("0.00%"): not in the chapter found; the format is this one's      |
// | CONTrol:PHASe n, ?              | modelocker RF phase, e.g. "2.50"; WAVelength resets it (manual)                     |
// | CONTrol:MLENable n (0/1), ?     | modelocker drive: 0 holds the laser CW (*STB? bit 2 clear)                          |
// | CONTrol:DSMPOS n (0–100), ?     | DeepSee motor position in % (InSight, Mai Tai DeepSee)                              |
// | IRSHUTter n (0/1), ?            | the InSight's fixed 1040 nm beam shutter (InSight only)                             |
// | SAVe                            | accepted; nothing is kept across a restart here                                     |
// | SHUTter n (0/1), SHUTter?       | moves the shutter; the query shows the old position for shutterMs (manual: ~1 s)    |
// | SYSTem:COMMunications:SERial:BAUD n | 300–57600 as listed; recorded, the pty keeps its rate                           |
// | SYSTem:ERRor? (the manual: ERR) | oldest queued error as "<code>,<text>" (codes of the status byte table: 1 command   |
// |                                 | error, 2 execution error), '0,"No error"' when empty: the manual gives no format    |
// | TIMer:WATChdog n, ?             | watchdog in s, 0 off; recorded, not enforced; the query answers e.g. "10"           |
// | WAVelength n, WAVelength?       | tunes within the range (else EXE_ERR); the query is the set point, e.g. "800nm"     |
// | WAVelength:MIN?, :MAX?          | the tuning range, e.g. "690nm"                                                      |
import { type TunableLaserBehaviour, TunableLaserSimulator } from "./tunable-laser.js";

const MODELS = {
  MaiTai: { range: [690, 1040], peakW: 2.5 },
  InSight: { range: [680, 1300], peakW: 2.0 },
} satisfies Record<string, Pick<TunableLaserBehaviour, "range" | "peakW">>;

const BAUD_RATES = [300, 600, 1200, 4800, 9600, 19200, 38400, 57600];
/** Pump status codes (acq4's table of the Millennia-type pump's codes): what the history records. */
const PUMP_STATUS: Record<number, string> = { 0: "Laser off", 1: "Laser ON, Power Mode OK", 2: "Laser ON, Current Mode OK" };
const COMMAND_ERROR = '1,"Command error"';
const EXECUTION_ERROR = '2,"Execution error"';

/**
 * A SCPI header such as "READ:PCTWarmedup?" accepts each keyword long (PCTWARMEDUP) or short (its capitals, PCTW).
 * The capitals follow the manual's rule: the first four letters, three when the fourth is a vowel (AHIStory,
 * PHASe, HUMidity), though the manual's own notation sometimes strays from it (AHISTory, PHAse).
 */
function matches(pattern: string, header: string): boolean {
  const keys = pattern.split(":");
  const given = header.toUpperCase().split(":");
  return keys.length === given.length && keys.every((key, i) => given[i] === key.toUpperCase() || given[i] === key.replace(/[a-z]/g, ""));
}

/** What a command does: a reply for a query, nothing for a setting; a string from errors marks why it was refused. */
type Run = (arg: string | undefined) => string | void;

export class MaiTaiSimulator extends TunableLaserSimulator {
  /** The watchdog: seconds of host silence before the real laser switches off, 0 for never. Recorded, not enforced. */
  watchdogS = 10;
  readonly firmware = "0245-2.00.34 / CD00000019 / 214-00.004.057";
  pumpMode: "PPOW" | "PCUR" = "PPOW";
  pumpPowerW = 5;
  pumpCurrentPct = 12;
  phase = 2.5;
  deepSeePct = 50;
  irShutterOpen = false;
  humidityPct = 4.1;
  baud = 9600;
  /** The SCPI error queue, oldest first. */
  readonly errors: string[] = [];
  /** Pump status codes, newest first. */
  private readonly history: number[] = [0];
  private readonly commands: [pattern: string, run: Run][];

  constructor(
    readonly model: keyof typeof MODELS = "MaiTai",
    behaviour: Partial<TunableLaserBehaviour> = {},
    readonly serialNumber = "3312",
  ) {
    super(["\r", "\n"], "\n", 9600, "maitai", { ...MODELS[model], ...behaviour });
    const pct = (n: number) => `${n.toFixed(1)}%`;
    const onOff = (set: (on: boolean) => void): Run => (arg) => {
      if (arg !== "0" && arg !== "1") return COMMAND_ERROR;
      set(arg === "1");
    };
    const diodePct = () => pct(this.pumpOn ? 75.1 : 0);
    const ahistory = () => this.history.map((code) => `${code} ${PUMP_STATUS[code] ?? "status"}`).join("; ");
    this.commands = [
      ["*IDN?", () => `Spectra Physics,${this.model},${this.serialNumber},${this.firmware}`],
      ["*STB?", () => String((this.emission ? 1 : 0) | (this.modeLocked ? 2 : 0))],
      ["ON", () => this.switchOn()],
      ["OFF", () => this.switchPump(false)],
      ["MODE", (arg) => {
        const mode = ["PPOWER", "PPOW"].includes(arg?.toUpperCase() ?? "") ? "PPOW" : ["PCURRENT", "PCUR"].includes(arg?.toUpperCase() ?? "") ? "PCUR" : undefined;
        if (!mode) return COMMAND_ERROR;
        this.pumpMode = mode;
      }],
      ["MODE?", () => this.pumpMode],
      ["PLASer:POWer", (arg) => this.setNumber(arg, 0, 5, (w) => (this.pumpPowerW = w))],
      ["PLASer:POWer?", () => `${this.pumpPowerW.toFixed(2)}W`],
      ["PLASer:PCURrent", (arg) => this.setNumber(arg, 0, 20, (p) => (this.pumpCurrentPct = p))],
      ["PLASer:PCURrent?", () => pct(this.pumpCurrentPct)],
      ["PLASer:ERRCode?", () => "0"],
      ["PLASer:HISTory?", () => this.history.join(" ")],
      ["PLASer:AHIStory?", ahistory],
      ["READ:PCTWarmedup?", () => `${this.warmedUpPercent.toFixed(2)}%`],
      ["READ:PLASer:POWer?", () => `${(this.pumpOn ? this.pumpPowerW : 0).toFixed(2)}W`],
      ["READ:PLASer:PCURrent?", () => pct(this.pumpOn ? this.pumpCurrentPct : 0)],
      ["READ:PLASer:SHGS?", () => (this.warmedUpPercent >= 100 ? "0S" : "1S")],
      ["READ:PLASer:DIODe1:CURRent?", diodePct],
      ["READ:PLASer:DIODe2:CURRent?", diodePct],
      ["READ:PLASer:DIODe1:TEMPerature?", () => "20.5"],
      ["READ:PLASer:DIODe2:TEMPerature?", () => "20.7"],
      ["READ:POWer?", () => `${this.powerW.toFixed(2)}W`],
      ["POWer?", () => `${this.powerW.toFixed(2)}W`],
      ["READ:WAVelength?", () => `${Math.round(this.wavelengthNm)}nm`],
      ["READ:HUMidity?", () => `${this.humidityPct.toFixed(2)}%`],
      ["READ:AHIStory?", ahistory],
      ["READ:PDITher?", () => "0.00%"],
      ["CONTrol:PHASe", (arg) => this.setNumber(arg, 0, 100, (p) => (this.phase = p))],
      ["CONTrol:PHASe?", () => this.phase.toFixed(2)],
      ["CONTrol:MLENable", onOff((on) => (this.continuousWave = !on))],
      ["CONTrol:MLENable?", () => (this.continuousWave ? "0" : "1")],
      ["CONTrol:DSMPOS", (arg) => this.setNumber(arg, 0, 100, (p) => (this.deepSeePct = p))],
      ["CONTrol:DSMPOS?", () => this.deepSeePct.toFixed(2)],
      ...(this.model === "InSight"
        ? ([
            ["IRSHUTter", onOff((open) => (this.irShutterOpen = open))],
            ["IRSHUTter?", () => (this.irShutterOpen ? "1" : "0")],
          ] satisfies [string, Run][])
        : []),
      ["SAVe", () => undefined],
      ["SHUTter", onOff((open) => this.moveShutter(open))],
      ["SHUTter?", () => (this.shutterOpen ? "1" : "0")],
      ["SYSTem:COMMunications:SERial:BAUD", (arg) => {
        const rate = Number(arg);
        if (!BAUD_RATES.includes(rate)) return EXECUTION_ERROR;
        this.baud = rate;
      }],
      ["SYSTem:ERRor?", () => this.errors.shift() ?? '0,"No error"'],
      ["TIMer:WATChdog", (arg) => this.setNumber(arg, 0, 1e6, (s) => (this.watchdogS = Math.round(s)))],
      ["TIMer:WATChdog?", () => String(this.watchdogS)],
      ["WAVelength", (arg) => {
        if (arg === undefined || !/^\d+$/.test(arg)) return COMMAND_ERROR;
        if (!this.inRange(Number(arg))) return EXECUTION_ERROR;
        this.tune(Number(arg));
        this.phase = 2.5; // the manual: WAVelength resets the RF phase to the factory setting
      }],
      ["WAVelength?", () => `${this.targetNm}nm`],
      ["WAVelength:MIN?", () => `${this.behaviour.range[0]}nm`],
      ["WAVelength:MAX?", () => `${this.behaviour.range[1]}nm`],
    ];
  }

  protected respond(command: string): string | undefined {
    const [header = "", arg] = command.split(/\s+/, 2);
    const found = this.commands.find(([pattern]) => matches(pattern, header));
    const result = found ? found[1](arg) : COMMAND_ERROR;
    // A query's reply goes out; a setting's refusal only reaches the error queue.
    if (found && header.endsWith("?")) return result ?? undefined;
    if (typeof result === "string") this.errors.push(result);
    return undefined;
  }

  /** ON at 0 % starts the warm-up, at 100 % switches the pump on; in between it is an execution error. */
  private switchOn(): string | void {
    const warm = this.warmedUpPercent;
    if (warm === 0) this.startWarmUp();
    else if (warm >= 100) this.switchPump(true);
    else return EXECUTION_ERROR;
  }

  private switchPump(on: boolean): void {
    if (on === this.pumpOn) return;
    this.pumpOn = on;
    this.history.unshift(on ? (this.pumpMode === "PPOW" ? 1 : 2) : 0);
    this.history.length = Math.min(this.history.length, 16);
  }

  /** A numeric parameter: a malformed one is a command error, one outside [min, max] an execution error. */
  private setNumber(arg: string | undefined, min: number, max: number, set: (n: number) => void): string | void {
    if (arg === undefined || !/^-?\d+(\.\d+)?$/.test(arg)) return COMMAND_ERROR;
    const n = Number(arg);
    if (n < min || n > max) return EXECUTION_ERROR;
    set(n);
  }
}
