// A Coherent Chameleon (Ultra, Ultra II, Vision, Vision-S) at the other end of a pty, speaking the RS-232 protocol of
// the Chameleon operator's manual (chapter "RS-232 Interface": its command table and its query table). The manual
// itself was not at hand; its tables are known here from the public clients written against the laser (ScopeFoundry's
// and acq4's Chameleon drivers, Micro-Manager's Chameleon adapter), which quote them command by command.
//
// Framing. 19200 8N1. A command ends at a CR, an LF or both. Every command gets exactly one reply line, ended by
// CR LF: while the echo is on the laser echoes the command's characters as they arrive (not its line end), so the
// reply follows on the same line — "?L1", "SHUTTER=1" (a setting's reply is empty), "?XYZ Query Error" (hence the
// leading space of the error replies, which clients match). While the prompt is on, "CHAMELEON> " is printed after
// each reply; it starts the next reply line, and this simulator writes it there, when the next command comes (the
// same bytes on the wire). ECHO=n and PROMPT=n take effect from the next command on: their own reply line still
// carries the echo and the prompt they found. From power-up both are on, so a client that reads one line per command
// never falls out of step, whatever it sends first.
//
// Commands and queries, case-insensitive (the manual is silent; clients send upper case), spaces in long names as
// sent. A query is "?NAME" with its short or long name, or "PRINT LONG NAME". Errors: " Command Error" (unknown
// command or a value that is not a number), " Query Error" (unknown query), " RANGE ERROR" (a value outside what the
// command takes) — the wording Micro-Manager's adapter matches.
//
// | command                         | what the simulator does                                                           |
// |---------------------------------|-----------------------------------------------------------------------------------|
// | ECHO=n, E=n (0/1)               | echo off/on, from the next command on                                             |
// | PROMPT=n (0/1)                  | prompt off/on, from the next command on                                           |
// | LASER=n, L=n (0/1)              | 1 clears faults and switches on (warming up first when cold) unless the keyswitch |
// |                                 | is off or the interlock open (?L 2, fault 2); 0 is standby                        |
// | SHUTTER=n, S=n (0/1)            | moves the shutter (it takes shutterMs)                                            |
// | WAVELENGTH=n, VW=n              | tunes; outside TMIN–TMAX it goes to the nearer limit, as the manual says          |
// | WAVELENGTH STEP=n               | tunes by n nm from the set point, clamped the same way                            |
// | HEARTBEAT=n, HB=n (0/1)         | heartbeat off/on; recorded, not enforced                                          |
// | HEARTBEATRATE=n, HBR=n (1–100)  | heartbeat period in s; recorded                                                   |
// | BAUDRATE=n, B=n                 | 1200–115200 (the standard rates); recorded, the pty keeps its rate                |
// | SEARCH MODELOCK=n, SM=n (0/1)   | 0 holds the laser CW (?MDLK 2), 1 lets it mode-lock                               |
// | AMDLK=n (0/1)                   | auto-modelock on/off; recorded                                                    |
// | ALIGN=n (0/1)                   | alignment mode: CW at ALIGNW; leaving it tunes back to the set point              |
// | ALIGNW=n                        | alignment wavelength, within TMIN–TMAX                                            |
// | GDD=n                           | precompensation in fs², within ?GDDMIN–?GDDMAX (Vision models)                    |
// | GDDCURVE=n (0–9)                | precompensation curve; 0 is none (Vision models)                                  |
// | HM=1, HMSLIT=1                  | homes the tuning / slit stepper: ?HM reads 1 at once                              |
// | FLASH=1, FL=1; LBO OPTIMIZE=1,  | accepted; nothing in the model to act on                                          |
// | LBOOPT=1; RECOVERY=1, REC=1     |                                                                                   |
// | LBO HEATER=n, LBOH=n (0/1)      | LBO heater off/on; recorded                                                       |
// | LOCK FRONT PANEL=n, LFP=n (0/1) | front panel lock; recorded                                                        |
//
// | query (?short, ?long, PRINT long) | reply                                                                            |
// |-----------------------------------|----------------------------------------------------------------------------------|
// | ?L, LASER                         | 0 standby, 1 on, 2 off by a fault                                                |
// | ?S, SHUTTER                       | 0 closed, 1 open (the old position until the shutter has moved)                  |
// | ?VW, WAVELENGTH                   | wavelength now, whole nm (moves while tuning)                                    |
// | ?UF, UF POWER                     | output power in mW, following the gain curve                                     |
// | ?MDLK, MODELOCKED                 | 0 off, 1 mode-locked, 2 CW (tuning, warming, alignment, SM=0)                    |
// | ?TS, TUNING STATUS                | 0 ready, 1 tuning                                                                |
// | ?ST, STATUS                       | Standby, Starting (warming up), OK                                               |
// | ?F, FAULTS / ?FH, FAULT HISTORY   | active / since power-up fault codes joined by "&"; 0 for none                    |
// | ?K, KEYSWITCH                     | 0 off, 1 on                                                                      |
// | ?LRS, LIGHT REG STATUS            | light loop: 0 open (standby), 1 locked, 2 seeking (warming up)                   |
// | ?SN, SERIAL NUMBER; ?SV, SOFTWARE | serial number; software version (a firmware without ?SV answers " Query Error")  |
// | ?TMIN, ?TMAX                      | tuning range in nm                                                               |
// | ?E, ECHO; ?PROMPT; ?HB, HEARTBEAT;| the settings above                                                               |
// | ?HBR, HEARTBEATRATE; ?B, BAUDRATE;|                                                                                  |
// | ?SM, SEARCH MODELOCK; ?AMDLK;     |                                                                                  |
// | ?ALIGN; ?ALIGNW; ?GDD; ?GDDCURVE; |                                                                                  |
// | ?LBOH, LBO HEATER; ?LFP           |                                                                                  |
// | ?ALIGNP                           | output power in mW while in alignment mode, else 0                               |
// | ?GDDMIN, ?GDDMAX                  | precompensation range in fs² (fixed here: −2000 to 20000)                        |
// | ?COMP                             | 1 while precompensation is in use (GDD ≠ 0 or a curve), else 0                   |
// | ?HM, HOMED                        | 1 homed (from power-up), 0 not                                                   |
// | ?STPRPOS, STEPPER POSITION        | tuning stepper counts: 100 per nm above TMIN                                     |
// | ?RH, HUMIDITY; ?BT, BASEPLATE TEMP| relative humidity in %, baseplate in °C: fixed readings                          |
// | ?HH, HEAD HOURS                   | head hours                                                                       |
// | ?C, CURRENT; ?D1C; ?D2C           | pump diode currents in A: 0 in standby                                           |
// | ?D1T; ?D2T; ?D1H; ?D2H            | diode temperatures in °C; diode hours                                            |
// | ?LBOT; ?VT; ?ET                   | LBO, vanadate, etalon temperatures in °C: fixed readings                         |
import { type TunableLaserBehaviour, TunableLaserSimulator } from "./tunable-laser.js";

