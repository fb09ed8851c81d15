// `rigd acquire --out` that cannot be written is refused in one line, exit status 2, before any device
// starts: no simulator, so no pty folder in the (private) temp dir, and no waiting on devices.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../nwb/h5read.js";
import { mountTmpfs, tmpfsSkipNote, unmountTmpfs } from "../tmpfs.js";
import { rigd, simProfile } from "./rigd-child.js";

// chmod does not stop root: a read-only mount does.
let readOnly = "";
beforeAll(() => {
  if (!tmpfsSkipNote) readOnly = mountTmpfs("ro,size=1m");
});
afterAll(() => {
  if (readOnly) unmountTmpfs(readOnly);
});

async function refused(out: string, force = false): Promise<string> {
  const tmp = tempDir();
  const started = Date.now();
  const { code, stdout, stderr } = await rigd(["acquire", "--profile", simProfile(), "--session", "examples/session.yaml", "--out", out, "--duration", "5s", ...(force ? ["--force"] : [])], { TMPDIR: tmp }).done;
  console.log(`--out ${out}: refused in ${Date.now() - started} ms`);
  expect({ code, stdout }).toEqual({ code: 2, stdout: "" });
  expect(readdirSync(tmp)).toEqual([]); // no pty pair was made: no device started
  return stderr;
}

describe("rigd acquire --out", { timeout: 30_000 }, () => {
  it("refuses a directory", async () => {
    const dir = tempDir();
    expect(await refused(dir, true)).toBe(`rigd acquire: --out ${dir} is a directory; expected the path of the file to write\n`);
  });

  it.skipIf(!!tmpfsSkipNote)(`refuses a read-only file system, whether the folder exists or is to be made${tmpfsSkipNote}`, async () => {
    expect(await refused(join(readOnly, "s1.nwb"))).toBe(`rigd acquire: --out ${join(readOnly, "s1.nwb")} cannot be written: EROFS: read-only file system, access '${readOnly}'\n`);
    const nested = join(readOnly, "day1", "s1.nwb");
    expect(await refused(nested)).toBe(`rigd acquire: --out ${nested} cannot be written: EROFS: read-only file system, access '${readOnly}'\n`);
  });

  it("refuses a path under a regular file", async () => {
    const file = join(tempDir(), "notes.txt");
    writeFileSync(file, "a file, not a folder\n");
    const out = join(file, "day1", "s1.nwb");
    expect(await refused(out)).toBe(`rigd acquire: --out ${out} cannot be written: ENOTDIR: not a directory, stat '${out}'\n`);
    expect(readFileSync(file, "utf8")).toBe("a file, not a folder\n");
  });

  it("refuses an existing file without --force, and leaves it as it was", async () => {
    const dir = tempDir();
    const out = join(dir, "s1.nwb");
    writeFileSync(out, "an earlier session\n");
    expect(await refused(out)).toBe(`rigd acquire: ${out} exists; pass --force to replace it\n`);
    expect(readFileSync(out, "utf8")).toBe("an earlier session\n");
  });
});

describe("rigd acquire without session metadata", { timeout: 30_000 }, () => {
  it("says in one line which file or flags give it, and what is missing", async () => {
    const { code, stdout, stderr } = await rigd(["acquire", "--profile", simProfile(), "--out", join(tempDir(), "s.nwb"), "--duration", "1s", "--species", "Mus musculus"]).done;
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "rigd acquire: session metadata missing (session_description, subject.subject_id, subject.sex, subject.age): give --session FILE.yaml (like examples/session.yaml), or --session-description, --subject-id, --species, --sex and --age\n",
    );
  });
});
