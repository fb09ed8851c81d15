// rigd devices --probe: each simulated device is recognized by its own driver's query-only command,
// and probing changes nothing on any of them.
import { execFile } from "node:child_process";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probePort } from "../../src/drivers/probe.js";
import { CoboltSimulator } from "../../simulators/cobolt.js";
import { ChameleonSimulator } from "../../simulators/coherent-chameleon.js";
import { ScientificaPmtSimulator } from "../../simulators/scientifica-pmt.js";
import type { SerialSimulator } from "../../simulators/serial-simulator.js";
import { MaiTaiSimulator } from "../../simulators/spectra-physics-maitai.js";
import { ThorlabsPmt2100Simulator } from "../../simulators/thorlabs-pmt2100.js";
import { tempDir } from "../nwb/h5read.js";
import { commandSkipNote } from "../tmpfs.js";

const noUdevadm = commandSkipNote("udevadm", "serialport lists the system's ports with it");

const sims = {
  "spectra-physics-maitai": new MaiTaiSimulator(),
  "coherent-chameleon": new ChameleonSimulator(),
  cobolt: new CoboltSimulator("17354"),
  "scientifica-pmt": new ScientificaPmtSimulator(),
  "thorlabs-pmt2100": new ThorlabsPmt2100Simulator(),
} satisfies Record<string, SerialSimulator>;

beforeAll(async () => {
  for (const s of Object.values(sims)) await s.start();
});
afterAll(async () => {
  for (const s of Object.values(sims)) await s.stop();
});

describe("probing serial ports", () => {
  it.each(Object.keys(sims))("recognizes a %s", async (driver) => {
    const result = await probePort(sims[driver as keyof typeof sims].path);
    expect(result.driver).toBe(driver);
  });

  it("changes no device's state", () => {
    // What rigd's connect() would have changed is as the simulators started.
    expect(sims.cobolt.autostart).toBe(true);
    expect(sims.cobolt.on).toBe(false);
    expect(sims["spectra-physics-maitai"].watchdogS).toBe(10);
    expect(sims["spectra-physics-maitai"].pumpOn).toBe(false);
    expect(sims["coherent-chameleon"].echo).toBe(true);
    expect(sims["scientifica-pmt"].gainSource).toBe(0);
    expect(sims["scientifica-pmt"].channels.A.enabled).toBe(false);
    expect(sims["thorlabs-pmt2100"].pmt.enabled).toBe(false);
  });

  it.skipIf(!!noUdevadm)(`rigd devices --probe --port prints the driver and identity of each${noUdevadm}`, async () => {
    // Asynchronously: the simulators answer from this process, whose event loop must keep running.
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "devices", "--probe", "--port", sims.cobolt.path, "--port", "/dev/null"], { encoding: "utf8" });
    expect(stderr).toBe("");
    expect(stdout).toContain(`${sims.cobolt.path}  cobolt  Cobolt s/n 17354`);
    expect(stdout).toContain("/dev/null  no known device answered");
  });

  it("without udevadm (a machine without udev) still probes the --port paths, and says why the rest were not listed", async () => {
    const onlyNode = tempDir();
    symlinkSync(process.execPath, join(onlyNode, "node"));
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/main.ts", "devices", "--probe", "--port", sims.cobolt.path], { encoding: "utf8", env: { ...process.env, PATH: onlyNode } });
    expect(stderr).toBe(`rigd devices: the system's serial ports could not be listed: udevadm was not found (Debian: apt-get install udev); probing the --port paths only\n`);
    expect(stdout).toBe(`${sims.cobolt.path}  cobolt  Cobolt s/n 17354\n`);
  });
});
