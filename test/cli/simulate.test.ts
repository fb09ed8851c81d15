// rigd simulate: every simulator a profile binds, running, and where each listens; or serial devices on their own,
// which other software (here the example clients, which are not rigd's drivers) can then talk to.
import { execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runExample } from "../simulators/raw-serial.js";

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

  it("starts serial devices on their own with --device, and other software runs its session against them", async () => {
    const sim = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "simulate", "--device", "coherent-chameleon", "--device", "thorlabs-pmt2100", "--duration", "60s"], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number | null>((r) => sim.once("exit", r));
    try {
      const lines: string[] = [];
      for await (const line of createInterface({ input: sim.stdout! })) {
        if (line.startsWith("simulating")) break;
        lines.push(line);
      }
      expect(lines).toEqual([expect.stringMatching(/^coherent-chameleon: \/\S+\/chameleon$/), expect.stringMatching(/^thorlabs-pmt2100: \/\S+\/thorlabs-pmt2100$/)]);
      const port = (driver: string) => lines.find((l) => l.startsWith(driver))!.split(": ")[1]!;
      // Each session ends as its device let it: the Chameleon tuned, shuttered and in standby; the PMT2100 at 1.1 V.
      expect(await runExample("chameleon_session.ts", port("coherent-chameleon"))).toMatch(/tuned to 900 nm, \d+ mW, mode-locked: true\nshutter open\nshutter closed, laser standby\n$/);
      expect(await runExample("pmt2100_session.ts", port("thorlabs-pmt2100"))).toContain('INST GAIN;:SOUR:VOLT 1.1V;:SOUR:VOLT?;:SYST:ERR? -> 1.1000V;0,"No error"');
    } finally {
      sim.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });

  it("takes either a profile or devices", async () => {
    const run = promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "simulate"], { encoding: "utf8" });
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("give either --profile or --device") });
  });
});