const PROMPT = "CHAMELEON> ";
const COMMAND_ERROR = " Command Error";
const QUERY_ERROR = " Query Error";
const RANGE_ERROR = " RANGE ERROR";
const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];
const GDD_RANGE = [-2000, 20000] as const;
const GDD_CURVES = 9;

/** A query: its names (short first; the long ones also go with PRINT) and its reading. */
interface Query {
  names: string[];
  read: () => string;
}

/** A setting: its names, the values it takes (others are a RANGE ERROR) and what it does. */
interface Setting {
  names: string[];
  takes: (n: number) => boolean;
  apply: (n: number) => void;
}

const flag = (n: number) => n === 0 || n === 1;
const bit = (on: boolean) => (on ? "1" : "0");

export class ChameleonSimulator extends TunableLaserSimulator {
  echo = true;
  prompt = true;
  /** The heartbeat: the real laser switches off when the host goes quiet. Recorded, not enforced. */
  heartbeat = true;
  heartbeatRateS = 10;
  /** BAUDRATE=n: recorded, the pty keeps its rate. */
  baud = 19200;
  keyswitchOn = true;
  searchModelock = true;
  autoModelock = true;
  aligning = false;
  alignNm = 800;
  gddFs2 = 0;
  gddCurve = 0;
  lboHeater = true;
  frontPanelLocked = false;
  homed = true;
  headHours = 1523.4;
  /** Every fault code raised since power-up (?FH). */
  readonly faultHistory = new Set<string>();
  private faulted = false;
  private interlock = false;
  /** The set point to go back to when alignment mode ends. */
  private beforeAlignNm = 800;
  private readonly queries: Query[];
  private readonly settings: Setting[];

