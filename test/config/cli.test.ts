// `rigd profile check` and `rigd profile schema`, run as a user runs them (from the sources, so that
// no stale build is tested).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { JSON_SCHEMAS } from "../../src/config/index.js";

function rigd(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("rigd profile check", () => {
  it("exits 0 when every profile is valid", async () => {
    const files = ["profiles/rig-2p-hardware.yaml", "profiles/sim-2p.yaml", "profiles/sim-lightsheet.yaml", "profiles/sim-multiplane.yaml"];
    expect(await rigd("profile", "check", ...files)).toEqual({ status: 0, stdout: files.map((f) => `${f}: ok\n`).join(""), stderr: "" });
  });

  it("exits 1 when one is not, and prints its errors", async () => {
    expect(await rigd("profile", "check", "profiles/sim-2p.yaml", "test/config/broken/channel-at-92-nm.yaml", "no/such/profile.yaml")).toEqual({
      status: 1,
      stdout: "profiles/sim-2p.yaml: ok\n",
      stderr:
        "test/config/broken/channel-at-92-nm.yaml:32:34: channels[0].excitation_wavelength_in_nm: expected a wavelength in nm from 150 to 3000, found 92\n" +
        "no/such/profile.yaml: cannot read the file: it does not exist\n",
    });
  });

  it("checks session files with --session", async () => {
    expect(await rigd("profile", "check", "--session", "test/config/fixtures/session.yaml")).toEqual({
      status: 0,
      stdout: "test/config/fixtures/session.yaml: ok\n",
      stderr: "",
    });
  });
});

describe("rigd profile schema", () => {
  // The committed copies are what editors read: they must never go stale.
  for (const [kind, { file }] of Object.entries(JSON_SCHEMAS)) {
    const args = kind === "rig" ? [] : [kind]; // rig is the default
    it(`${["rigd profile schema", ...args].join(" ")} prints ${file}`, async () => {
      expect(await rigd("profile", "schema", ...args)).toEqual({ status: 0, stdout: readFileSync(file, "utf8"), stderr: "" });
    });
  }
});
