// Memory over a long session: `rigd acquire --json` records the simulated two-photon rig
// (profiles/sim-2p.yaml) for 5 minutes (RIGD_SOAK_MINUTES to change it); the process's RSS at the end
// must be within 10 % of its RSS after 30 s. Run by `npm run soak` (and by CI after the tests).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { expect, it } from "vitest";
import { tempPath } from "../nwb/h5read.js";

const minutes = Number(process.env.RIGD_SOAK_MINUTES ?? "5");
const cli = new URL("../../dist/src/cli/main.js", import.meta.url).pathname;

interface StatusLine {
  elapsed_s?: number;
  rss_MB?: number;
  samples?: Record<string, number>;
  dropped?: number;
  summary?: { status: { samples: Record<string, number> } };
}

it(`a ${minutes}-minute simulated two-photon session ends with the RSS it had after 30 s (within 10 %)`, async () => {
  expect(minutes).toBeGreaterThanOrEqual(1);
  const out = tempPath("soak.nwb"); // ~10 GB after 5 minutes, removed after the test
  const args = ["acquire", "--profile", "profiles/sim-2p.yaml", "--session", "examples/session.yaml", "--out", out, "--duration", `${minutes * 60}s`, "--json"];
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const lines: StatusLine[] = [];
  for await (const line of createInterface({ input: child.stdout! })) lines.push(JSON.parse(line) as StatusLine);
  expect(await exited).toBe(0);

  const status = lines.filter((s) => s.summary === undefined);
  const at30 = status.find((s) => s.elapsed_s! >= 30)!;
  const end = status.at(-1)!;
  const summary = lines.at(-1)!.summary!;
  const green = summary.status.samples["PlanarMicroscopySeriesGreen"]!;
  console.log(
    `soak: RSS ${at30.rss_MB} MB after ${at30.elapsed_s!.toFixed(0)} s, ${end.rss_MB} MB at ${end.elapsed_s!.toFixed(0)} s ` +
      `(ratio ${(end.rss_MB! / at30.rss_MB!).toFixed(3)}); ${green} frames per channel, ${end.dropped} dropped`,
  );
  expect(end.elapsed_s).toBeGreaterThanOrEqual(minutes * 60 - 2);
  // ~30.9 frames/s per channel for the whole session, not a session that stalled and kept its memory.
  expect(green).toBeGreaterThan(minutes * 60 * 30 * 0.9);
  expect(Math.abs(end.rss_MB! / at30.rss_MB! - 1)).toBeLessThanOrEqual(0.1);
});
