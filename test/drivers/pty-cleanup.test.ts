// Nothing of a rigd killed with SIGKILL outlives it: its socat helpers die with it, its output file is not
// left locked, and the next rigd to start removes the pty folders it left in the temp dir.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { PtyPair } from "../../simulators/pty.js";
import { lockHolder, WriteLock } from "../../src/nwb/lock.js";
import { rigd, simProfile, waitFor } from "../cli/rigd-child.js";
import { tempDir, tempPath } from "../nwb/h5read.js";

/** Pids of the running (not zombie) processes named `comm` whose parent is `ppid`. */
function childrenNamed(ppid: number, comm: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited while listed
    }
    // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
    const [name, rest] = [stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), stat.slice(stat.lastIndexOf(")") + 2).split(" ")];
    if (name === comm && Number(rest[1]) === ppid && rest[0] !== "Z") found.push(Number(pid));
  }
  return found;
}

/** Whether a process runs (exists and is not a zombie awaiting its reaper). */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("after rigd is killed with SIGKILL", () => {
  it("its socat helpers die with it, its file is free, and the next start removes its pty folders", { timeout: 60_000 }, async () => {
    const tmp = tempDir();
    const out = tempPath("killed.nwb");
    const profile = simProfile();
    const first = rigd(["acquire", "--profile", profile, "--session", "examples/session.yaml", "--out", out, "--duration", "60s"], { TMPDIR: tmp });
    const pid = first.child.pid!;
    await waitFor("rigd to start recording", () => lockHolder(out)?.pid === pid);

    // sim-2p simulates two serial devices, the laser and the PMT controller: one socat pty pair each.
    const socats = childrenNamed(pid, "socat");
    expect(socats).toHaveLength(2);
    const folders = readdirSync(tmp).sort();
    expect(folders).toHaveLength(2);
    for (const f of folders) expect(f).toMatch(new RegExp(`^rigd-pty-${pid}-`));

    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    const killed = Date.now();
    await waitFor("the socat helpers to die", () => !socats.some(running), 2000);
    console.log(`socat helpers gone ${Date.now() - killed} ms after rigd's SIGKILL`);

    // The kernel dropped the lock with its holder: another writer may take the file.
    expect(lockHolder(out)).toBeUndefined();
    WriteLock.take(out, { overwrite: true }).release();

    // Left behind: only a process that starts can tell the owner is gone.
    expect(readdirSync(tmp).sort()).toEqual(folders);
    const next = await rigd(["acquire", "--profile", profile, "--session", "examples/session.yaml", "--out", out, "--force", "--duration", "1s"], { TMPDIR: tmp }).done;
    expect(next.code, next.stderr).toBe(0);
    // The next rigd removed the dead one's folders at its start and its own at its clean stop.
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe("a pty pair whose socat was killed from outside (an adapter pulled)", () => {
  it("still removes its links and folder when stopped", async () => {
    const pair = new PtyPair();
    await pair.start();
    const [socat] = childrenNamed(process.pid, "socat").concat(childrenNamed(childrenNamed(process.pid, "setpriv")[0] ?? -1, "socat"));
    expect(socat).toBeDefined();
    process.kill(socat!, "SIGKILL");
    await waitFor("socat to end", () => !running(socat!));
    await pair.stop();
    expect(existsSync(dirname(pair.clientPath))).toBe(false);
  });
});
