// One writer per file. Two processes writing one HDF5 file destroy it, so the writer holds an exclusive
// lock on its output from before anything truncates it until it is closed: an open-file-description lock
// (Linux's F_OFD_SETLK; BSD flock on macOS), through fs-native-extensions. Such a lock belongs to the open
// file description, not to the process or the path: h5wasm opening and closing descriptors of its own on the
// same file leaves it in place (a classic POSIX fcntl lock would go), while any other open of the file — a
// second writer in this process as much as in another — is refused. The kernel drops it when its holder
// dies, even by SIGKILL, so a crash leaves no stale lock. Not flock(2): HDF5 readers (h5py, h5dump) take a
// shared flock on every file they open, so an exclusive one would lock them out of a file being recorded;
// and fs-ext, which offers it, aborts the process when a second thread (the writer's worker) loads it.
import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync, unlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { NwbInputError } from "./errors.js";

// The package ships prebuilt N-API binaries (safe in worker threads) and no type declarations.
const { tryLock } = createRequire(import.meta.url)("fs-native-extensions") as {
  /** Exclusive lock on the whole file: true if granted, false if another open file description holds one; throws otherwise. */
  tryLock(fd: number): boolean;
};

/** A process that holds a file's write lock: its pid and command line (words joined by spaces). */
export interface LockHolder {
  pid: number;
  command: string | undefined;
}

/** The command line in a message stays on one line of reasonable length. */
const MAX_COMMAND_CHARS = 300;

/** An exclusive lock on a file the writer is about to write; its descriptor serves to fsync the file too. */
export class WriteLock {
  private released = false;

  private constructor(
    readonly path: string,
    /** Read-write descriptor of the locked file; the lock lasts while it is open. */
    readonly fd: number,
    /** Whether taking the lock created the (empty) file. */
    private readonly created: boolean,
  ) {}

  /**
   * Opens `path` read-write — creating it empty if it is missing, never truncating it — and locks it.
   * Throws NwbInputError if the file exists and `overwrite` is false or it is not an HDF5 file, or if another writer holds it (the
   * message names that process by pid and command line where /proc tells it); any other failure to
   * open (EISDIR, EACCES, EROFS, ENOENT for a missing folder…) as the Node error it is.
   */
  static take(path: string, options: { overwrite: boolean }): WriteLock {
    let fd: number;
    let created = true;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (!options.overwrite) throw new NwbInputError(`${path} already exists; pass overwrite (--force on the command line) to replace it`);
      fd = openSync(path, constants.O_RDWR);
      created = false;
    }
    try {
      if (!tryLock(fd)) throw new NwbInputError(`${path} is already being written by ${describeHolder(path)}; refusing to write it too`);
      // Overwriting is for an earlier recording (or an empty file), never for whatever else happens to be at the path.
      if (!created && fstatSync(fd).size > 0 && !isHdf5(fd)) throw new NwbInputError(`${path} exists and is not an HDF5 (NWB) file; only an NWB file is ever replaced`);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new WriteLock(path, fd, created);
  }

  /** Drops the lock by closing its descriptor (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    closeSync(this.fd);
  }

  /** Drops the lock, and the file too if taking the lock created it: for a writer that failed before writing anything. */
  discard(): void {
    // Unlinked while still locked: no other writer can have opened the empty file in between.
    if (this.created && !this.released) unlinkSync(this.path);
    this.release();
  }
}

/** HDF5's format signature, at the start of the file or of its superblock (at 0, 512, 1024, 2048 … bytes). */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Whether the file open at `fd` is an HDF5 file (NWB files are), by the signature where the HDF5 format
 * specification (superblock, "Format Signature") places it; an empty file is not.
 */
export function isHdf5(fd: number): boolean {
  const size = fstatSync(fd).size;
  const found = Buffer.alloc(HDF5_SIGNATURE.length);
  for (let at = 0; at + found.length <= size; at = at === 0 ? 512 : at * 2) {
    if (readSync(fd, found, 0, found.length, at) === found.length && found.equals(HDF5_SIGNATURE)) return true;
  }
  return false;
}

