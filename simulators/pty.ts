// A pair of connected pseudo-terminals from socat: the simulator opens one end, the driver the other,
// both with the real serial bindings. Fixed link names let the pair vanish and come back at the
// same paths, as a USB serial adapter does when it is unplugged and plugged in again.
//
// socat must not outlive rigd, even one killed with SIGKILL: it runs under util-linux's
// `setpriv --pdeathsig KILL`, so the kernel kills it when the thread that spawned it dies — for rigd the
// main thread, whose death ends the process (a pair started from a worker thread would die with that worker).
// A pair's own folder is named after the pid that made it, so that the next start can remove the folders
// of processes that are gone.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const OWN_DIR = /^rigd-pty-(\d+)-/;
/** Whether setpriv is missing, once a spawn has told; socat then runs as a plain child. */
let noSetpriv = false;
let swept = false;

export class PtyPair {
  /** The simulator's end. */
  readonly devicePath: string;
  /** The end a driver (or a user's own tool) opens. */
  readonly clientPath: string;
  private socat: ChildProcess | undefined;
  /** A directory of its own (none given) goes when the pair stops, and comes back when it starts again. */
  private readonly ownDir: string | undefined;

  constructor(dir?: string, name = "device") {
    if (dir === undefined && !swept) {
      swept = true;
      removeDeadOwnersDirs();
    }
    this.ownDir = dir === undefined ? mkdtempSync(join(tmpdir(), `rigd-pty-${process.pid}-`)) : undefined;
    this.devicePath = join(dir ?? this.ownDir!, `${name}-sim`);
    this.clientPath = join(dir ?? this.ownDir!, name);
  }

  async start(): Promise<void> {
    if (this.ownDir) mkdirSync(this.ownDir, { recursive: true });
    const { socat, stderr } = await spawnSocat([`pty,raw,echo=0,link=${this.devicePath}`, `pty,raw,echo=0,link=${this.clientPath}`]);
    this.socat = socat;
    for (let waited = 0; !(existsSync(this.devicePath) && existsSync(this.clientPath)); waited += 10) {
      // 127: setpriv found no socat to run.
      if (socat.exitCode === 127) throw new Error(`socat could not start (${stderr().trim()}): ${INSTALL_SOCAT}`);
      if (socat.exitCode !== null) throw new Error(`socat exited (${socat.exitCode}): ${stderr().trim()}`);
      if (waited > 5000) throw new Error("socat made no pty pair within 5 s");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Ends the pair: both ends see the port vanish. */
  async stop(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (!socat) return;
    // socat may be gone already (killed from outside, as an unplugged adapter): its links and folder still go.
    if (socat.exitCode === null && socat.signalCode === null) {
      const exited = new Promise((r) => socat.once("exit", r));
      socat.kill("SIGTERM");
      await exited;
    }
    for (const p of [this.devicePath, this.clientPath]) rmSync(p, { force: true });
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
  }
}

const INSTALL_SOCAT = "install it with apt-get install -y socat";

/** Starts socat with `args`, under setpriv while it is there; its stderr so far is `stderr()`. */
async function spawnSocat(args: string[]): Promise<{ socat: ChildProcess; stderr: () => string }> {
  const [command, commandArgs] = noSetpriv ? ["socat", args] : ["setpriv", ["--pdeathsig", "KILL", "socat", ...args]];
  const child = spawn(command, commandArgs, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once("error", resolve);
    child.once("spawn", () => resolve(undefined));
  });
  if (error?.code === "ENOENT" && command === "setpriv") {
    noSetpriv = true;
    process.emitWarning("setpriv (util-linux) is not installed: socat helpers of simulated devices will outlive this process if it is killed", { code: "RIGD_NO_SETPRIV" });
    return spawnSocat(args);
  }
  if (error) throw new Error(`${command} could not start (${error.message})${command === "socat" ? `: ${INSTALL_SOCAT}` : ""}`);
  return { socat: child, stderr: () => stderr };
}

/** Removes the pty folders of processes that no longer run (killed before they could remove their own). */
function removeDeadOwnersDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = OWN_DIR.exec(name)?.[1];
    if (pid === undefined || isRunning(Number(pid))) continue;
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    } catch (e) {
      process.emitWarning(`could not remove ${join(tmpdir(), name)}, left by process ${pid}: ${(e as Error).message}`, { code: "RIGD_PTY_CLEANUP" });
    }
  }
}

/** Whether a process with this pid exists (maybe a newer one with a reused pid: its folder is then kept, harmlessly). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
