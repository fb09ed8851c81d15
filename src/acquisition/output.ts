// Where a session's file may go, checked before any device starts: `rigd acquire --out` and the daemon's
// `start` request share these checks, each naming its own fields in the messages.
import { accessSync, constants, existsSync, lstatSync, mkdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { formatHolder, isHdf5File, lockHolder } from "../nwb/lock.js";

/** A file a session may not write, with a message in the caller's own words. */
export class OutputRefused extends Error {}

/** How the caller's user names things: `--out` / `--force` on the command line, `out` / `"force": true` in a request. */
export interface OutputNames {
  out: string;
  force: string;
}

/**
 * Refuses, in one line, an output the writer would fail on or must not touch: a directory or other non-file,
 * a file another writer holds, an existing file without force, an existing file that is not HDF5 (force
 * only ever replaces an NWB file), a folder that cannot be made or written (read-only, under a regular
 * file). Makes the folder. `out` is absolute; `given` is what the user wrote. Throws OutputRefused.
 */
export function checkOutput(out: string, given: string, force: boolean, names: OutputNames): void {
  const refuse = (e: unknown) => new OutputRefused(`${names.out} ${given} cannot be written: ${(e as Error).message}`);
  let stat: Stats | undefined;
  try {
    stat = statSync(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw refuse(e);
  }
  if (stat?.isDirectory()) throw new OutputRefused(`${names.out} ${given} is a directory; expected the path of the file to write`);
  if (stat && !stat.isFile()) throw new OutputRefused(`${names.out} ${given} is not a regular file`);
  if (stat) {
    // The writer's lock refuses a second writer anyway; checked here too so that it is refused before devices start.
    const holder = lockHolder(out);
    if (holder) throw new OutputRefused(`${given} is already being written by ${formatHolder(holder)}; refusing to write it too`);
    if (!force) throw new OutputRefused(`${given} exists; pass ${names.force} to replace it`);
    let hdf5: boolean;
    try {
      hdf5 = stat.size === 0 || isHdf5File(out);
    } catch (e) {
      throw refuse(e);
    }
    if (!hdf5) throw new OutputRefused(`${given} exists and is not an NWB file; ${names.force} only ever replaces an NWB file`);
  }
  try {
    let existing = dirname(out);
    while (!existsSync(existing)) existing = dirname(existing);
    // access() checks permissions and, for root too, a read-only mount (EROFS), which a recursive mkdir reports as ENOENT.
    accessSync(stat ? out : existing, constants.W_OK);
    mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    throw refuse(e);
  }
}

/**
 * The absolute path of `given` inside the data directory `dataDir` (absolute, existing), or OutputRefused
 * when it would lead out of it: an absolute path elsewhere, `..` past its top, or a symbolic link on the
 * way (or at the end) that points outside. Only an .nwb file name is taken.
 */
export function insideDataDir(dataDir: string, given: string, names: OutputNames): string {
  const top = realpathSync(dataDir);
  const out = resolve(top, given);
  const outside = (path: string) => {
    const r = relative(top, path);
    return r === ".." || r.startsWith(`..${sep}`) || isAbsolute(r);
  };
  const refuse = (why: string) => new OutputRefused(`${names.out} ${given} ${why}; recordings go under the data directory ${top}`);
  if (!/\.nwb$/i.test(out)) throw new OutputRefused(`${names.out} ${given}: expected a file name ending in .nwb`);
  if (outside(out)) throw refuse("is outside the data directory");
  // The deepest part of the path that exists decides where it really leads (each link on the way resolved).
  if (exists(out) && lstatSync(out).isSymbolicLink()) throw refuse("is a symbolic link");
  let existing = out;
  while (!exists(existing)) existing = dirname(existing);
  let real: string;
  try {
    real = realpathSync(existing);
  } catch (e) {
    throw refuse(`cannot be resolved (${(e as Error).message})`);
  }
  if (outside(real)) throw refuse(`leads outside the data directory (through ${existing} → ${real})`);
  return join(real, relative(existing, out));
}

/** Whether anything (a dangling link too) is at `path`. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
