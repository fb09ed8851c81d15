// A failed write, said in one line: what was being written and why it failed (the OS error when one is
// known). HDF5's own error stacks run to dozens of lines per failure; they are reduced here, never printed.
import type { CheckpointReport } from "./nwb-file.js";

/** Why a writer stopped, and what its file holds: sent from the worker to the main thread. */
export interface WriteFailure {
  /** One line: what failed and why, e.g. "writing PlanarMicroscopySeriesGreen: no space left on device (ENOSPC)". */
  message: string;
  /** The OS error code when it is known: ENOSPC, EIO, EDQUOT, EFBIG, EROFS, ENOENT (the output was removed)… */
  code: string | undefined;
  /**
   * What the file holds: the last good checkpoint (samples per series, events, and when). Undefined when the
   * output is no longer at its path (removed, replaced, or its file system unmounted).
   */
  saved: CheckpointReport | undefined;
  /**
   * True when the file was cut back to that checkpoint and closed; false when even that failed and the file
   * is left as a crash would leave it (every checkpointed sample readable; `rigd recover` makes it consistent).
   */
  closed: boolean;
}

/** A write to the file failed: `what` was being written; the message is one line. */
export class WriteError extends Error {
  override name = "WriteError";

  constructor(
    readonly what: string,
    readonly detail: string,
    /** The OS error code when it is known (ENOSPC, EIO…). */
    readonly code: string | undefined,
  ) {
    super(`${what}: ${detail}`);
  }

  /** `cause` (an HDF5 error stack, a Node system error, any error) as a WriteError about `what`. */
  static from(what: string, cause: unknown): WriteError {
    if (cause instanceof WriteError) return cause;
    const { detail, code } = describeCause(cause);
    return new WriteError(what, detail, code);
  }
}

// musl's strerror texts (h5wasm's C library reports the OS error through them), and glibc's where they differ.
const OS_ERRORS: Record<string, string> = {
  "no space left on device": "ENOSPC",
  "i/o error": "EIO",
  "input/output error": "EIO",
  "quota exceeded": "EDQUOT",
  "disk quota exceeded": "EDQUOT",
  "file too large": "EFBIG",
  "read-only file system": "EROFS",
  "no such file or directory": "ENOENT",
  "stale file handle": "ESTALE",
  "bad file descriptor": "EBADF",
  "no such device": "ENODEV",
  "no such device or address": "ENXIO",
  "permission denied": "EACCES",
  "operation not permitted": "EPERM",
};

/** The cause of an error in a few words, with the OS error code when the error names one. */
export function describeCause(cause: unknown): { detail: string; code: string | undefined } {
  if (cause instanceof WriteError) return { detail: cause.detail, code: cause.code };
  const message = cause instanceof Error ? cause.message : String(cause);
  const nodeCode = (cause as NodeJS.ErrnoException | null)?.code;
  if (typeof nodeCode === "string" && /^E[A-Z]+$/.test(nodeCode)) {
    // Node: "ENOSPC: no space left on device, write".
    const text = /^E[A-Z]+: ([^,]+)/.exec(message)?.[1] ?? message;
    return { detail: `${text} (${nodeCode})`, code: nodeCode };
  }
  if (isHdf5Stack(message)) {
    // The file driver's line carries the OS error: "… errno = 51, error message = 'No space left on device', …".
    const os = /error message = '([^']*)'/.exec(message)?.[1];
    if (os) {
      const code = OS_ERRORS[os.toLowerCase()];
      return { detail: code ? `${os.toLowerCase()} (${code})` : os.toLowerCase(), code };
    }
    // Otherwise the deepest frame says most: "#012: …/H5Dchunk.c line 4294 in H5D__chunk_flush_entry(): unable to write raw data to file".
    const frames = [...message.matchAll(/#\d+: .* in ([\w]+)\(\): ([^\n]*)/g)];
    const deepest = frames[frames.length - 1];
    return { detail: deepest ? `HDF5 ${deepest[1]}(): ${deepest[2]!.trim()}` : "HDF5 error", code: undefined };
  }
  return { detail: message.split("\n")[0]!, code: undefined };
}

/** An error message that is an HDF5 error stack (h5wasm's throwing error handler). */
export function isHdf5Stack(message: string): boolean {
  return message.includes("HDF5-DIAG");
}