  constructor(
    behaviour: Partial<TunableLaserBehaviour> = {},
    readonly serialNumber = "GDP.3561",
    /** Software version for ?SV; null for a firmware that does not know ?SV. */
    readonly firmware: string | null = "5.07",
  ) {
    super(["\r", "\n"], "\r\n", 19200, "chameleon", { range: [680, 1080], peakW: 3.5, ...behaviour });
    const [min, max] = this.behaviour.range;
    const mW = () => String(Math.round(this.powerW * 1000));
    const diodeA = (amps: number) => () => (this.pumpOn ? amps.toFixed(2) : "0.00");
    const fixed = (reading: string) => () => reading;
    this.queries = [
      { names: ["L", "LASER"], read: () => (this.faulted ? "2" : bit(this.pumpOn)) },
      { names: ["S", "SHUTTER"], read: () => bit(this.shutterOpen) },
      { names: ["VW", "WAVELENGTH"], read: () => String(Math.round(this.wavelengthNm)) },
      { names: ["UF", "UF POWER"], read: mW },
      { names: ["MDLK", "MODELOCKED"], read: () => (!this.emission ? "0" : this.modeLocked ? "1" : "2") },
      { names: ["TS", "TUNING STATUS"], read: () => bit(this.isTuning) },
      { names: ["ST", "STATUS"], read: () => (!this.pumpOn ? "Standby" : this.emission ? "OK" : "Starting") },
      { names: ["F", "FAULTS"], read: () => this.faultCodes(this.activeFaults()) },
      { names: ["FH", "FAULT HISTORY"], read: () => this.faultCodes([...this.faultHistory]) },
      { names: ["K", "KEYSWITCH"], read: () => bit(this.keyswitchOn) },
      { names: ["LRS", "LIGHT REG STATUS"], read: () => (!this.pumpOn ? "0" : this.emission ? "1" : "2") },
      { names: ["SN", "SERIAL NUMBER"], read: () => this.serialNumber },
      ...(this.firmware === null ? [] : [{ names: ["SV", "SOFTWARE"], read: fixed(this.firmware) }]),
      { names: ["TMIN"], read: () => String(this.behaviour.range[0]) },
      { names: ["TMAX"], read: () => String(this.behaviour.range[1]) },
      { names: ["E", "ECHO"], read: () => bit(this.echo) },
      { names: ["PROMPT"], read: () => bit(this.prompt) },
      { names: ["HB", "HEARTBEAT"], read: () => bit(this.heartbeat) },
      { names: ["HBR", "HEARTBEATRATE"], read: () => String(this.heartbeatRateS) },
      { names: ["B", "BAUDRATE"], read: () => String(this.baud) },
      { names: ["SM", "SEARCH MODELOCK"], read: () => bit(this.searchModelock) },
      { names: ["AMDLK"], read: () => bit(this.autoModelock) },
      { names: ["ALIGN"], read: () => bit(this.aligning) },
      { names: ["ALIGNW"], read: () => String(this.alignNm) },
      { names: ["ALIGNP"], read: () => (this.aligning ? mW() : "0") },
      { names: ["GDD"], read: () => String(this.gddFs2) },
      { names: ["GDDMIN"], read: () => String(GDD_RANGE[0]) },
      { names: ["GDDMAX"], read: () => String(GDD_RANGE[1]) },
      { names: ["GDDCURVE"], read: () => String(this.gddCurve) },
      { names: ["COMP"], read: () => bit(this.gddFs2 !== 0 || this.gddCurve !== 0) },
      { names: ["HM", "HOMED"], read: () => bit(this.homed) },
      { names: ["STPRPOS", "STEPPER POSITION"], read: () => String(Math.round((this.wavelengthNm - this.behaviour.range[0]) * 100)) },
      { names: ["LBOH", "LBO HEATER"], read: () => bit(this.lboHeater) },
      { names: ["LFP", "LOCK FRONT PANEL"], read: () => bit(this.frontPanelLocked) },
      { names: ["RH", "HUMIDITY"], read: fixed("4.2") },
      { names: ["BT", "BASEPLATE TEMP"], read: fixed("25.01") },
      { names: ["HH", "HEAD HOURS"], read: () => this.headHours.toFixed(2) },
      { names: ["C", "CURRENT"], read: diodeA(31.5) },
      { names: ["D1C"], read: diodeA(31.2) },
      { names: ["D2C"], read: diodeA(31.8) },
      { names: ["D1T"], read: fixed("23.50") },
      { names: ["D2T"], read: fixed("23.80") },
      { names: ["D1H"], read: () => (this.headHours * 0.8).toFixed(2) },
      { names: ["D2H"], read: () => (this.headHours * 0.8).toFixed(2) },
      { names: ["LBOT"], read: fixed("148.00") },
      { names: ["VT"], read: fixed("30.00") },
      { names: ["ET"], read: fixed("45.00") },
    ];
    const clamp = (nm: number) => Math.min(max, Math.max(min, Math.round(nm)));
    const once = (n: number) => n === 1;
    const accepted = () => undefined;
    this.settings = [
      { names: ["E", "ECHO"], takes: flag, apply: (n) => (this.echo = n === 1) },
      { names: ["PROMPT"], takes: flag, apply: (n) => (this.prompt = n === 1) },
      { names: ["L", "LASER"], takes: flag, apply: (n) => this.switchLaser(n === 1) },
      { names: ["S", "SHUTTER"], takes: flag, apply: (n) => this.moveShutter(n === 1) },
      { names: ["VW", "WAVELENGTH"], takes: () => true, apply: (n) => this.setWavelength(clamp(n)) },
      { names: ["WAVELENGTH STEP"], takes: () => true, apply: (n) => this.setWavelength(clamp(this.targetNm + n)) },
      { names: ["HB", "HEARTBEAT"], takes: flag, apply: (n) => (this.heartbeat = n === 1) },
      { names: ["HBR", "HEARTBEATRATE"], takes: (n) => Number.isInteger(n) && n >= 1 && n <= 100, apply: (n) => (this.heartbeatRateS = n) },
      { names: ["B", "BAUDRATE"], takes: (n) => BAUD_RATES.includes(n), apply: (n) => (this.baud = n) },
      {
        names: ["SM", "SEARCH MODELOCK"],
        takes: flag,
        apply: (n) => {
          this.searchModelock = n === 1;
          this.holdCw();
        },
      },
      { names: ["AMDLK"], takes: flag, apply: (n) => (this.autoModelock = n === 1) },
      { names: ["ALIGN"], takes: flag, apply: (n) => this.align(n === 1) },
      {
        names: ["ALIGNW"],
        takes: (n) => this.inRange(n),
        apply: (n) => {
          this.alignNm = Math.round(n);
          if (this.aligning) this.tune(this.alignNm);
        },
      },
      { names: ["GDD"], takes: (n) => n >= GDD_RANGE[0] && n <= GDD_RANGE[1], apply: (n) => (this.gddFs2 = n) },
      { names: ["GDDCURVE"], takes: (n) => Number.isInteger(n) && n >= 0 && n <= GDD_CURVES, apply: (n) => (this.gddCurve = n) },
      { names: ["HM"], takes: once, apply: () => (this.homed = true) },
      { names: ["HMSLIT"], takes: once, apply: accepted },
      { names: ["FL", "FLASH"], takes: once, apply: accepted },
      { names: ["LBOOPT", "LBO OPTIMIZE"], takes: once, apply: accepted },
      { names: ["REC", "RECOVERY"], takes: once, apply: accepted },
      { names: ["LBOH", "LBO HEATER"], takes: flag, apply: (n) => (this.lboHeater = n === 1) },
      { names: ["LFP", "LOCK FRONT PANEL"], takes: flag, apply: (n) => (this.frontPanelLocked = n === 1) },
    ];
  }

