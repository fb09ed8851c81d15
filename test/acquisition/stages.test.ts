// The engine's stages on hand-made frames: timing, drop accounting, volume assembly, the bounded queue.
import { from, lastValueFrom, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { LossRecorder } from "../../src/acquisition/losses.js";
import { type EngineEvent, type Loss, type Route, type Sample, assembleVolumes, boundedWrite, recordGaps, routeKey, tagAndTime } from "../../src/acquisition/stages.js";
import type { Frame } from "../../src/drivers/frame-source.js";

const frame = (counter: number, plane: number, fill: number, extra: Partial<Frame> = {}): Frame => ({
  counter,
  hardware_time_s: 100 + counter * 0.01,
  channel: 0,
  plane,
  shape: [2, 3],
  dtype: "uint16",
  data: Uint16Array.from({ length: 6 }, (_, k) => fill * 10 + k),
  received_time: 1_000_500 + counter * 10,
  ...extra,
});

describe("engine stages", () => {
  it("tag + time: hardware time on the session clock, the offset from the fastest of the first arrivals less a frame interval; unrouted frames counted", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const stray: Frame[] = [];
    // Frames begin every 10 ms and are delivered once scanned. The first arrives 300 ms late (a busy host),
    // the second promptly: 10 ms after it began.
    const late = frame(0, 0, 1, { received_time: 1_000_800 });
    const prompt = frame(1, 0, 2, { received_time: 1_000_520 });
    const out = await lastValueFrom(from([late, prompt, frame(2, 1, 3)]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", (f) => stray.push(f), () => undefined, () => undefined, () => undefined), toArray()));
    expect(out.map((t) => t.series)).toEqual(["Green", "Green"]);
    // The prompt frame (began at hardware 100.01 s, delivered 0.52 s into the session) fixes the offset:
    // it began at 0.51 s. The late one would have said 0.79 s.
    expect(out[0]!.time).toBeCloseTo(0.5, 9);
    expect(out[1]!.time).toBeCloseTo(0.51, 9);
    expect(stray.map((f) => f.plane)).toEqual([1]);
  });

  it("tag + time: a restarted acquisition (counter and clock from 0, confirmed by the next frame) is related anew; a duplicate is set aside", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const events: EngineEvent[] = [];
    const losses: Loss[] = [];
    // 30 frames calibrate (each delivered as it ends; the camera's clock had run 100 s before), then a duplicate of
    // the last, then the acquisition restarts: hardware time and counter from 0 again, 2 s later on the host. What
    // the old clock said of the offset says nothing of the new one's.
    const first = Array.from({ length: 30 }, (_, c) => frame(c, 0, c, { hardware_time_s: 100 + c * 0.01, received_time: 1_000_010 + c * 10 }));
    const duplicate = { ...first[29]!, received_time: 1_000_400 };
    const again = Array.from({ length: 30 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_002_510 + c * 10 }));
    const out = await lastValueFrom(from([...first, duplicate, ...again]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    expect(out).toHaveLength(60);
    expect(out[29]!.time).toBeCloseTo(0.29, 9);
    expect(out[30]!.time).toBeCloseTo(2.5, 9); // the restarted clock's offset, from its own first frames
    expect(out.every((t) => t.missing_before === 0)).toBe(true);
    expect(losses.map((l) => [l.cause, l.frames, l.detail])).toEqual([["implausible", 1, "channel 0 plane 0 counter 29 (hardware time 100.29 s): its counter does not advance from 29"]]);
    expect(events.map((e) => e.message)).toEqual(["channel 0 plane 0: the acquisition restarted (counter 29 → 0, clock 100.29 s → 0 s): relating the hardware clock to the session clock anew"]);
  });

  it("tag + time: one frame with an impossible counter or clock is set aside; the stream goes on as before, gaps counted", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    // Frames every 10 ms, delivered as they end; counters 40 and 41 never came (a real gap).
    const good = Array.from({ length: 60 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_000_010 + c * 10 })).filter((f) => f.counter !== 40 && f.counter !== 41);
    const rogue = [
      frame(1_000_000, 0, 0, { hardware_time_s: 0.355, received_time: 1_000_365 }), // a counter from nowhere
      frame(36, 0, 0, { hardware_time_s: 1.7e9, received_time: 1_000_366 }), // Unix time in place of the digitizer's
      frame(2 ** 53 - 1, 0, 0, { hardware_time_s: 0.455, received_time: 1_000_465 }),
    ];
    const stream = [...good.slice(0, 35), rogue[0]!, rogue[1]!, ...good.slice(35, 43), rogue[2]!, ...good.slice(43)];
    const out = await lastValueFrom(from(stream).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    expect(out.map((t) => t.frame.counter)).toEqual(good.map((f) => f.counter));
    expect(out.map((t) => t.missing_before).filter((n) => n > 0)).toEqual([2]);
    expect(out.every((t, i) => i === 0 || t.time > out[i - 1]!.time)).toBe(true);
    expect(out.at(-1)!.time).toBeCloseTo(0.59, 9);
    expect(losses.map((l) => [l.cause, l.detail.replace(/:.*/, "")])).toEqual([
      ["implausible", "channel 0 plane 0 counter 1000000 (hardware time 0.355 s)"],
      ["implausible", "channel 0 plane 0 counter 36 (hardware time 1700000000 s)"],
      ["implausible", "channel 0 plane 0 counter 9007199254740991 (hardware time 0.455 s)"],
    ]);
    expect(losses[1]!.detail).toMatch(/its hardware time dates it 1699999999.\d s after it arrived/);
    expect(events).toEqual([]);
  });

  // Small frames: the whole backlog fits the calibration's hold. 1 MiB frames: 32 fill it (CALIBRATION_MAX_BYTES), so
  // the backlog's older frames must be proven to be from before the start as it drains, not used to calibrate.
  it.each([{ pixels: 6 }, { pixels: 2 ** 19 }])("tag + time: a backlog the producer queued before the session is not taken for the clock: its frames are counted as before the start, the live ones timed right ($pixels pixels a frame)", async ({ pixels }) => {
    const data = new Uint16Array(pixels);
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    let early = 0;
    // The producer's clock read 0 s 3.99 s before the session started (host ms 1 000 000). It queued counters
    // 0–99 (33 ms apart) while nobody listened; they arrive together 50 ms into the session. Its queue being
    // full, it lost 100–129, of which 100–119 began before the session; from 130 on, each arrives as it ends.
    const backlog = Array.from({ length: 100 }, (_, c) => frame(c, 0, c, { hardware_time_s: c / 30, received_time: 1_000_050 + c * 0.01, data }));
    const live = Array.from({ length: 60 }, (_, k) => 130 + k).map((c) => frame(c, 0, c, { hardware_time_s: c / 30, received_time: 996_010 + ((c + 1) / 30) * 1000 + 2, data }));
    const out = await lastValueFrom(from([...backlog, ...live]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), (n) => (early += n)), toArray()));
    expect(early).toBe(100); // received; the 20 lost at the producer before the start are neither received nor the session's loss
    expect(out.map((t) => t.frame.counter)).toEqual(live.map((f) => f.counter));
    // On the session clock: began 3.99 s after the producer's clock read 0, to within the 2 ms of delivery.
    for (const t of out) expect(Math.abs(t.time - (t.frame.hardware_time_s! - 3.99))).toBeLessThan(0.003);
    expect(out[0]!.missing_before).toBe(10);
    expect(losses).toEqual([]);
    expect(events).toEqual([]);
  });

  it("tag + time: a backlog of 8 MiB frames larger than the calibration's hold: older frames let go while it drains, each then counted as before the start or lost; the clock set after it", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    let early = 0;
    const data = new Uint16Array(2 ** 22); // 8 MiB: the hold (128 MiB) takes 16
    // A 20 Hz camera whose clock read 0 s 4 s before the session started. It queued counters 0–99 but 84–85 and lost
    // 100–119 (queue full); the backlog arrives 8.3 ms apart from 0.5 s into the session, then each frame as it ends.
    // Counters up to 79 began before the start; 80–99 after it, though they came in the burst.
    const at = (ms: number) => 1_000_000 + ms;
    const backlog = Array.from({ length: 100 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: at(500 + c * 8.3), data })).filter((f) => f.counter !== 84 && f.counter !== 85);
    const live = Array.from({ length: 60 }, (_, k) => 120 + k).map((c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: at(-4000 + (c + 1) * 50 + 2), data }));
    const out = await lastValueFrom(from([...backlog, ...live]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined, (l) => losses.push(l), (n) => (early += n)), toArray()));
    expect(early).toBe(80);
    const let_go = losses.filter((l) => l.cause === "backlog");
    const gaps = losses.filter((l) => l.cause === "producer_gap");
    expect(losses.filter((l) => l.cause !== "backlog" && l.cause !== "producer_gap")).toEqual([]);
    const recorded = out.map((t) => t.frame.counter);
    // Every counter after the start is recorded or counted as let go, in order, each once; and the counters that
    // never came are counted, whether the frame after them was let go (a loss here) or recorded (missing_before).
    expect([...let_go.map((l) => Number(/counter (\d+)/.exec(l.detail)![1])), ...recorded]).toEqual([...Array.from({ length: 20 }, (_, k) => 80 + k).filter((c) => c !== 84 && c !== 85), ...live.map((f) => f.counter)]);
    expect(gaps.reduce((n, l) => n + l.frames, 0) + out.reduce((n, t) => n + t.missing_before, 0)).toBe(2 + 20);
    expect(gaps.map((l) => l.detail)).toEqual(["counters 84–85 never came, before 86 on channel 0 plane 0"]);
    // The hold keeps the burst's last frames (16, less the first live ones that show it has drained): the rest of
    // the burst after the start is let go, and said.
    expect(let_go.length).toBeGreaterThan(0);
    expect(recorded[0]).toBeLessThan(100);
    // Timed on the camera's clock: began c × 50 ms − 4 s, to within the 2 ms of delivery.
    for (const t of out) expect(Math.abs(t.time - (t.frame.counter * 0.05 - 4))).toBeLessThan(0.003);
    for (const l of let_go) expect(l.time).toBeGreaterThanOrEqual(0);
  });

  it("tag + time: a backlog of 8 MiB frames that rigd reads no faster than it was acquired, out of its own queue, is counted as before the start; the clock is set from the live frames after it", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    let early = 0;
    const data = new Uint16Array(2 ** 22); // 8 MiB: the hold (128 MiB) takes 16
    // A 20 Hz camera whose clock read 0 s 4 s before the session started queued counters 0–19 and lost 20–104 (its
    // queue full). A busy rigd reads the 20 from 0.3 s into the session, 48.8 ms apart: as if 4.3 s late and live,
    // but each after the first was waiting in rigd's queue. Then the camera's frames come as each ends, 2 ms later.
    const at = (ms: number) => 1_000_000 + ms;
    const backlog = Array.from({ length: 20 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: at(300 + c * 48.8), queued: c > 0, data }));
    const live = Array.from({ length: 40 }, (_, k) => 105 + k).map((c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: at(-4000 + (c + 1) * 50 + 2), queued: false, data }));
    const out = await lastValueFrom(from([...backlog, ...live]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), (n) => (early += n)), toArray()));
    // Every frame of the backlog began before the start; the live frames are all recorded, on the camera's clock.
    expect(early).toBe(20);
    expect(out.map((t) => t.frame.counter)).toEqual(live.map((f) => f.counter));
    for (const t of out) expect(Math.abs(t.time - (t.frame.counter * 0.05 - 4))).toBeLessThan(0.003);
    // Of the 85 the camera lost, those that began after the start (80–104) are the session's, before counter 105.
    expect(out[0]!.missing_before).toBe(25);
    expect(losses).toEqual([]);
    expect(events).toEqual([]);
  });

  it("tag + time: a counter gap across the start counts as the session's only the frames that began after it, though the frame before it was known early by a bound on the offset", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    let early = 0;
    // A 20 Hz camera whose clock read 0 s 4.3521 s before the session started queued counters 0–49 and lost 50–93.
    // The backlog comes in a burst 0.1 s in; then each frame 2 ms after it ends. Of 50–93, 88–93 began after the
    // start (87 began 0.1 ms before it). Counter 49 is known early from the live frames' deliveries, before the
    // clock is set: on a bound one interval above the offset, which once made the session's share 7.
    const start = 4.3521;
    const backlog = Array.from({ length: 50 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: 1_000_100 + c * 0.01 }));
    const live = Array.from({ length: 40 }, (_, k) => 94 + k).map((c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: 1_000_000 + ((c + 1) * 0.05 - start) * 1000 + 2 }));
    const out = await lastValueFrom(from([...backlog, ...live]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined, () => undefined, (n) => (early += n)), toArray()));
    expect(early).toBe(50);
    expect(out.map((t) => t.frame.counter)).toEqual(live.map((f) => f.counter));
    expect(out[0]!.missing_before).toBe(6);
    for (const t of out) expect(Math.abs(t.time - (t.frame.counter * 0.05 - start))).toBeLessThan(0.003);
  });

  it("tag + time: a source whose frames all wait in rigd's queue is timed from them once the hold has let as much go again, and the event record says so", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    const data = new Uint16Array(2 ** 22);
    // 20 Hz from the session's start, each frame read 100 ms after it ends, always out of rigd's queue.
    const frames = Array.from({ length: 60 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.05, received_time: 1_000_000 + (c + 1) * 50 + 100, queued: true, data }));
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    // 16 held, 16 let go and counted, then the clock is set from the 16 held: the rest recorded, 100 ms late.
    const letGo = losses.filter((l) => l.cause === "backlog");
    expect(losses.length).toBe(letGo.length);
    expect(letGo.map((l) => Number(/counter (\d+)/.exec(l.detail)![1]))).toEqual(Array.from({ length: 16 }, (_, c) => c));
    expect(out.map((t) => t.frame.counter)).toEqual(frames.slice(16).map((f) => f.counter));
    for (const t of out) expect(t.time).toBeCloseTo(t.frame.counter * 0.05 + 0.1, 9);
    expect(events.map((e) => e.kind)).toEqual(["fault"]);
    expect(events[0]!.message).toMatch(/from frames that had waited in rigd's queue/);
  });

  it("tag + time: small frames that all wait in rigd's queue (a slow writer) are timed from the first 60, nothing let go, and the event record says so", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    const frames = Array.from({ length: 100 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_000_000 + (c + 1) * 10 + 40, queued: c > 0 }));
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    expect(out.map((t) => t.frame.counter)).toEqual(frames.map((f) => f.counter));
    for (const t of out) expect(t.time).toBeCloseTo(t.frame.counter * 0.01 + 0.04, 9);
    expect(losses).toEqual([]);
    expect(events.map((e) => [e.kind, e.time])).toEqual([["fault", expect.closeTo(0.64, 9)]]);
  });

  it("tag + time: channels sent at once (the second waiting in rigd's queue behind the first) are no burst: timed at once, nothing let go", async () => {
    const routes = new Map<string, Route>([
      [routeKey("scan", 0, 0), { series: "Green", depths: 0 }],
      [routeKey("scan", 1, 0), { series: "Red", depths: 0 }],
    ]);
    const losses: Loss[] = [];
    const events: EngineEvent[] = [];
    const data = new Uint16Array(2 ** 22);
    const frames = Array.from({ length: 20 }, (_, c) => [0, 1].map((channel) => frame(c, 0, c, { channel, hardware_time_s: c * 0.05, received_time: 1_000_000 + (c + 1) * 50 + 2 + channel, queued: channel === 1, data }))).flat();
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    expect(out).toHaveLength(40);
    // Dated one interval before the fastest delivery: each began 2 ms before that.
    for (const t of out) expect(t.time).toBeCloseTo(t.frame.counter * 0.05 + 0.002, 9);
    expect(losses).toEqual([]);
    expect(events).toEqual([]);
  });

  it("tag + time: a first frame with a wrong clock (Unix time) is set aside at calibration and proves nothing of the others' start", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    let early = 0;
    const frames = Array.from({ length: 40 }, (_, c) => frame(c, 0, c, { received_time: 1_000_510 + c * 10 }));
    frames[0] = { ...frames[0]!, hardware_time_s: 1.7e9 };
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined, (l) => losses.push(l), (n) => (early += n)), toArray()));
    expect(early).toBe(0);
    expect(out.map((t) => t.frame.counter)).toEqual(frames.slice(1).map((f) => f.counter));
    for (const t of out) expect(t.time).toBeCloseTo(0.5 + t.frame.counter * 0.01, 9);
    expect(losses.map((l) => [l.cause, l.frames])).toEqual([["implausible", 1]]);
    expect(losses[0]!.detail).toMatch(/ahead of its source's other frames/);
  });

  it("tag + time: a software-stamped clock's jitter is no counter jump; a frame set aside inside a gap is counted once", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const losses: Loss[] = [];
    // 250 frames/s stamped when sent: now 1.5 ms apart, now 6.5 ms; counter 44 comes with Unix time for its clock
    // and 43 never comes.
    const jitter = (c: number) => (c % 7 === 3 ? -0.0025 : c % 7 === 4 ? 0.002 : 0);
    const frames = Array.from({ length: 60 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.004 + jitter(c), received_time: 1_000_010 + c * 4 + jitter(c) * 1000 }));
    const stream = frames.filter((f) => f.counter !== 43).map((f) => (f.counter === 44 ? { ...f, hardware_time_s: 1.7e9 } : f));
    const out = await lastValueFrom(from(stream).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined, (l) => losses.push(l), () => undefined), recordGaps((l) => losses.push(l)), toArray()));
    expect(out.map((t) => t.frame.counter)).toEqual(frames.map((f) => f.counter).filter((c) => c !== 43 && c !== 44));
    expect(losses.map((l) => [l.cause, l.frames])).toEqual([
      ["implausible", 1],
      ["producer_gap", 1],
    ]);
  });

  it("tag + time: streams are judged apart: all planes of channel 0, then of channel 1, is no restart", async () => {
    const routes = new Map<string, Route>([0, 1].flatMap((ch) => [0, 1, 2].map((p) => [routeKey("scan", ch, p), { series: `S${ch}${p}`, depths: 0 }] as const)));
    const events: EngineEvent[] = [];
    const losses: Loss[] = [];
    // Volumes every 30 ms, planes 10 ms apart; the producer sends channel 0's three planes, then channel 1's.
    const frames = Array.from({ length: 40 }, (_, v) => [0, 1].flatMap((ch) => [0, 1, 2].map((p) => frame(v, p, v, { channel: ch, hardware_time_s: v * 0.03 + p * 0.01, received_time: 1_000_030 + v * 30 + ch }))));
    const out = await lastValueFrom(from(frames.flat()).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e), (l) => losses.push(l), () => undefined), toArray()));
    expect(out).toHaveLength(240);
    expect(events).toEqual([]);
    expect(losses).toEqual([]);
  });

  it("tag + time: an offset measured while the host was busy moves toward a faster delivery, half a frame interval per frame", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    // Frames begin every 10 ms. The 30 that calibrate are each delivered 80 ms after they end; the rest promptly.
    const frames = Array.from({ length: 60 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_000_010 + c * 10 + (c < 30 ? 80 : 0) }));
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined, () => undefined, () => undefined), toArray()));
    const times = out.map((t) => t.time);
    expect(times[29]).toBeCloseTo(0.37, 9);
    expect(times[30]).toBeCloseTo(0.375, 9);
    expect(times[44]).toBeCloseTo(0.445, 9);
    expect(times.slice(45)).toEqual(frames.slice(45).map((f) => expect.closeTo(f.hardware_time_s!, 9)));
    expect(times.slice(1).every((t, i) => t - times[i]! >= 0.005 - 1e-9)).toBe(true);
  });

  it("tag + time: a source without a clock of its own gets arrival times", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const frames = [0, 1, 2].map((c) => frame(c, 0, c, { hardware_time_s: undefined, received_time: 1_000_500.25 + c * 33.3 }));
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "arrival", () => undefined, () => undefined, () => undefined, () => undefined), toArray()));
    expect(out.map((t) => t.time)).toEqual([0.50025, 0.53355, 0.56685].map((x) => expect.closeTo(x, 9)));
  });

  it("gaps: a counter gap is a loss of its series, at the frame after it, with the counters on either side", async () => {
    const losses: Loss[] = [];
    const tagged = [0, 4].map((c) => ({ series: "Green", frame: frame(c, 0, c), time: c * 0.01, missing_before: c === 4 ? 3 : 0 }));
    await lastValueFrom(from(tagged).pipe(recordGaps((l) => losses.push(l)), toArray()));
    expect(losses).toEqual([{ series: "Green", cause: "producer_gap", time: 0.04, frames: 3, volumes: 0, detail: "counters 1–3 never came, before 4 on channel 0 plane 0" }]);
  });

  it("losses: the first of a kind goes to the record at once, the rest of each second summed; counted by series and cause", async () => {
    const events: EngineEvent[] = [];
    const recorder = new LossRecorder((e) => events.push(e), 50);
    const gap = (time: number, frames: number): Loss => ({ series: "Green", cause: "producer_gap", time, frames, volumes: 0, detail: `gap at ${time}` });
    for (let i = 0; i < 100; i++) recorder.record(gap(i / 1000, 1 + (i % 2)));
    recorder.record({ series: "Vol", cause: "incomplete_volume", time: 0.5, frames: 3, volumes: 1, detail: "volume 7: plane 3 never arrived" });
    expect(events.map((e) => e.message)).toEqual(["1 frame missing: the producer's counter skipped them (gap at 0)", "1 volume dropped: incomplete, with 3 planes that arrived (volume 7: plane 3 never arrived)"]);
    await new Promise((r) => setTimeout(r, 80));
    expect(events.map((e) => e.message)[2]).toBe("149 frames missing: the producer's counter skipped them (99 times within 50 ms; the latest: gap at 0.099)");
    expect(recorder.frames).toBe(153);
    expect(recorder.losses["Green"]!.frames.producer_gap).toBe(150);
    expect(recorder.losses["Vol"]!.volumes.incomplete_volume).toBe(1);
  });

  it("assemble: a volume's planes go on as they arrive; a volume missing a plane (middle, start, end or all) is taken back and recorded once", async () => {
    const routes = new Map<string, Route>([0, 1].map((p) => [routeKey("scan", 0, p), { series: "Vol", depths: 2 }] as const));
    const losses: Loss[] = [];
    // counter = volume; plane 0 holds 0…5, plane 1 holds 10…15
    const t = (volume: number, plane: number) => ({ series: "Vol", frame: frame(volume, plane, plane), time: volume + plane / 10, missing_before: 0 });
    const samples: Sample[] = await lastValueFrom(
      from([t(0, 0), t(0, 1), t(1, 0), t(2, 0), t(2, 1), t(3, 1), t(7, 0)]).pipe(assembleVolumes(routes, (l) => losses.push(l)), toArray()),
    );
    // Each plane with its volume's time (its first plane's); an incomplete volume's planes are taken back after them.
    const shown = samples.map((s) => ("plane" in s ? [s.time, s.depth, Array.from(s.plane)[0]] : "incomplete" in s ? [s.time, "incomplete", s.incomplete.planes, s.incomplete.detail] : s));
    expect(shown).toEqual([
      [0, 0, 0],
      [0, 1, 10],
      [1, 0, 0],
      [1, "incomplete", 1, "volume 1: plane 1 never arrived"],
      [2, 0, 0],
      [2, 1, 10],
      [7, 0, 0],
      [7, "incomplete", 1, "volume 7: the recording stopped after plane 0"],
    ]);
    // Those never handed on are recorded here: a volume whose first planes are missing, and volumes of which none came.
    expect(losses.map((l) => [l.time, l.volumes, l.frames, l.detail])).toEqual([
      [3.1, 1, 1, "volume 3: planes before 1 never arrived"],
      [7, 3, 0, "no plane of volumes 4–6 arrived"],
    ]);
  });

  it("buffer: past the bound in bytes, or once the oldest has waited too long, the source is held until the queue is back within both; nothing is dropped", async () => {
    const depths: number[] = [];
    const written: number[] = [];
    const holds: Promise<void>[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let now = 1000;
    // Five 12-byte samples against a bound of 36 bytes, all just arrived.
    const samples = [0, 1, 2, 3, 4].map((i) => ({ series: "Green", data: new Uint16Array(6), time: i, received: 1000 }));
    const done = lastValueFrom(
      from(samples).pipe(
        boundedWrite({ maxBytes: 36, maxLagMs: 300 }, async (s) => { await gate; written.push(s.time); }, (until) => holds.push(until), (d) => depths.push(d), () => now),
        toArray(),
      ),
    );
    expect(holds).toHaveLength(2); // the fourth (48 bytes > 36) and the fifth
    now = 1100;
    release();
    await done;
    await Promise.all(holds);
    expect(written).toEqual([0, 1, 2, 3, 4]);
    expect(Math.max(...depths)).toBe(60);
    expect(depths.at(-1)).toBe(0);

    // A sample that arrived 400 ms ago and is still waiting holds the source, however few bytes wait.
    const lagHolds: Promise<void>[] = [];
    const late = [600, 1000].map((received, i) => ({ series: "Green", data: new Uint16Array(6), time: i, received }));
    await lastValueFrom(from(late).pipe(boundedWrite({ maxBytes: 1e9, maxLagMs: 300 }, async () => undefined, (until) => lagHolds.push(until), () => undefined, () => 1000), toArray()));
    expect(lagHolds).toHaveLength(2); // both came while the late one still waited
  });

  it("buffer: a hold lasts until the queue is within its bound, not until the next write (a source let go takes in a frame or two)", async () => {
    const gates: (() => void)[] = [];
    let released = false;
    const holds: Promise<void>[] = [];
    // Six 12-byte samples against a bound of 36 bytes; the writer finishes them one at a time.
    const samples = [0, 1, 2, 3, 4, 5].map((i) => ({ series: "Green", data: new Uint16Array(6), time: i, received: 1000 }));
    const done = lastValueFrom(
      from(samples).pipe(
        boundedWrite({ maxBytes: 36, maxLagMs: 300 }, () => new Promise<void>((r) => gates.push(r)), (until) => holds.push(until.then(() => void (released = true))), () => undefined, () => 1000),
        toArray(),
      ),
    );
    expect(holds.length).toBeGreaterThan(0);
    const settle = () => new Promise((r) => setTimeout(r, 0));
    // 72 bytes wait; after one write 60, after two 48: still held.
    for (const left of [60, 48]) {
      gates.shift()!();
      await settle();
      expect(released, `held with ${left} bytes waiting`).toBe(false);
    }
    gates.shift()!(); // 36: within the bound
    await settle();
    expect(released).toBe(true);
    while (gates.length || !(await Promise.race([done.then(() => true), settle().then(() => false)]))) gates.shift()?.();
    expect((await done).map((s) => s.time)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
