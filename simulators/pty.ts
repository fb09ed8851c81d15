// A pair of connected serial lines made of two pseudo-terminals opened in this process: the simulator opens one
// pty's terminal end, the driver the other's, both with the real serial bindings, and the bytes cross between the
// two ptys' controlling ends here, as socat would carry them. Fixed link names let the pair vanish and come back
// at the same paths, as a USB serial adapter does when it is unplugged and plugged in again.
//
// The ptys are file descriptors of this process, so they go when the pair stops and, with the process, when it
// dies, even by SIGKILL. node-pty opens them without close-on-exec (Node cannot set it afterwards), so a child
// process spawned while a pair is open holds it too until that child ends: rigd forks its simulated scanners
// before any pair opens (simulators/rig.ts).
// A pair's own folder is named after the pid that made it, so that the next start can remove the folders (and
// dangling links) of processes that are gone.
import { closeSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReadStream } from "node:tty";
import { SerialPort } from "serialport";

/** What node-pty's native openpty gives: both descriptors non-blocking, and the terminal end's path. */
interface OpenedPty {
  master: number;
  slave: number;
  pty: string;
}

/** One pty: its controlling end read here, its terminal end held open (see openPty) and reached by `path`. */
interface Pty {
  master: ReadStream;
  masterFd: number;
  slaveFd: number;
  path: string;
}

const OWN_DIR = /^rigd-pty-(\d+)-/;
let swept = false;
let openpty: ((cols: number, rows: number) => OpenedPty) | undefined;

export class PtyPair {
  /** The simulator's end. */
  readonly devicePath: string;
  /** The end a driver (or a user's own tool) opens. */
  readonly clientPath: string;
  private ptys: [Pty, Pty] | undefined;
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
    if (this.ptys) throw new Error(`the pty pair at ${this.clientPath} is already started`);
    if (this.ownDir) mkdirSync(this.ownDir, { recursive: true });
    const device = openPty();
    let client: Pty | undefined;
    try {
      client = openPty();
      await Promise.all([rawMode(device.path), rawMode(client.path)]);
    } catch (e) {
      await Promise.all([device, client].map((p) => p && closePty(p)));
      throw e;
    }
    carry(device, client);
    carry(client, device);
    this.ptys = [device, client];
    // The driver's link last: once it is there, the whole line is.
    link(device.path, this.devicePath);
    link(client.path, this.clientPath);
  }

  /** Ends the pair: both ends see the port vanish (a read there fails, as on an unplugged adapter). */
  async stop(): Promise<void> {
    const ptys = this.ptys;
    this.ptys = undefined;
    if (ptys) {
      await Promise.all(ptys.map(closePty));
      for (const p of [this.devicePath, this.clientPath]) rmSync(p, { force: true });
    }
    // Made by the constructor, so a pair never started (or whose start failed) leaves none behind either.
    if (this.ownDir) rmSync(this.ownDir, { recursive: true, force: true });
  }
}

/** A new pty from node-pty's prebuilt binding (loaded on first use, so a platform without one fails here, saying so). */
function openPty(): Pty {
  if (!openpty) {
    const require = createRequire(import.meta.url);
    // The package's own loader of its binary: its JS open() would also start reading the terminal end, taking
    // bytes meant for the simulator or driver.
    const { requireBinary } = require("@lydell/node-pty/requireBinary.js") as { requireBinary(file: string): { open(cols: number, rows: number): OpenedPty } };
    try {
      openpty = requireBinary("pty.node").open;
    } catch (e) {
      throw new Error(`simulated serial devices need pseudo-terminals from @lydell/node-pty, which has none for ${process.platform}-${process.arch}: ${(e as Error).message}`);
    }
  }
  const { master, slave, pty } = openpty(80, 24);
  // The terminal end stays open here so that the controlling end never reads EIO (no terminal end open) while
  // the simulator or the driver has its port closed: between a driver's reconnects the line stays.
  const reader = new ReadStream(master);
  // Reads fail only once the terminal end is closed, that is as the pair stops.
  reader.on("error", () => undefined);
  return { master: reader, masterFd: master, slaveFd: slave, path: pty };
}

/**
 * Puts a pty's terminal end in the serial bindings' raw mode (no echo, no line editing, no CR/LF mapping, no
 * flow control characters) before anyone uses it: a fresh pty echoes and edits lines, which would bounce a
 * simulator's reply back to it before the driver has opened its end. Both ends' users set the same when they open.
 */
async function rawMode(path: string): Promise<void> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve, reject) => port.close((e) => (e ? reject(e) : resolve())));
}

/**
 * What is written to `from`'s terminal end arrives at `to`'s. A write to a full line fails at once (the descriptor
 * is non-blocking) and those bytes are lost, as a serial receiver overruns: a Node write stream on a pty's
 * controlling end would instead spin until there is room, holding the event loop.
 */
function carry(from: Pty, to: Pty): void {
  from.master.on("data", (bytes: Buffer) => {
    try {
      writeSync(to.masterFd, bytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  });
}

async function closePty(p: Pty): Promise<void> {
  if (!p.master.destroyed) await new Promise((resolve) => p.master.once("close", resolve).destroy());
  closeSync(p.slaveFd);
}

/** A link at `path` to `target`, replacing one left from before (a vanished pair, or a killed process's). */
function link(target: string, path: string): void {
  rmSync(path, { force: true });
  symlinkSync(target, path);
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