/** Whether the file at `path` is an HDF5 file (see isHdf5); a file that cannot be opened throws. */
export function isHdf5File(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    return isHdf5(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The process holding a write lock on `path` (an OFD lock as taken here, a flock or a POSIX lock), read from
 * Linux's /proc without touching the lock; undefined if the file does not exist, nobody holds one, or
 * there is no /proc/locks (not Linux). `pid` is -1 if no process could be found with it (another pid
 * namespace). Errors other than ENOENT from stat or /proc/locks throw.
 */
export function lockHolder(path: string): LockHolder | undefined {
  let stat;
  try {
    stat = statSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let table: string;
  try {
    table = readFileSync("/proc/locks", "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  // glibc's dev_t encoding, as /proc prints it: major and minor apart, in hex, then the inode.
  const file = {
    major: Number(((stat.dev >> 8n) & 0xfffn) | ((stat.dev >> 32n) & ~0xfffn)),
    minor: Number((stat.dev & 0xffn) | ((stat.dev >> 12n) & ~0xffn)),
    ino: stat.ino,
  };
  const pid = writeLockPid(table, file);
  if (pid === undefined) return undefined;
  // /proc/locks shows -1 for an OFD lock; each descriptor's fdinfo lists the locks held through it.
  const holder = pid === -1 ? ofdLockHolder(file) : pid;
  return { pid: holder, command: holder === -1 ? undefined : commandLine(holder) };
}

/**
 * The pid of a write lock on `file` in /proc/locks-formatted text ("1: OFDLCK ADVISORY  WRITE -1 fe:00:2147214 0 EOF"),
 * -1 for an OFD lock, or undefined if there is none.
 */
function writeLockPid(text: string, file: { major: number; minor: number; ino: bigint }): number | undefined {
  for (const m of text.matchAll(/\d+: (?:FLOCK|OFDLCK|POSIX) +\S+ +WRITE +(-?\d+) +([0-9a-f]+):([0-9a-f]+):(\d+) /g)) {
    if (parseInt(m[2]!, 16) === file.major && parseInt(m[3]!, 16) === file.minor && BigInt(m[4]!) === file.ino) return Number(m[1]);
  }
  return undefined;
}

/** The process with a descriptor through which an OFD write lock on `file` is held, or -1 if none can be seen. */
function ofdLockHolder(file: { major: number; minor: number; ino: bigint }): number {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue; // exited since, or not ours to read: only naming the holder is at stake
    }
    for (const fd of fds) {
      let info: string;
      try {
        info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8");
      } catch {
        continue; // closed since
      }
      if (info.includes("lock:") && writeLockPid(info, file) === -1) return Number(pid);
    }
  }
  return -1;
}

/** Who holds the lock on `path`, for messages (see formatHolder); never throws, as it only adds to another error. */
function describeHolder(path: string): string {
  let holder: LockHolder | undefined;
  try {
    holder = lockHolder(path);
  } catch (e) {
    return `another writer (not named: ${(e as Error).message})`;
  }
  return holder ? formatHolder(holder) : "another writer (one /proc/locks does not list)";
}

/** "pid 123 (node main.js acquire …)", or "this process, pid 123 (…)" for a second writer in the same process. */
export function formatHolder(holder: LockHolder): string {
  if (holder.pid === -1) return "another process (one /proc does not show)";
  const who = holder.pid === process.pid ? `this process, pid ${holder.pid}` : `pid ${holder.pid}`;
  return holder.command === undefined ? who : `${who} (${holder.command})`;
}

/** A process's command line, or undefined once it has exited (or in another pid namespace). */
function commandLine(pid: number): string | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
  const words = raw.split("\0").filter((w) => w !== "").join(" ");
  return words.length > MAX_COMMAND_CHARS ? `${words.slice(0, MAX_COMMAND_CHARS - 1)}…` : words;
}
