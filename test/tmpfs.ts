// Real file systems for tests that need a disk that fills or a read-only one: a tmpfs, mounted with util-linux's
// mount (root only; CI runs as root). Where one cannot be mounted, those tests are reported skipped with the
// reason in their names, never passed (see test/python.ts for the same with Python).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { skipped } from "./python.js";

/** Mounts a new tmpfs (`options` e.g. "size=32m" or "ro,size=1m") on a new directory; throws if it cannot. */
export function mountTmpfs(options: string): string {
  const dir = mkdtempSync(join(tmpdir(), "rigd-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** Unmounts (lazily: a test may have unmounted it already) and removes it. */
export function unmountTmpfs(dir: string): void {
  spawnSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Appended to the names of tests that need a tmpfs: empty where one can be mounted, else why they are skipped. */
export const tmpfsSkipNote = (() => {
  try {
    unmountTmpfs(mountTmpfs("size=1m"));
    return "";
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no mount command on PATH" : (e as Error).message.split("\n")[0];
    return skipped(`cannot mount a tmpfs (${why}); these tests need root and util-linux's mount, as CI has`);
  }
})();

/** Where a test needs a program that may be missing (prlimit, udevadm): empty if it is on PATH, else why it is skipped. */
export function commandSkipNote(command: string, what: string): string {
  const found = spawnSync(command, ["--version"], { stdio: "ignore" });
  return found.error ? skipped(`no ${command} on PATH (${what})`) : "";
}
