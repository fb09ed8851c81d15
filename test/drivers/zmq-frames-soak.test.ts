// 10 000 frames from the scanner simulator in a process of its own, 1 000 malformed messages mixed in and
// about 1 % of the acquisitions lost on purpose: every frame is received or accounted for as a gap, every
// malformed message is rejected and counted, and nothing crashes.
//
// The geometry: 2 channels × 2 planes of 32 lines × 512 pixels (uint16, 32 KiB a frame) at the resonant
// scanner's real 15 820 lines/s, i.e. 494 planes/s and 989 frames/s, so 10 000 frames take about 10 s of real
// time. Short frames keep the real line rate and still finish well inside a minute; at 32 KiB, rendering the
// sample, checking and counting cost ~0.1 ms a frame, which leaves the two cores of a CI machine mostly idle.
import { spawn } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { type Loss, recordGaps, routeKey, tagAndTime } from "../../src/acquisition/stages.js";
import { ZmqFrameSource } from "../../src/drivers/zmq-frames.js";
import type { ScanSummary } from "../../simulators/zmq-scanner.js";
import { releaseFrame } from "../../src/frame-slots.js";

const CHANNELS = 2;
const PLANES = 2;
const FRAMES = 10_000;
let source: ZmqFrameSource | undefined;

afterEach(async () => {
  await source?.close();
});

it("receives 10 000 frames from a simulator process, or accounts for them as gaps, and rejects 1 000 malformed messages", async () => {
  source = new ZmqFrameSource({ address: "tcp://127.0.0.1:*", frame_shape: [32, 512], data_type: "uint16", channel_count: CHANNELS, plane_count: PLANES });
  // Per stream: the frames received and the ones the gaps before them say are missing.
  const accounted = new Map<string, { received: number; missing: number; last: number }>();
  // Judged as a session judges them: each stream its own series.
  const routes = new Map(Array.from({ length: CHANNELS * PLANES }, (_, k) => [routeKey("scan", Math.floor(k / PLANES), k % PLANES), { series: `${Math.floor(k / PLANES)}/${k % PLANES}`, depths: 0 }] as const));
  let missing = 0;
  const lose = (l: Loss) => (missing += l.cause === "producer_gap" ? l.frames : 0);
  source.frames$.pipe(tagAndTime("scan", routes, Date.now(), "hardware", () => undefined, () => undefined, lose, () => undefined), recordGaps(lose)).subscribe((t) => {
    const stream = accounted.get(t.series) ?? { received: 0, missing: 0, last: -1 };
    accounted.set(t.series, { received: stream.received + 1, missing: stream.missing + t.missing_before, last: t.frame.counter });
    releaseFrame(t.frame.data); // counted, not kept: its slot is free for the next frame
  });
  let events = 0;
  source.events$.subscribe(() => events++);
  await source.connect();

  const started = Date.now();
  const args = ["--channels", CHANNELS, "--planes", PLANES, "--height", 32, "--width", 512, "--frames", FRAMES, "--drop-probability", 0.01, "--malformed-every", 10];
  const simulator = spawn(process.execPath, ["--import", "tsx", "simulators/zmq-scanner-main.ts", "--address", source.endpoint!, ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  simulator.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  simulator.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => simulator.on("exit", resolve));
  expect(code, stderr).toBe(0);
  const summary = JSON.parse(stdout) as ScanSummary;
  const deadline = Date.now() + 10_000;
  while (source.counts.frames + source.counts.rejected < summary.sent + summary.malformed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (Date.now() - started) / 1000;

  expect(summary).toMatchObject({ frames: FRAMES, malformed: 1000, dropped_queue_full: 0 });
  expect(summary.dropped_injected).toBeGreaterThan(0);
  expect(source.counts).toMatchObject({ frames: summary.sent, rejected: 1000 });
  expect(missing).toBe(summary.dropped_injected + summary.dropped_late);
  expect(Object.values(source.counts.rejected_by_reason).reduce((a, b) => a + b)).toBe(1000);
  // Each stream: counters 0 … 2499, every one received or missing.
  expect([...accounted.values()]).toEqual(Array.from({ length: CHANNELS * PLANES }, () => expect.objectContaining({ last: FRAMES / CHANNELS / PLANES - 1 })));
  for (const stream of accounted.values()) expect(stream.received + stream.missing).toBe(FRAMES / CHANNELS / PLANES);
  expect(events).toBeGreaterThan(0);
  expect(seconds).toBeLessThan(60);
  console.log(`soak: ${summary.sent} frames received, ${summary.dropped_injected + summary.dropped_late} lost as gaps (${summary.dropped_late} of them the simulator's overruns), 1000 malformed rejected; simulator ${summary.seconds.toFixed(1)} s, in all ${seconds.toFixed(1)} s`);
}, 90_000);
