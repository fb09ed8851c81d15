// `rigd serve` as a child process for tests, the built CLI as users run it (rigd-child.ts checks dist/ is fresh): sim-2p with ports and a data directory of its
// own (tests run side by side), its stderr kept for checks, and SIGINT after each test.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { Request } from "zeromq";
import { afterEach } from "vitest";
import { tempPath } from "../nwb/h5read.js";
import { MAIN } from "./rigd-child.js";

/** The rigd command line. */
export const CLI = [process.execPath, MAIN] as const;

export const port = () => 20000 + Math.floor(Math.random() * 20000);

export interface Served {
  control: string;
  publish: string;
  dataDir: string;
  /** Its exit code, once it has exited. */
  exit: Promise<number | null>;
  /** What it has written to stderr so far. */
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  /** Signals its whole process group (the daemon and its simulators' processes), as a terminal's Ctrl-C does. */
  killGroup(signal: NodeJS.Signals): void;
}

let running: ChildProcess | undefined;

afterEach(async () => {
  const daemon = running;
  running = undefined;
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once("exit", r));
    daemon.kill("SIGINT");
    await exited;
  }
});

/**
 * Starts rigd serve (with `args` added; `control`, `profile` and `dataDir` if given, else sim-2p on ports of its
 * own and a fresh data directory); resolves once it listens. One at a time per test.
 */
export async function serve(options: { control?: string; profile?: string; dataDir?: string; args?: string[] } = {}): Promise<Served> {
  const profile = options.profile ?? tempPath("sim-2p.yaml");
  if (!options.profile) writeFileSync(profile, readFileSync("profiles/sim-2p.yaml", "utf8").replace("tcp://127.0.0.1:5600", `tcp://127.0.0.1:${port()}`).replace("../schema/", `${process.cwd()}/schema/`));
  const control = options.control ?? `tcp://127.0.0.1:${port()}`;
  const publish = `tcp://127.0.0.1:${port()}`;
  const dataDir = options.dataDir ?? dirname(tempPath("data/x"));
  const daemon = spawn(CLI[0], [...CLI.slice(1), "serve", "--profile", profile, "--control", control, "--publish", publish, "--data-dir", dataDir, ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // a process group of its own, as a command started from a terminal
  });
  running = daemon;
  let stderr = "";
  daemon.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => daemon.once("exit", (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: daemon.stdout! }).once("line", () => resolve());
    void exit.then((code) => reject(new Error(`rigd serve exited (${code}): ${stderr}`)));
  });
  return { control, publish, dataDir, exit, stderr: () => stderr, kill: (signal) => daemon.kill(signal), killGroup: (signal) => process.kill(-daemon.pid!, signal) };
}

/** A reply of the control socket. */
export type Reply = { ok: boolean; result?: any; error?: { code: string; message: string } };

/** A REQ client, as most labs' scripts are: one request, then its answer; a string is sent as it is. */
export function client(control: string, receiveTimeout = 60_000) {
  const socket = new Request({ receiveTimeout, linger: 0 });
  socket.connect(control);
  const ask = async (body: unknown): Promise<Reply> => {
    await socket.send(typeof body === "string" ? body : JSON.stringify(body));
    const [reply] = await socket.receive();
    return JSON.parse(reply!.toString()) as Reply;
  };
  return { ask, close: () => socket.close() };
}
