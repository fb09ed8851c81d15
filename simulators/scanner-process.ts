// A scanner simulator in a process of its own, as a digitizer's software runs beside rigd rather than in it:
// rendering frames (a few ms each) never holds rigd's event loop, and a busy rigd never makes the scanner late.
// A process, not a worker thread: zeromq.js does not end cleanly in a worker thread (zeromq.js issue #411) —
// a thread that had sent frames crashed the whole process (heap corruption, exit 134) as it ended.
// The light its frames show still follows the simulated laser and PMTs, which live in rigd's process and
// compute their state when read: it is read every few ms and sent to the scanner when it changed.
import { type ChildProcess, fork } from "node:child_process";
import { type LaserLight, NOMINAL } from "./sample.js";
import type { DetectorOutput, ScannerOptions, ScanSummary } from "./zmq-scanner.js";

/** Everything a scanner is set up with, but the objects it reads the light from. */
export type ScannerSettings = Omit<ScannerOptions, "sample" | "laser" | "detectors" | "dropProbability">;

/** The light: the laser's shutter (1 open), power (W) and wavelength (nm), then each channel's PMT signal scale. */
export type Light = number[];
export const LIGHT = { shutterOpen: 0, powerW: 1, wavelengthNm: 2, signalScale: 3 } as const;

/** What rigd's side sends: the settings first, then the light as it changes, run and stop. */
export type ToScanner = { settings: ScannerSettings; light: Light } | { light: Light } | { run: { dropProbability?: number } } | "stop";
/** What the scanner's process answers: ready once set up, its summary once a run is over. */
export type FromScanner = "ready" | { summary: ScanSummary };

/** How often the light is read: well within a frame (32 ms at 512 lines), so frames follow a shutter to the frame. */
const LIGHT_READ_MS = 4;

export class ScannerProcess {
  private running = false;
  private sent: Light;

  private constructor(
    private readonly child: ChildProcess,
    private readonly laser: LaserLight,
    private readonly detectors: readonly DetectorOutput[],
  ) {
    this.sent = this.light();
  }

  /** Starts the process and sets the scanner up, ready to run (its start-up is not counted against a run). */
  static async open(options: Omit<ScannerOptions, "sample" | "dropProbability">): Promise<ScannerProcess> {
    const { laser = NOMINAL.laser, detectors = [], ...settings } = options;
    const fromSource = import.meta.url.endsWith(".ts");
    // The child's IPC channel closes when rigd dies, however it dies: the child then ends (see scanner-child.ts).
    const child = fork(new URL(`./scanner-child.${fromSource ? "ts" : "js"}`, import.meta.url), [], {
      execArgv: fromSource ? ["--import", import.meta.resolve("tsx")] : [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      serialization: "advanced",
    });
    const scanner = new ScannerProcess(child, laser, detectors);
    const ready = scanner.reply();
    scanner.send({ settings, light: scanner.sent });
    if ((await ready) !== "ready") throw new Error("the scanner process answered its settings with a summary");
    return scanner;
  }

  /** Acquires until stop() (see ScannerSimulator.run); once per process, which then ends. */
  async run(options: { dropProbability?: number } = {}): Promise<ScanSummary> {
    if (this.running) throw new Error("a scanner process runs once");
    this.running = true;
    const reading = setInterval(() => {
      const light = this.light();
      if (light.some((v, i) => v !== this.sent[i])) this.send({ light: (this.sent = light) });
    }, LIGHT_READ_MS);
    try {
      const done = this.reply();
      this.send({ run: options });
      const reply = await done;
      if (reply === "ready") throw new Error("the scanner process answered a run with ready");
      return reply.summary;
    } finally {
      clearInterval(reading);
    }
  }

  /** Ends a run after the volume under way and one more (see ScannerSimulator.stop); a process never run just ends. */
  stop(): void {
    this.send("stop");
  }

  private send(message: ToScanner): void {
    // A process that has ended has nothing left to stop or tell, and a send racing its end fails (EPIPE): its
    // end reaches whoever awaits a reply (see reply). Any other failure is the process's error, for that reply.
    if (!this.child.connected) return;
    this.child.send(message, (e) => {
      if (!e || !this.child.connected) return;
      if (this.child.listenerCount("error") > 0) this.child.emit("error", e);
      else process.emitWarning(`the scanner process was not sent ${JSON.stringify(message)}: ${e.message}`);
    });
  }

  /** The process's next message; its end before it answered, as an error. */
  private reply(): Promise<FromScanner> {
    if (!this.child.connected) return Promise.reject(new Error(`the scanner process has ended (${this.child.signalCode ?? `exit code ${this.child.exitCode}`})`));
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        this.child.off("message", onMessage).off("error", onError).off("exit", onExit);
        fn();
      };
      const onMessage = (m: FromScanner) => settle(() => resolve(m));
      const onError = (e: Error) => settle(() => reject(e));
      const onExit = (code: number | null, signal: string | null) => settle(() => reject(new Error(`the scanner process ended (${signal ?? `exit code ${code}`}) before it answered`)));
      this.child.on("message", onMessage).on("error", onError).on("exit", onExit);
    });
  }

  private light(): Light {
    return [this.laser.shutterOpen ? 1 : 0, this.laser.powerW, this.laser.wavelengthNm, ...this.detectors.map((d) => d.signalScale)];
  }
}
