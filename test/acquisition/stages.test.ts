// The engine's stages on hand-made frames: timing, drop accounting, volume assembly, the bounded queue.
import { Subject, from, lastValueFrom, toArray } from "rxjs";
import { describe, expect, it } from "vitest";
import { type EngineEvent, type Route, type Sample, assembleVolumes, boundedWrite, inTimeOrder, recordDrops, routeKey, tagAndTime } from "../../src/acquisition/stages.js";
import type { Frame } from "../../src/drivers/frame-source.js";
import { interleavePlanes } from "../../src/nwb/planes.js";

const frame = (counter: number, plane: number, fill: number, extra: Partial<Frame> = {}): Frame => ({
  counter,
  hardware_time_s: 100 + counter * 0.01,
  channel: 0,
  plane,
  shape: [2, 3],
  dtype: "uint16",
  data: Uint16Array.from({ length: 6 }, (_, k) => fill * 10 + k),
  missing_before: 0,
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
    const out = await lastValueFrom(from([late, prompt, frame(2, 1, 3)]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", (f) => stray.push(f), () => undefined), toArray()));
    expect(out.map((t) => t.series)).toEqual(["Green", "Green"]);
    // The prompt frame (began at hardware 100.01 s, delivered 0.52 s into the session) fixes the offset:
    // it began at 0.51 s. The late one would have said 0.79 s.
    expect(out[0]!.time).toBeCloseTo(0.5, 9);
    expect(out[1]!.time).toBeCloseTo(0.51, 9);
    expect(stray.map((f) => f.plane)).toEqual([1]);
  });

  it("tag + time: a restarted hardware clock is related anew; a frame not after its series' last is dropped and recorded", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    const events: EngineEvent[] = [];
    // 30 frames calibrate (each delivered as it ends), then the acquisition restarts: hardware time and counter from 0
    // again, 2 s later on the host. A duplicate of the last frame before the restart arrives too.
    const first = Array.from({ length: 30 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_000_010 + c * 10 }));
    const duplicate = { ...first[29]!, received_time: 1_000_400 };
    const again = Array.from({ length: 30 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_002_510 + c * 10 }));
    const out = await lastValueFrom(from([...first, duplicate, ...again]).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, (e) => events.push(e)), toArray()));
    expect(out).toHaveLength(60);
    expect(out[29]!.time).toBeCloseTo(0.29, 9);
    expect(out[30]!.time).toBeCloseTo(2.5, 9); // the restarted clock's offset, from its own first frames
    expect(events.map((e) => e.kind)).toEqual(["dropped_frames", "fault"]);
    expect(events[0]!.message).toBe("1 frames missing (hardware counter 29 came at 0.290000 s, not after the series' last frame at 0.290000 s)");
    expect(events[1]!.message).toMatch(/^the hardware clock went back from 0.29 s to 0 s \(acquisition restarted\?\)/);
  });

  it("tag + time: an offset measured while the host was busy moves toward a faster delivery, half a frame interval per frame", async () => {
    const routes = new Map<string, Route>([[routeKey("scan", 0, 0), { series: "Green", depths: 0 }]]);
    // Frames begin every 10 ms. The 30 that calibrate are each delivered 80 ms after they end; the rest promptly.
    const frames = Array.from({ length: 60 }, (_, c) => frame(c, 0, c, { hardware_time_s: c * 0.01, received_time: 1_000_010 + c * 10 + (c < 30 ? 80 : 0) }));
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "hardware", () => undefined, () => undefined), toArray()));
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
    const out = await lastValueFrom(from(frames).pipe(tagAndTime("scan", routes, 1_000_000, "arrival", () => undefined, () => undefined), toArray()));
    expect(out.map((t) => t.time)).toEqual([0.50025, 0.53355, 0.56685].map((x) => expect.closeTo(x, 9)));
  });

  it("drops: a counter gap is an event naming the series and how many frames are missing", async () => {
    const events: EngineEvent[] = [];
    const tagged = [0, 4].map((c) => ({ series: "Green", frame: frame(c, 0, c, { missing_before: c === 4 ? 3 : 0 }), time: c * 0.01 }));
    await lastValueFrom(from(tagged).pipe(recordDrops((e) => events.push(e)), toArray()));
    expect(events).toEqual([{ time: 0.04, kind: "dropped_frames", source: "Green", message: "3 frames missing (hardware counter 0 → 4)" }]);
  });

  it("assemble: a volume's planes go on together; a volume missing a plane (middle, start, end or all) is dropped and recorded once", async () => {
    const routes = new Map<string, Route>([0, 1].map((p) => [routeKey("scan", 0, p), { series: "Vol", depths: 2 }] as const));
    const events: EngineEvent[] = [];
    // counter = volume; plane 0 holds 0…5, plane 1 holds 10…15
    const t = (volume: number, plane: number) => ({ series: "Vol", frame: frame(volume, plane, plane), time: volume + plane / 10 });
    const volumes: Sample[] = await lastValueFrom(
      from([t(0, 0), t(0, 1), t(1, 0), t(2, 0), t(2, 1), t(3, 1), t(7, 0)]).pipe(assembleVolumes(routes, (e) => events.push(e)), toArray()),
    );
    expect(volumes.map((v) => v.time)).toEqual([0, 2]);
    const planes = (volumes[0] as { planes: Uint16Array[] }).planes;
    expect(planes.map((p) => Array.from(p))).toEqual([[0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15]]);
    // Stored depth last: pixel k of plane d at k * 2 + d.
    expect(Array.from(interleavePlanes(planes))).toEqual([0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15]);
    expect(events.map((e) => [e.time, e.message])).toEqual([
      [1, "1 volume dropped: plane 1 never arrived (volume 1, 2 planes)"],
      [3.1, "1 volume dropped: planes before 1 never arrived (volume 3, 2 planes)"],
      [7, "3 volumes dropped: no plane of them arrived (volumes 4–6)"],
      [7, "1 volume dropped: the recording stopped after plane 0 (volume 7, 2 planes)"],
    ]);
  });

  it("buffer: samples beyond the bound are dropped and recorded while the writer is slow; depth is reported", async () => {
    const events: EngineEvent[] = [];
    const depths: number[] = [];
    const written: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const samples = [0, 1, 2, 3].map((i) => ({ series: "Green", data: new Uint16Array(6), time: i }));
    const done = lastValueFrom(
      from(samples).pipe(
        boundedWrite(24, async (s) => { await gate; written.push(s.time); }, (e) => events.push(e), (d) => depths.push(d)),
        toArray(),
      ),
    );
    release();
    await done;
    expect(written).toEqual([0, 1]); // 2 × 12 bytes fit, the rest arrived while the writer was busy
    expect(events.map((e) => e.time)).toEqual([2, 3]);
    expect(Math.max(...depths)).toBe(24);
    expect(depths[depths.length - 1]).toBe(0);
  });

  it("order: events dated back are released in time order once the hold has passed them; one older than the released goes in at their time", async () => {
    let now = 10;
    const events = new Subject<EngineEvent>();
    const out: EngineEvent[] = [];
    events.pipe(inTimeOrder(2, () => now, 5)).subscribe((e) => out.push(e));
    const event = (time: number, message: string) => events.next({ time, kind: "command", source: "Laser", message });
    event(9.5, "frames missing at 9.5");
    event(8.7, "shutter closed at 8.7"); // confirmed a second after it moved
    event(9.9, "mark at 9.9");
    await new Promise((r) => setTimeout(r, 30));
    expect(out.map((e) => e.message)).toEqual([]); // nothing is 2 s old yet
    now = 11.6;
    await new Promise((r) => setTimeout(r, 30));
    expect(out.map((e) => [e.time, e.message])).toEqual([[8.7, "shutter closed at 8.7"], [9.5, "frames missing at 9.5"]]);
    event(9.0, "late at 9.0"); // older than an event already in the record
    events.complete();
    expect(out.slice(2).map((e) => [e.time, e.message])).toEqual([[9.5, "late at 9.0"], [9.9, "mark at 9.9"]]);
  });
});
