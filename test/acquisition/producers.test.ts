// Sessions fed by a producer in a process of its own, behaving as other labs' acquisition code does: already
// connected and sending counter 0 the moment the file appears, all planes of one channel before the next, one
// header with a wrong clock or counter, faster than the writer. Every frame it sent is in the file or counted,
// with its cause, and the timestamps stay monotonic and sane.
import { expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Session } from "../../src/acquisition/session.js";
import { openRig } from "../../src/cli/running-rig.js";
import { parseRigProfile } from "../../src/config/index.js";
import { pixelOf } from "../fixtures/producer.js";
import { frameAddress, outsideFrames, produce } from "../fixtures/run-producer.js";
import { openRead, tempPath } from "../nwb/h5read.js";
import { metadata, simulatedRig, until } from "./sim-rig.js";

/** Pixels, counters (from the pixels) and timestamps of a planar series as the file holds them. */
async function readSeries(out: string, series: string): Promise<{ counters: number[]; timestamps: number[] }> {
  const f = await openRead(out);
  const data = f.get(`acquisition/${series}/data`) as { shape: number[]; slice(r: ([number, number] | [])[]): Uint16Array };
  const timestamps = Array.from((f.get(`acquisition/${series}/timestamps`) as { value: Float64Array }).value);
  const counters: number[] = [];
  for (let i = 0; i < data.shape[0]!; i++) {
    const pixels = data.slice([[i, i + 1], [], []]);
    const counter = pixels[0]! / 7; // pixelOf's first pixel, for counters below 65536 / 7
    counters.push(counter);
    // Every pixel of the frame is the one that was sent for that counter.
    expect(pixels.every((v, k) => v === pixelOf(counter, 0, 0, k)), `frame ${i} holds the pixels sent`).toBe(true);
  }
  return { counters, timestamps };
}

it("a producer already connected sends counter 0 the moment the file appears: every counter from 0 is in the file", async () => {
  const { profile, rig } = await simulatedRig("sim-2p.yaml", outsideFrames(64));
  const out = tempPath("first-frames.nwb");
  const producing = produce({ address: frameAddress(profile), frames: 600, channels: 2, rate: 30, startWhenExists: out });
  // The producer's socket connects first; frames it sends before the session listens would be lost unseen.
  await new Promise((r) => setTimeout(r, 300));
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const sent = await producing;
  await until(() => Object.values(session.status().samples).reduce((a, b) => a + b, 0) + session.status().dropped >= sent.sent, "every frame sent");
  const status = session.status();
  await session.stop();

  expect(sent).toMatchObject({ sent: 1200, failed: 0 });
  expect(status.dropped).toBe(0);
  expect(status.frames_before_start).toBe(0);
  const { counters, timestamps } = await readSeries(out, "PlanarMicroscopySeriesGreen");
  expect(counters).toEqual(Array.from({ length: 600 }, (_, c) => c));
  expect(timestamps.every((t, i) => i === 0 || t > timestamps[i - 1]!)).toBe(true);
}, 60_000);