  /** The external interlock (fault code 2): while open the laser cannot switch on. */
  get interlockOpen(): boolean {
    return this.interlock;
  }

  set interlockOpen(open: boolean) {
    this.interlock = open;
    if (open) this.faultHistory.add("2");
  }

  /** One reply line: the prompt and echo as they stood before this command, then what it answers. */
  protected respond(command: string): string {
    const before = `${this.prompt ? PROMPT : ""}${this.echo ? command : ""}`;
    return before + this.execute(command.toUpperCase().replace(/\s+/g, " "));
  }

  private execute(command: string): string {
    const print = /^PRINT (.+)$/.exec(command);
    if (command.startsWith("?") || print) {
      const name = print ? print[1]! : command.slice(1).trim();
      const query = this.queries.find((q) => (print ? q.names.slice(1) : q.names).includes(name));
      return query ? query.read() : QUERY_ERROR;
    }
    const [, name = "", value = ""] = /^([^=]+)=(.*)$/.exec(command) ?? [];
    const setting = this.settings.find((s) => s.names.includes(name.trim()));
    if (!setting || !/^-?\d+(\.\d+)?$/.test(value.trim())) return COMMAND_ERROR;
    const n = Number(value);
    if (!setting.takes(n)) return RANGE_ERROR;
    setting.apply(n);
    return "";
  }

  private activeFaults(): string[] {
    return this.interlock ? ["2"] : [];
  }

  private faultCodes(codes: string[]): string {
    return codes.length === 0 ? "0" : codes.join("&");
  }

  /** L=1 clears faults and switches on (warming up first when cold), unless the key is off or the interlock open. */
  private switchLaser(on: boolean): void {
    this.faulted = on && this.interlock;
    this.pumpOn = on && this.keyswitchOn && !this.interlock;
    if (this.pumpOn) this.startWarmUp();
  }

  /** In alignment mode a new set point is kept for when it ends. */
  private setWavelength(nm: number): void {
    if (this.aligning) this.beforeAlignNm = nm;
    else this.tune(nm);
  }

  private align(on: boolean): void {
    if (on === this.aligning) return;
    if (on) this.beforeAlignNm = this.targetNm;
    this.aligning = on;
    this.tune(on ? this.alignNm : this.beforeAlignNm);
    this.holdCw();
  }

  private holdCw(): void {
    this.continuousWave = this.aligning || !this.searchModelock;
  }
}
