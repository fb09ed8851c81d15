// Memory over a long session: records the simulated two-photon rig (profiles/sim-2p.yaml) with
// `rigd acquire --json` for 5 minutes (or --minutes N) and prints the process's RSS after 30 s and at
// the end, which should agree within 10 %.
//
//   npm run soak [-- --minutes 5]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" } } });
const seconds = Number(values.minutes) * 60;
const dir = mkdtempSync(join(tmpdir(), "rigd-soak-"));
const cli = new URL("../src/cli/main.js", import.meta.url).pathname;
const child = spawn(process.execPath, [cli, "acquire", "--profile", "profiles/sim-2p.yaml", "--session", "examples/session.yaml", "--out", join(dir, "soak.nwb"), "--duration", `${seconds}s`, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
const samples: { t: number; rss: number; frames: number; drops: number }[] = [];
for await (const line of createInterface({ input: child.stdout! })) {
  const s = JSON.parse(line) as { elapsed_s?: number; rss_MB?: number; samples?: Record<string, number>; dropped?: number; summary?: unknown };
  if (s.summary) console.log(`summary: ${JSON.stringify(s.summary)}`);
  else samples.push({ t: s.elapsed_s!, rss: s.rss_MB!, frames: s.samples?.["PlanarMicroscopySeriesGreen"] ?? 0, drops: s.dropped ?? 0 });
}
const at30 = samples.find((s) => s.t >= 30);
const end = samples.at(-1);
rmSync(dir, { recursive: true, force: true });
if (!at30 || !end) throw new Error("the session ended before 30 s");
console.log(`RSS after ${at30.t.toFixed(0)} s: ${at30.rss} MB; at the end (${end.t.toFixed(0)} s): ${end.rss} MB; ratio ${(end.rss / at30.rss).toFixed(3)}`);
console.log(`frames per channel ${end.frames}, drops ${end.drops}`);
