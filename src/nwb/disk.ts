// The output's file system: its free space, and the reserve a writer keeps beside its file. Closing an
// HDF5 file writes a little (metadata, the last partial chunk again); on a full disk there would be no room
// for it, so the writer holds a file of random bytes on the same file system from the start and deletes it
// when a write fails, which gives the close its room back.
import { randomFillSync } from "node:crypto";
import { closeSync, fsyncSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Default reserve: a rewrite of one 4 MiB chunk and the metadata, with room to spare (measured: see test/nwb/write-failure.test.ts). */
export const DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024;

/**
 * Bytes that can still be written on the file system holding `path` (a file or directory; a file that does not
 * exist yet is looked up by its directory). Counts what unprivileged processes may use (statfs `f_bavail`), so
 * root may have a little more. Throws the Node error if neither exists (ENOENT) or statfs fails.
 */
export function freeBytes(path: string): number {
  let s;
  try {
    s = statfsSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    s = statfsSync(dirname(path));
  }
  return s.bavail * s.bsize;
}

// ".<output name>.rigd-reserve-<pid>": the pid tells a later start whether its owner is still alive.
const RESERVE_NAME = /^\..+\.rigd-reserve-(\d+)$/;

/** A file of `bytes` random bytes beside a writer's output, given back to the file system when a write fails. */
export class Reserve {
  private released = false;

  private constructor(readonly path: string) {}

  /**
   * Removes the reserves that dead writers left in the output's directory, then writes this writer's.
   * Random bytes, because a compressing or deduplicating file system stores zeros in no space at all.
   * `bytes` = 0 makes no file. Throws an Error saying so if there is no room for it (ENOSPC) or the
   * directory cannot be written.
   */
  static create(output: string, bytes: number): Reserve {
    removeStaleReserves(dirname(output));
    const reserve = new Reserve(join(dirname(output), `.${basename(output)}.rigd-reserve-${process.pid}`));
    if (bytes === 0) {
      reserve.released = true;
      return reserve;
    }
    try {
      const fd = openSync(reserve.path, "w");
      try {
        const random = randomFillSync(Buffer.allocUnsafe(bytes));
        for (let at = 0; at < bytes; ) at += writeSync(fd, random, at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      rmSync(reserve.path, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      throw Object.assign(
        new Error(`no room for the ${(bytes / 2 ** 20).toFixed(1)} MiB reserve that lets ${output} be closed on a full disk (${reserve.path}: ${code ?? (e as Error).message})`),
        { code },
      );
    }
    return reserve;
  }

  /** Deletes the reserve (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    rmSync(this.path, { force: true });
  }
}

/**
 * Deletes the reserve files in `dir` whose writer process is gone (killed, crashed); returns their paths.
 * A reserve whose pid is alive is left alone, even if that pid was reused: it is removed once that process is gone.
 */
export function removeStaleReserves(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(RESERVE_NAME.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}
