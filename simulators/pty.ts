// A pair of connected pseudo-terminals from socat: the simulator opens one end, the driver the other,
// both with the real serial bindings. Fixed link names let the pair vanish and come back at the
// same paths, as a USB serial adapter does when it is unplugged and plugged in again.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class PtyPair {
  /** The simulator's end. */
  readonly devicePath: string;
  /** The end a driver (or a user's own tool) opens. */
  readonly clientPath: string;
  private socat: ChildProcess | undefined;
  /** A directory of its own (none given) goes when the pair stops, and comes back when it starts again. */
  private readonly ownDir: string | undefined;

  constructor(dir?: string, name = "device") {
    this.ownDir = dir === undefined ? mkdtempSync(join(tmpdir(), "rigd-pty-")) : undefined;
    this.devicePath = join(dir ?? this.ownDir!, `${name}-sim`);
    this.clientPath = join(dir ?? this.ownDir!, name);
  }

  async start(): Promise<void> {
    if (this.ownDir) mkdirSync(this.ownDir, { recursive: true });
    const socat = spawn("socat", [`pty,raw,echo=0,link=${this.devicePath}`, `pty,raw,echo=0,link=${this.clientPath}`], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    socat.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      socat.once("error", (e) => reject(new Error(`socat could not start (${e.message}): install it with apt-get install -y socat`)));
      socat.once("spawn", resolve);
    });
    await spawned;
    this.socat = socat;
    for (let waited = 0; !(existsSync(this.devicePath) && existsSync(this.clientPath)); waited += 10) {
      if (socat.exitCode !== null) throw new Error(`socat exited (${socat.exitCode}): ${stderr.trim()}`);
      if (waited > 5000) throw new Error("socat made no pty pair within 5 s");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ends the pair: both ends see the port vanish. */
  async stop(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (!socat || socat.exitCode !== null) return;
    const exited = new Promise((r) => socat.once("exit", r));
    socat.kill("SIGTERM");
    await exited;
    for (const p of [this.devicePath, this.clientPath]) rmSync(p, { force: true });
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
  }
}