it("one frame with an epoch-seconds clock, or an absurd counter, is set aside and counted once: the channel goes on", async () => {
  const { profile, rig } = await simulatedRig("sim-2p.yaml", outsideFrames(64));
  const out = tempPath("rogue.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const epoch = Date.now() / 1000; // the common slip: Unix time instead of the digitizer's clock
  const sent = await produce({
    address: frameAddress(profile), frames: 600, channels: 2, rate: 60,
    rogue: [
      { after: 200, header: { channel: 1, counter: 1_000_000, hardware_time_s: epoch } },
      { after: 300, header: { channel: 1, counter: 2 ** 53 - 1 } },
      { after: 400, header: { channel: 1, counter: 401, hardware_time_s: epoch } },
      { after: 450, header: { channel: 1, counter: 300 } },
    ],
  });
  await until(() => (session.status().samples["PlanarMicroscopySeriesRed"] ?? 0) >= 600, "the red channel's frames");
  const status = session.status();
  await session.stop();

  expect(sent).toMatchObject({ sent: 1200, failed: 0, rogueSent: 4 });
  expect(status.samples).toEqual({ PlanarMicroscopySeriesGreen: 600, PlanarMicroscopySeriesRed: 600 });
  expect(status.dropped).toBe(4);
  expect(status.losses["PlanarMicroscopySeriesRed"]!.frames).toMatchObject({ implausible: 4, producer_gap: 0 });
  const f = await openRead(out);
  const red = Array.from((f.get("acquisition/PlanarMicroscopySeriesRed/timestamps") as { value: Float64Array }).value);
  expect(red.every((t, i) => i === 0 || t > red[i - 1]!)).toBe(true);
  expect(red.at(-1)! - red[0]!).toBeCloseTo(599 / 60, 2); // seconds, not the 1.8e9 an epoch time would make
  const events = Array.from((f.get("acquisition/rig_events/data") as { value: string[] }).value);
  const setAside = events.filter((e) => e.startsWith("dropped_frames [PlanarMicroscopySeriesRed]"));
  expect(setAside.length).toBeGreaterThanOrEqual(1);
  expect(setAside.length).toBeLessThanOrEqual(4);
  expect(events.filter((e) => e.startsWith("fault"))).toEqual([]);
}, 60_000);

it("a producer sending every plane of channel 0, then of channel 1 (channel-major) is not taken for a restarted clock", async () => {
  const { profile, rig } = await simulatedRig("sim-multiplane.yaml", outsideFrames(32));
  const out = tempPath("channel-major.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const sent = await produce({ address: frameAddress(profile), frames: 150, channels: 2, planes: 4, height: 32, width: 32, rate: 30, order: "channel-major" });
  await until(() => Object.values(session.status().samples).every((n) => n >= 150), "every plane's frames");
  const status = session.status();
  await session.stop();

  expect(sent).toMatchObject({ sent: 1200, failed: 0 });
  expect(Object.values(status.samples)).toEqual(Array.from({ length: 8 }, () => 150));
  expect(status.dropped).toBe(0);
  const f = await openRead(out);
  const events = Array.from((f.get("acquisition/rig_events/data") as { value: string[] } | null)?.value ?? []);
  expect(events.filter((e) => /restarted|clock/.test(e))).toEqual([]);
}, 60_000);

it("faster than a gzip writer: rigd holds the reading, the producer's sends fail, and each lost frame is a counted gap", async () => {
  const { profile, rig } = await simulatedRig("sim-2p.yaml", outsideFrames(512, (y) => y.replace("compression: none", "compression: gzip\n  gzip_level: 6")));
  const out = tempPath("backpressure.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  let queue = 0;
  const sampler = setInterval(() => (queue = Math.max(queue, session.status().queue_bytes)), 50);
  const sent = await produce({ address: frameAddress(profile), frames: 600, channels: 2, height: 512, width: 512, rate: 300, sendHighWaterMark: 16 });
  // The producer's last queued frames reach rigd after it ends; then every frame it did send is in.
  await until(() => Object.values(session.status().samples).reduce((a, b) => a + b, 0) >= sent.sent, "the frames sent", 60_000);
  clearInterval(sampler);
  const status = session.status();
  await session.stop();

  // Lost after a stream's last sent frame: no later frame shows that gap.
  const lastSent = [0, 1].map((ch) => Math.max(...Array.from({ length: 600 }, (_, c) => c).filter((c) => !sent.failedFrames.includes(`${c}/${ch}/0`))));
  const trailing = lastSent.reduce((n, last) => n + (599 - last), 0);
  console.log(`backpressure: producer sent ${sent.sent}, ${sent.failed} sends failed; rigd wrote ${JSON.stringify(status.samples)}, lost ${JSON.stringify(status.losses)}; queue peak ${(queue / 2 ** 20).toFixed(0)} MiB`);
  expect(sent.failed).toBeGreaterThan(0);
  expect(Object.values(status.samples).reduce((a, b) => a + b, 0)).toBe(sent.sent);
  for (const series of Object.values(status.losses)) expect(series.frames).toMatchObject({ implausible: 0, incomplete_volume: 0, not_written: 0 });
  expect(status.dropped + trailing).toBe(sent.failed);
  expect(queue).toBeLessThanOrEqual(160 * 2 ** 20);
  const f = await openRead(out);
  const events = Array.from((f.get("acquisition/rig_events/data") as { value: string[] }).value).filter((e) => e.startsWith("dropped_frames"));
  // Per burst, never one entry per frame: at most one per series a second, plus the first of each.
  expect(events.length).toBeLessThanOrEqual(2 * (Math.ceil(status.elapsed_s) + 2));
}, 120_000);

// Its send queue fills while rigd is not there, and it drops the rest; when rigd binds, the queue drains at once.
// 64² frames: the backlog fits rigd's calibration hold. 512² frames and a longer head start: the older frames must be
// known as from before the start as they drain. (2048² frames, whose backlog outgrows the hold, are covered in
// stages.test.ts: through a real producer here the head start did not reliably build a backlog on a loaded CI.)
it.each([
  { size: 64, headStartMs: 3000, frames: 450, rate: 30, queue: 100 },
  { size: 512, headStartMs: 6000, frames: 600, rate: 30, queue: 100 },
])("a producer already streaming before rigd listens ($size² frames, $headStartMs ms ahead): its backlog is counted as before the start, the live frames are all recorded and timed right", async ({ size, headStartMs, frames, rate, queue }) => {
  const checked = parseRigProfile(outsideFrames(size)(readFileSync("profiles/sim-2p.yaml", "utf8")), "sim-2p.yaml");
  if (!checked.ok) throw new Error("profile");
  const address = `tcp://127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}`;
  const profile = { ...checked.value, bindings: checked.value.bindings.map((b) => (b.driver === "zmq-frames" ? { ...b, address } : b)) };
  const producing = produce({ address, frames, channels: 2, rate, height: size, width: size, sendHighWaterMark: queue });
  await new Promise((r) => setTimeout(r, headStartMs));
  const running = await openRig(profile);
  try {
    const out = tempPath("already-streaming.nwb");
    const session = await Session.start({ profile, metadata, out, overwrite: false, devices: running.rig });
    const sent = await producing;
    await until(() => (session.status().samples["PlanarMicroscopySeriesGreen"] ?? 0) > 0 && session.status().queue_bytes === 0, "the frames", 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const status = session.status();
    await session.stop();
    console.log(`already streaming, ${size}²: producer sent ${sent.sent}, ${sent.failed} sends failed; ${status.frames_before_start} frames before the start; file ${JSON.stringify(status.samples)}; lost ${JSON.stringify(status.losses)}`);

    expect(sent.failed).toBeGreaterThan(0);
    expect(status.frames_before_start).toBeGreaterThan(0);
    for (const series of Object.values(status.losses)) expect(series.frames).toMatchObject({ implausible: 0, incomplete_volume: 0, not_written: 0 });
    const { counters, timestamps } = await readSeries(out, "PlanarMicroscopySeriesGreen");
    // From the first frame recorded to the last sent, every counter is in the file, or failed at the producer.
    const failed = new Set(sent.failedFrames.filter((f) => f.endsWith("/0/0")).map((f) => Number(f.split("/")[0])));
    const expected = Array.from({ length: frames - counters[0]! }, (_, k) => counters[0]! + k).filter((c) => !failed.has(c));
    expect(counters).toEqual(expected);
    // Timed by the producer's clock, not by the backlog's burst. It sends counter c at c / rate after its start, the
    // moment the frame begins; rigd dates a frame one interval before its fastest delivery, so each frame's time is
    // its true one (the producer's clock on the session's) less about one interval, whatever the backlog.
    const f = await openRead(out);
    const sessionStartMs = Date.parse((f.get("session_start_time") as { value: string }).value);
    const lateness = timestamps.map((t, i) => (sent.startedMs - sessionStartMs) / 1000 + counters[i]! / rate - t);
    console.log(`time − true: ${Math.min(...lateness).toFixed(3)} … ${Math.max(...lateness).toFixed(3)} s`);
    for (const l of lateness) expect(l).toBeGreaterThan(-0.01);
    for (const l of lateness) expect(l).toBeLessThan(2 / rate + 0.05);
    // The backlog is not the session's: its first frame began after the start (within the frame it is dated to).
    expect(timestamps[0]!).toBeGreaterThanOrEqual(0);
    expect(lateness[0]! - timestamps[0]!).toBeLessThan(2 / rate + 0.05);
  } finally {
    await running.close();
  }
}, 90_000);

it("fast-z with a flyback frame per volume: declared in the profile, counted, kept out of the planes and out of the rejects", async () => {
  const flyback = (yaml: string) => yaml.replace("plane_count: 4", "plane_count: 4\n      flyback_planes: 1");
  const { profile, rig } = await simulatedRig("sim-multiplane.yaml", outsideFrames(32, flyback));
  const out = tempPath("flyback.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const sent = await produce({ address: frameAddress(profile), frames: 100, channels: 2, planes: 4, flyback: 1, height: 32, width: 32, rate: 30 });
  await until(() => Object.values(session.status().samples).every((n) => n >= 100), "every plane's frames");
  const status = session.status();
  const counts = rig.frameSources.get("ScanFrames")!.counts;
  await session.stop();

  expect(sent).toMatchObject({ sent: 1000, failed: 0 });
  expect(Object.values(status.samples)).toEqual(Array.from({ length: 8 }, () => 100));
  expect(status).toMatchObject({ flyback_frames: 200, unrecorded_frames: 0, dropped: 0 });
  expect(counts.rejected).toBe(0);
  const f = await openRead(out);
  const events = Array.from((f.get("acquisition/rig_events/data") as { value: string[] } | null)?.value ?? []);
  expect(events.filter((e) => /garbage|plane must be/.test(e))).toEqual([]);
  const description = (f.get("acquisition/MultiPlaneMicroscopyContainerGreen/PlanarMicroscopySeriesGreenPlane0") as { attrs: Record<string, { value: unknown }> }).attrs["description"]!.value;
  expect(description).toMatch(/The 1 flyback frame ScanFrames sends after the 4 imaged planes of each volume is not stored\.$/);
}, 60_000);
