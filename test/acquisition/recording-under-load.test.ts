// sim-2p recorded for 20 s while three processes spin on the two cores: the simulated scanner, in its own process,
// loses no frame to rendering late or to a full queue, and the file holds every frame of the 20 s.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { afterEach, expect, it } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { summarize } from "../../src/nwb/inspect.js";
import { openRead, tempPath } from "../nwb/h5read.js";
import { violations } from "../nwb/inspector-rules.js";
import { metadata, simulatedRig, stopScanners } from "./sim-rig.js";

const SECONDS = 20;
/** The resonant scanner's frame rate at 512 lines (see simulators/zmq-scanner.ts RESONANT). */
const FRAME_RATE_HZ = (7910 * 2) / 512;
const HOGS = 3;

let hogs: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(hogs.map((h) => new Promise((resolve) => (h.exitCode !== null || h.signalCode !== null ? resolve(null) : h.once("exit", resolve).kill("SIGKILL")))));
  hogs = [];
});

/** CPU seconds a process has used (user + system), from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

it(`sim-2p.yaml: ${SECONDS} s with ${HOGS} CPU hogs on the machine lose no frame in the simulator and hold every frame in the file`, async () => {
  // The hogs start before the rig, so that none of them holds a copy of the rig's pty descriptors.
  hogs = Array.from({ length: HOGS }, () => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
  await new Promise((r) => setTimeout(r, 500));
  const hogCpuBefore = await Promise.all(hogs.map((h) => cpuSeconds(h.pid!)));

  const { profile, sims, rig } = await simulatedRig("sim-2p.yaml");
  const out = tempPath("under-load.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const started = performance.now();
  sims.startScanners();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const [scan] = [...(await stopScanners(sims, rig)).values()];
  const seconds = (performance.now() - started) / 1000;
  const hogCpu = (await Promise.all(hogs.map((h) => cpuSeconds(h.pid!)))).reduce((sum, t, i) => sum + t - hogCpuBefore[i]!, 0);
  const load = loadavg()[0]!;
  await session.stop();

  const f = await summarize(out);
  const series = f.series.filter((s) => s.neurodata_type.endsWith("MicroscopySeries"));
  console.log(
    `under ${HOGS} hogs (${(hogCpu / seconds).toFixed(2)} cores between them, load average ${load.toFixed(1)}): scanner acquired ${scan!.frames} frames in ${scan!.seconds.toFixed(1)} s, ` +
      `sent ${scan!.sent}, lost ${scan!.dropped_late} to rendering late and ${scan!.dropped_queue_full} to a full send queue; file ${series.map((s) => `${s.path.split("/").pop()} ${s.samples}`).join(", ")}`,
  );
  // The hogs competed for the cores all along (on an otherwise idle machine they take over a core between them;
  // less when other work shares the machine too, which loads it more).
  expect(hogCpu / seconds).toBeGreaterThan(0.5);
  // Nothing lost by the simulator, and as many frames as the scanner's clock gives for the time it ran.
  expect(scan!.dropped_injected + scan!.dropped_late + scan!.dropped_queue_full).toBe(0);
  expect(scan!.sent).toBe(scan!.frames);
  expect(scan!.frames / 2).toBeGreaterThanOrEqual(Math.floor(FRAME_RATE_HZ * SECONDS));
  expect(scan!.frames / 2).toBeLessThanOrEqual(Math.ceil(FRAME_RATE_HZ * scan!.seconds) + 1);
  // The file holds every one of them, each channel in its series, and nothing recorded lost.
  expect(series.map((s) => s.samples)).toEqual([scan!.frames / 2, scan!.frames / 2]);
  expect(series.every((s) => s.dropped === 0)).toBe(true);
  expect(violations(await openRead(out))).toEqual([]);
}, 90_000);
