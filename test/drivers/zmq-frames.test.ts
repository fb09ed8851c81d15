// The zmq-frames receiver against a real ZeroMQ PUSH socket and the scanner simulator in this process:
// validation, frames nobody listens to, zero-copy frames, scanner state, realistic rates, and backpressure.
// Counter gaps are the session's to judge: these tests count them with the engine's own stage.
import type { Observable } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { type Loss, recordGaps, routeKey, tagAndTime } from "../../src/acquisition/stages.js";
import { Push } from "zeromq";
import type { DeviceEvent } from "../../src/drivers/device.js";
import type { Frame, ScannerState } from "../../src/drivers/frame-source.js";
import { decodeFrame, ZmqFrameSource, type ZmqFrameOptions } from "../../src/drivers/zmq-frames.js";
import { MessageChannel } from "node:worker_threads";
import { FrameSlots, slotOf } from "../../src/frame-slots.js";
import { hardwareClock, LIGHT_SHEET, malformedMessages, ScannerSimulator } from "../../simulators/zmq-scanner.js";

const SPEC = { frame_shape: [4, 6], data_type: "uint16", channel_count: 2, plane_count: 2 } as const;
const opened: { close(): unknown }[] = [];

afterEach(async () => {
  for (const s of opened.splice(0).reverse()) await s.close();
});

async function receiver(options: Partial<ZmqFrameOptions> = {}) {
  const source = new ZmqFrameSource({ address: "tcp://127.0.0.1:*", ...SPEC, reportIntervalMs: 100, ...options });
  const frames: Frame[] = [];
  const events: DeviceEvent[] = [];
  const states: ScannerState[] = [];
  source.frames$.subscribe((f) => frames.push(f));
  source.events$.subscribe((e) => events.push(e));
  source.state$.subscribe((s) => states.push(s.state));
  await source.connect();
  opened.push(source);
  return { source, frames, events, states };
}

function producer(address: string): Push {
  const socket = new Push({ linger: 1000 });
  socket.connect(address);
  opened.push(socket);
  return socket;
}

/** A valid protocol v1 message for SPEC, pixels 0, 1, 2… plus `fill`. */
function message(fields: { counter: number; channel?: number; plane?: number; scanner?: ScannerState }, fill = 0): Buffer[] {
  const header = { version: 1, hardware_time_s: fields.counter / 30, channel: 0, plane: 0, shape: SPEC.frame_shape, dtype: SPEC.data_type, ...fields };
  return [Buffer.from(JSON.stringify(header)), Buffer.from(Uint16Array.from({ length: 24 }, (_, i) => i + fill).buffer)];
}

/** Frames the producer's counters say never arrived, per (channel, plane), judged as a session judges them. */
function gapsOf(frames$: Observable<Frame>, channels: number, planes: number): { missing: number } {
  const routes = new Map(Array.from({ length: channels * planes }, (_, k) => [routeKey("s", Math.floor(k / planes), k % planes), { series: `${k}`, depths: 0 }] as const));
  const counted = { missing: 0 };
  const lose = (l: Loss) => (counted.missing += l.cause === "producer_gap" ? l.frames : 0);
  frames$.pipe(tagAndTime("s", routes, Date.now(), "hardware", () => undefined, () => undefined, lose, () => undefined), recordGaps(lose)).subscribe();
  return counted;
}

