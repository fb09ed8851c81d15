// Running the built CLI (package.json "bin") as a child process, for tests that need a real rigd process:
// its own pid, signals, children and temp folder.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll } from "vitest";
import { tempPath } from "../nwb/h5read.js";

export const MAIN = "dist/src/cli/main.js";

/** Newest modification time of the .ts files under dir, in ms. */
function newestTs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

beforeAll(() => {
  // A stale dist/ would test yesterday's behaviour and report it as today's.
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build`);
  if (Math.max(newestTs("src"), newestTs("simulators")) > statSync(MAIN).mtimeMs) throw new Error("dist/ is older than src/ or simulators/: run npm run build");
});

/**
 * A copy of profiles/NAME (sim-2p.yaml unless given) whose scanner address is a free port, since test files run side by side;
 * `edit` changes its text first (without the schema line, whose path is relative to profiles/).
 */
export function simProfile(edit: (text: string) => string = (t) => t, name = "sim-2p.yaml"): string {
  const path = tempPath(name);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const text = readFileSync(`profiles/${name}`, "utf8").replace(/tcp:\/\/127\.0\.0\.1:\d+/, `tcp://127.0.0.1:${port}`);
  writeFileSync(path, edit(text.replace(/^# yaml-language-server:.*\n/, "")));
  return path;
}

export interface Rigd {
  child: ChildProcess;
  /** The command line as /proc/PID/cmdline gives it, words joined by spaces. */
  command: string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

const children = new Set<ChildProcess>();
// A test that fails half-way must not leave a recording (and its simulators) running behind it.
afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("close", r));
      child.kill("SIGKILL");
      await exited;
    }
  }
  children.clear();
});

/** Starts `node dist/src/cli/main.js ARGS…`, with `env` added to this process's environment. */
export function rigd(args: string[], env: Record<string, string> = {}): Rigd {
  const argv = [MAIN, ...args];
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, command: [process.execPath, ...argv].join(" "), done };
}

/** Polls `condition` every 20 ms until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
