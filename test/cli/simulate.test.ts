// rigd simulate: every simulator a profile binds, running, and where each listens.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

describe("rigd simulate", () => {
  it("starts the simulated laser, PMT controller and scanner of sim-2p and prints where they are", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "simulate", "--profile", "profiles/sim-2p.yaml", "--duration", "1s"], { encoding: "utf8" });
    expect(stdout).toMatch(/^TiSapphireLaser \(spectra-physics-maitai\): \/\S+\/maitai$/m);
    expect(stdout).toMatch(/^PMTGreen \+ PMTRed \(scientifica-pmt\): \/\S+\/scientifica-pmt$/m);
    expect(stdout).toContain("ScanFrames (zmq-frames scanner): pushes to tcp://127.0.0.1:5600");
  });

  it("refuses a profile that simulates nothing", async () => {
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "simulate", "--profile", "profiles/rig-2p-hardware.yaml"], { encoding: "utf8" });
    await expect(run).rejects.toMatchObject({ code: 1, stderr: "rigd simulate: profiles/rig-2p-hardware.yaml marks no binding simulated: true\n" });
  });
});