async function until(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("decodeFrame", () => {
  it("takes a source's flyback frames as the planes after its imaged ones, and no further", () => {
    const spec = { ...SPEC, flyback_planes: 1 };
    const plane = (p: number) => decodeFrame(message({ counter: 0, plane: p }), spec);
    expect("frame" in plane(2) && plane(2)).toMatchObject({ frame: { plane: 2 } });
    expect(plane(3)).toEqual({ reason: "field", message: "plane must be a whole number below plane_count 2 + flyback_planes 1, got 3" });
    expect(decodeFrame(message({ counter: 0, plane: 2 }), SPEC)).toEqual({ reason: "field", message: "plane must be a whole number below plane_count 2, got 2" });
  });

  it("copies the pixels once, into a buffer of their own or the place given, at any offset", () => {
    const bytes = new ArrayBuffer(8 + 48);
    const payload = Buffer.from(bytes, 8, 48);
    new Uint16Array(bytes, 8, 24).set(Array.from({ length: 24 }, (_, i) => 100 + i));
    const decoded = decodeFrame([message({ counter: 3 })[0]!, payload], SPEC);
    if ("reason" in decoded) throw new Error(decoded.message);
    expect(decoded.frame.data).toBeInstanceOf(Uint16Array);
    expect(decoded.frame.data.byteOffset).toBe(0);
    expect(decoded.frame.data.buffer.byteLength).toBe(48);
    expect(decoded.frame.data[23]).toBe(123);
    expect(decoded.frame).toMatchObject({ counter: 3, channel: 0, plane: 0, shape: [4, 6], dtype: "uint16" });
    // An odd offset, which no Uint16Array can view, is the same copy.
    const odd = Buffer.from(new ArrayBuffer(49), 1, 48);
    odd.writeUInt16LE(0xbeef, 46);
    const oddDecoded = decodeFrame([message({ counter: 0 })[0]!, odd], SPEC);
    if ("reason" in oddDecoded) throw new Error(oddDecoded.message);
    expect(oddDecoded.frame.data[23]).toBe(0xbeef);
    // Or into the place given, as the receiving thread gives a frame slot: the frame is that slot.
    const slots = FrameSlots.create(48, 0, 1);
    const slot = slots.view(slots.acquire(48)!, Uint16Array);
    const placed = decodeFrame([message({ counter: 1 })[0]!, payload], SPEC, () => slot);
    if ("reason" in placed) throw new Error(placed.message);
    expect(placed.frame.data).toBe(slot);
    expect(slot[23]).toBe(123);
    slots.detach();
  });

  it("takes frames without hardware_time_s only from a source declared to have no clock", () => {
    const [head, pixels] = message({ counter: 3 });
    const timeless = Buffer.from(JSON.stringify({ ...JSON.parse(head!.toString()), hardware_time_s: undefined }));
    expect(decodeFrame([timeless, pixels!], SPEC)).toEqual({ reason: "field", message: "hardware_time_s must be a number of seconds, got undefined" });
    const decoded = decodeFrame([timeless, pixels!], { ...SPEC, clock: "arrival" });
    if ("reason" in decoded) throw new Error(decoded.message);
    expect(decoded.frame.hardware_time_s).toBeUndefined();
    expect(decoded.frame.received_time).toBeCloseTo(performance.timeOrigin + performance.now(), -2);
    // A source without a clock that sends one anyway must still send a number.
    const bad = Buffer.from(JSON.stringify({ ...JSON.parse(head!.toString()), hardware_time_s: "soon" }));
    expect(decodeFrame([bad, pixels!], { ...SPEC, clock: "arrival" })).toEqual({ reason: "field", message: 'hardware_time_s must be a number of seconds or absent, got "soon"' });
  });

});

describe("ZeroMQ frame source", () => {
  it("rejects, counts and reports every kind of malformed message, and the stream goes on", async () => {
    const { source, frames, events } = await receiver();
    const push = producer(source.endpoint!);
    const bad = malformedMessages({ channels: 2, planes: 2, height: 4, width: 6, dtype: "uint16" });
    await push.send(message({ counter: 0 }));
    for (const { parts } of bad) await push.send(parts);
    await push.send(message({ counter: 1 }));
    await until(() => source.counts.rejected + source.counts.frames === bad.length + 2, "every message");

    const expected = { parts: 0, header: 0, version: 0, field: 0, dtype: 0, shape: 0, size: 0 };
    for (const { reason } of bad) expected[reason]++;
    expect(source.counts).toMatchObject({ frames: 2, rejected: bad.length, unobserved: 0, rejected_by_reason: expected });
    expect(frames.map((f) => f.counter)).toEqual([0, 1]);
    // The first of each reason at once; the rest summed at the end of the report interval.
    await until(() => events.filter((e) => e.message.includes("more like this")).length === 6, "the summaries");
    const garbage = events.filter((e) => e.kind === "garbage").map((e) => e.message);
    expect(garbage.filter((m) => !m.includes("more like this"))).toHaveLength(7);
    expect(garbage).toContainEqual(expect.stringContaining("rejected a message (dtype): unknown dtype \"uint12\""));
    expect(garbage).toContainEqual(expect.stringContaining("(size): the pixels are 47 bytes, a 4×6 uint16 frame is 48"));
    expect(garbage).toContainEqual(expect.stringContaining("(shape): shape [0,6] is not [height, width] in whole pixels from 1 to 65536"));
    expect(garbage).toContainEqual(expect.stringMatching(/3 more like this within 100 ms, the latest: .*\(shape\): shape \[4, 7\], but this source delivers \[4, 6\]/));
  });

  it("counts the frames that arrive while nothing listens, and lets them go; a listener gets every frame after", async () => {
    const source = new ZmqFrameSource({ address: "tcp://127.0.0.1:*", ...SPEC, reportIntervalMs: 100 });
    await source.connect();
    opened.push(source);
    const push = producer(source.endpoint!);
    for (let counter = 0; counter < 5; counter++) await push.send(message({ counter }));
    await until(() => source.counts.unobserved === 5, "the unobserved frames");
    const frames: Frame[] = [];
    const listening = source.frames$.subscribe((f) => frames.push(f));
    for (let counter = 5; counter < 8; counter++) await push.send(message({ counter }));
    await until(() => frames.length === 3, "the frames");
    listening.unsubscribe();
    expect(frames.map((f) => f.counter)).toEqual([5, 6, 7]);
    expect(source.counts).toMatchObject({ frames: 3, unobserved: 5, rejected: 0 });
  });

  it("marks the frames that were already waiting in its queue when it came to read them (held, or sent in a burst), and not those it waited for", async () => {
    const { source, frames } = await receiver();
    const push = producer(source.endpoint!);
    // Each sent once the one before is in: rigd waited for every one.
    for (let counter = 0; counter < 3; counter++) {
      await push.send(message({ counter }));
      await until(() => frames.length === counter + 1, `frame ${counter}`);
    }
    // Held (a slow writer): what comes meanwhile waits in the socket; the first was taken as it came.
    let release!: () => void;
    source.hold(new Promise<void>((r) => (release = r)));
    for (let counter = 3; counter < 7; counter++) await push.send(message({ counter }));
    await new Promise((r) => setTimeout(r, 300));
    release();
    await until(() => frames.length === 7, "the held frames");
    await new Promise((r) => setTimeout(r, 100));
    await push.send(message({ counter: 7 }));
    await until(() => frames.length === 8, "the frame after");
    expect(frames.map((f) => f.counter)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(frames.map((f) => f.queued)).toEqual([false, false, false, false, true, true, true, false]);
  });

  it("delivers the pixels that were sent and reports the scanner state once and on every change", async () => {
    const { source, frames, states } = await receiver();
    const push = producer(source.endpoint!);
    const resonant = { line_rate_Hz: 15820, scan_direction: "horizontal", bidirectional: true, pixel_size_um: [0.98, 0.98], zoom: 2 } as const;
    await push.send(message({ counter: 0, scanner: resonant }, 1000));
    await push.send(message({ counter: 1, scanner: resonant }));
    await push.send(message({ counter: 2, scanner: { ...resonant, zoom: 4, pixel_size_um: [0.49, 0.49] } }));
    await push.send(message({ counter: 3 }));
    await until(() => frames.length === 4, "the frames");

    expect(Array.from(frames[0]!.data)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1000));
    expect(frames[0]!.hardware_time_s).toBe(0);
    expect(frames[0]!.received_time).toBeGreaterThan(Date.now() - 5000);
    expect(states).toEqual([resonant, { ...resonant, zoom: 4, pixel_size_um: [0.49, 0.49] }]);
    expect(source.scanner).toEqual(states[1]);
    // A received frame is a view of a shared slot: another thread given it sees the same memory, no copy made.
    expect(frames[3]!.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(slotOf(frames[3]!.data)).toBeDefined();
    const { port1, port2 } = new MessageChannel();
    const arrived = new Promise<Uint16Array>((resolve) => port2.once("message", resolve));
    port1.postMessage(frames[3]!.data);
    const there = await arrived;
    expect(Array.from(there)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    there[0] = 999;
    expect(frames[3]!.data[0]).toBe(999);
    port2.close();
    port1.close();
  });

  it("reports a producer that goes away, and refuses an address already bound", async () => {
    const { source, events } = await receiver();
    const push = producer(source.endpoint!);
    await push.send(message({ counter: 0 }));
    await until(() => source.counts.frames === 1, "the frame");
    push.close();
    await until(() => events.some((e) => e.kind === "disconnected"), "the disconnection");

    const second = new ZmqFrameSource({ address: source.endpoint!, ...SPEC });
    await expect(second.connect()).rejects.toThrow(`frame source cannot bind ${source.endpoint}`);
  });
});

describe("scanner simulator into the frame source", () => {
  it("scans 512 lines at the resonant scanner's 30.9 frames/s, with its state in every header", async () => {
    const geometry = { channels: 2, planes: 1, height: 512, width: 512, dtype: "uint16" } as const;
    const { source, frames, states } = await receiver({ frame_shape: [512, 512], channel_count: 2, plane_count: 1 });
    const scanner = new ScannerSimulator({ address: source.endpoint!, geometry });
    const started = Date.now();
    const summary = await scanner.run(2 * 31);
    await until(() => frames.length === summary.sent, "the frames");
    const seconds = (Date.now() - started) / 1000;

    // A loaded machine may lose acquisitions it could not render in time, as a digitizer overruns; none other.
    expect(summary).toMatchObject({ frames: 62, dropped_queue_full: 0, dropped_injected: 0 });
    expect(summary.sent + summary.dropped_late).toBe(62);
    expect(scanner.planeRate_Hz).toBeCloseTo(30.9, 1);
    // Paced like hardware, not as fast as it can: a loaded machine may fall behind, never run ahead.
    expect(seconds).toBeGreaterThan(0.95);
    const green = frames.filter((f) => f.channel === 0);
    expect(green[0]!.counter).toBe(0);
    expect(green.at(-1)!.counter).toBe(30);
    // On the scanner's own clock: microsecond ticks of a clock a few ppm off, as a digitizer stamps frames.
    for (const f of green) expect(f.hardware_time_s).toBe(hardwareClock(f.counter * (512 / 15820)));
    const intervals = new Set(green.slice(1).map((f, i) => Math.round((f.hardware_time_s! - green[i]!.hardware_time_s!) * 1e6)));
    expect(intervals.size).toBeGreaterThan(1);
    expect(states).toEqual([{ line_rate_Hz: 15820, scan_direction: "horizontal", bidirectional: true, pixel_size_um: [500 / 512, 500 / 512], zoom: 2 }]);
  });

  it("steps through the planes of a light-sheet volume at 100 planes/s", async () => {
    const geometry = { channels: 1, planes: 5, height: 32, width: 48, dtype: "float32" } as const;
    const { source, frames, states } = await receiver({ frame_shape: [32, 48], data_type: "float32", channel_count: 1, plane_count: 5 });
    const summary = await new ScannerSimulator({ address: source.endpoint!, geometry, timing: LIGHT_SHEET }).run(20);
    await until(() => frames.length === summary.sent, "the frames");

    expect(summary.seconds).toBeGreaterThan(0.18);
    expect(summary.sent + summary.dropped_late).toBe(20);
    expect(frames.map((f) => f.hardware_time_s)).toEqual(frames.map((f) => hardwareClock((f.counter * 5 + f.plane) / 100)));
    expect(frames[0]!.data).toBeInstanceOf(Float32Array);
    expect(states).toEqual([{ pixel_size_um: [500 / 48, 500 / 32], zoom: 2 }]);
  });

  it("frames it loses on purpose arrive as gaps: every frame received or accounted for", async () => {
    const geometry = { channels: 2, planes: 2, height: 16, width: 64, dtype: "uint16" } as const;
    const { source } = await receiver({ frame_shape: [16, 64] });
    const gaps = gapsOf(source.frames$, 2, 2);
    const summary = await new ScannerSimulator({ address: source.endpoint!, geometry, dropProbability: 0.1, seed: 5 }).run(800);
    await until(() => source.counts.frames === summary.sent, "the frames");

    expect(summary.dropped_injected).toBeGreaterThan(40);
    expect(source.counts.frames + gaps.missing).toBe(800);
    expect(gaps.missing).toBe(summary.dropped_injected + summary.dropped_late);
  });

  it("hold() passes a slow consumer's backpressure to the scanner, which loses frames the counter accounts for", async () => {
    const geometry = { channels: 1, planes: 1, height: 64, width: 512, dtype: "uint16" } as const;
    // A queue of 4 frames on either side: what stays in flight is those and the kernel's socket buffers.
    const { source, frames } = await receiver({ frame_shape: [64, 512], channel_count: 1, plane_count: 1, queueBytes: 4 * 64 * 1024 });
    const gaps = gapsOf(source.frames$, 1, 1);
    source.frames$.subscribe(() => source.hold(new Promise((r) => setTimeout(r, 20))));
    const summary = await new ScannerSimulator({ address: source.endpoint!, geometry, queueFrames: 4 }).run(300);
    await until(() => source.counts.frames === summary.sent, "the queued frames", 10_000);

    expect(summary.dropped_queue_full).toBeGreaterThan(50);
    const trailing = 299 - frames.at(-1)!.counter; // lost after the last frame: no later frame shows the gap
    expect(gaps.missing + trailing).toBe(summary.dropped_queue_full + summary.dropped_late);
  });
});
