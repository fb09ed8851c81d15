// The engine's stages: small named RxJS operators, data flowing one way from the frame source to the
// writer. Each does one thing a person can name: tag, time, account for drops, assemble volumes.
import { EMPTY, Observable, type OperatorFunction, concatMap, filter, from, map, mergeMap, of } from "rxjs";
import type { Frame, FrameData } from "../drivers/frame-source.js";

/** Where one frame stream (source, channel, plane) goes: its series and, for volumes, its depth. */
export interface Route {
  series: string;
  /** Depth planes per volume; 0 for a planar series. */
  depths: number;
}

/** A frame on its way to a series, with its time on the session clock. */
export interface TaggedFrame {
  series: string;
  frame: Frame;
  /** Seconds from the session's timestamps_reference_time. */
  time: number;
}

/** A sample ready to append: one frame, or one volume as its depth planes (the writer interleaves them). */
export type Sample = { series: string; time: number } & ({ data: FrameData } | { planes: FrameData[] });

/** Bytes a sample holds. */
export const sampleBytes = (s: Sample): number => ("data" in s ? s.data.byteLength : s.planes.reduce((n, p) => n + p.byteLength, 0));

/** Something for the event record. */
export interface EngineEvent {
  time: number;
  kind: string;
  source: string;
  message: string;
}

export const routeKey = (source: string, channel: number, plane: number) => `${source}/${channel}/${plane}`;

/** Frames whose arrival calibrates a stream's clock offset before any is passed on. */
export const CLOCK_CALIBRATION_FRAMES = 30;

/**
 * tag + time: finds each frame's series (frames no series records are counted, not kept) and puts its
 * time on the session clock.
 *
 * A hardware clock: hardware time is when a frame began, and a frame can only be delivered once it has
 * been scanned, so the offset between the hardware clock and the host's is the smallest (arrival −
 * hardware time) among a stream's first frames, less one frame interval (the smallest step between their
 * hardware times): delivery only ever adds delay, so the fastest is the best estimate.
 * Those frames wait until it is known; after that hardware time alone decides, so host jitter never
 * enters the timestamps. Only a faster delivery than any before moves the offset — the host was busy
 * while it was measured — and then toward it by at most half a frame interval per frame, so the times
 * stay in order. A hardware clock that goes back (the acquisition was restarted) is calibrated anew.
 * An "arrival" clock (a source without one) takes arrival times as they are.
 *
 * A frame whose time is not after its series' last one cannot be stored in order: it is dropped and
 * recorded, never written with an invented time.
 */
export function tagAndTime(
  source: string,
  routes: ReadonlyMap<string, Route>,
  sessionStartMs: number,
  clock: "hardware" | "arrival",
  unrouted: (frame: Frame) => void,
  emit: (e: EngineEvent) => void,
): OperatorFunction<Frame, TaggedFrame> {
  return (frames) =>
    new Observable<TaggedFrame>((subscriber) => {
      const arrival = (frame: Frame) => (frame.received_time - sessionStartMs) / 1000;
      let offset: number | undefined;
      let interval = 0;
      /** The smallest (arrival − hardware time − interval) seen: the offset can be no larger. */
      let fastest = Infinity;
      let lastHardware = -Infinity;
      const lastTime = new Map<string, number>();
      const waiting: { frame: Frame; series: string }[] = [];
      /** Hardware times of every frame (recorded or not) since calibration began, for the frame interval. */
      const began = new Set<number>();
      const send = (series: string, frame: Frame, time: number) => {
        const last = lastTime.get(series) ?? -Infinity;
        if (time <= last) {
          emit({ time: last, kind: "dropped_frames", source: series, message: `1 frames missing (hardware counter ${frame.counter} came at ${time.toFixed(6)} s, not after the series' last frame at ${last.toFixed(6)} s)` });
          return;
        }
        lastTime.set(series, time);
        subscriber.next({ series, frame, time });
      };
      const calibrate = () => {
        const times = [...began].sort((a, b) => a - b);
        const step = Math.min(Infinity, ...times.slice(1).map((t, i) => t - times[i]!));
        began.clear();
        interval = Number.isFinite(step) ? step : 0;
        fastest = Math.min(...waiting.map(({ frame }) => arrival(frame) - frame.hardware_time_s! - interval));
        offset = fastest;
        for (const w of waiting.splice(0)) send(w.series, w.frame, Math.max(0, w.frame.hardware_time_s! + offset));
      };
      return frames.subscribe({
        next: (frame) => {
          const route = routes.get(routeKey(source, frame.channel, frame.plane));
          if (clock === "arrival") return route ? send(route.series, frame, arrival(frame)) : unrouted(frame);
          const hardware = frame.hardware_time_s!;
          if (hardware < lastHardware && offset !== undefined) {
            emit({ time: arrival(frame), kind: "fault", source, message: `the hardware clock went back from ${lastHardware} s to ${hardware} s (acquisition restarted?): relating it to the session clock anew` });
            offset = undefined;
          }
          if (offset === undefined) began.add(hardware);
          else {
            fastest = Math.min(fastest, arrival(frame) - hardware - interval);
            if (hardware > lastHardware && offset > fastest) offset = Math.max(fastest, offset - interval / 2);
          }
          lastHardware = hardware;
          if (!route) return unrouted(frame);
          if (offset !== undefined) return send(route.series, frame, Math.max(0, hardware + offset));
          waiting.push({ frame, series: route.series });
          if (waiting.length >= CLOCK_CALIBRATION_FRAMES) calibrate();
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          if (waiting.length) calibrate();
          subscriber.complete();
        },
      });
    });
}

/** drops: every counter gap becomes an event record entry; no frame is ever invented. */
export function recordDrops(emit: (e: EngineEvent) => void): OperatorFunction<TaggedFrame, TaggedFrame> {
  return map((t) => {
    if (t.frame.missing_before > 0) {
      const n = t.frame.missing_before;
      emit({
        time: t.time,
        kind: "dropped_frames",
        source: t.series,
        message: `${n} frames missing (hardware counter ${t.frame.counter - n - 1} → ${t.frame.counter})`,
      });
    }
    return t;
  });
}

/**
 * assemble: planes 0 … depths-1 of one channel's volume (one hardware counter value) become one volume,
 * handed on as its planes. A volume with a missing plane — lost in the middle, at its start, or unfinished
 * when the stream ends — is dropped and recorded once, and so are volumes of which no plane arrived: a volume
 * of invented planes would be worse than a gap.
 */
export function assembleVolumes(routes: ReadonlyMap<string, Route>, emit: (e: EngineEvent) => void): OperatorFunction<TaggedFrame, Sample> {
  return (frames: Observable<TaggedFrame>) =>
    new Observable<Sample>((subscriber) => {
      // Looked up once, not per frame: this runs for every frame of every series.
      const depthsOf = new Map([...routes.values()].map((r) => [r.series, r.depths]));
      const open = new Map<string, { counter: number; time: number; planes: FrameData[]; depths: number }>();
      // The volume whose planes are being skipped, per series, so each broken volume is recorded once.
      const skipping = new Map<string, number>();
      const lastCounter = new Map<string, number>();
      const drop = (series: string, time: number, counter: number, depths: number, why: string) => {
        skipping.set(series, counter);
        emit({ time, kind: "dropped_frames", source: series, message: `1 volume dropped: ${why} (volume ${counter}, ${depths} planes)` });
      };
      return frames.subscribe({
        next: (t) => {
          const depths = depthsOf.get(t.series) ?? 0;
          if (depths === 0) {
            subscriber.next({ series: t.series, data: t.frame.data, time: t.time });
            return;
          }
          const { counter, plane } = t.frame;
          // Whole volumes of which no plane arrived show only as a jump in the volume counter.
          const last = lastCounter.get(t.series);
          lastCounter.set(t.series, counter);
          if (last !== undefined && counter > last + 1) {
            const n = counter - last - 1;
            emit({ time: t.time, kind: "dropped_frames", source: t.series, message: `${n} volume${n === 1 ? "" : "s"} dropped: no plane of ${n === 1 ? "it" : "them"} arrived (volume${n === 1 ? ` ${last + 1}` : `s ${last + 1}–${counter - 1}`})` });
          }
          const v = open.get(t.series);
          if (v && (counter !== v.counter || plane !== v.planes.length)) {
            open.delete(t.series);
            drop(t.series, v.time, v.counter, depths, `plane ${v.planes.length} never arrived`);
          }
          if (!open.has(t.series)) {
            if (plane !== 0) {
              if (skipping.get(t.series) !== counter) drop(t.series, t.time, counter, depths, `planes before ${plane} never arrived`);
              return;
            }
            open.set(t.series, { counter, time: t.time, planes: [], depths });
          }
          const volume = open.get(t.series)!;
          volume.planes.push(t.frame.data);
          if (volume.planes.length === depths) {
            open.delete(t.series);
            subscriber.next({ series: t.series, planes: volume.planes, time: volume.time });
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          for (const [series, v] of open) drop(series, v.time, v.counter, v.depths, `the recording stopped after plane ${v.planes.length - 1}`);
          subscriber.complete();
        },
      });
    });
}

/**
 * limit: at most `n` samples of each series pass (a recording of a set length); `full` is called once
 * every one of `series` has had its `n`. One instance serves every pipeline of a session.
 */
export function limitSamples(n: number, series: readonly string[], full: () => void): OperatorFunction<Sample, Sample> {
  const passed = new Map(series.map((name) => [name, 0]));
  let reported = false;
  return filter((s) => {
    const k = passed.get(s.series) ?? 0;
    if (k >= n) return false;
    passed.set(s.series, k + 1);
    if (!reported && [...passed.values()].every((v) => v >= n)) {
      reported = true;
      full();
    }
    return true;
  });
}

/**
 * order: events reach the record in time order. They come by paths of different delay — a device event
 * when the driver saw it, a gap at the frame after it, a setting dated back to when it took effect (a
 * shutter confirmed a second after it moved) — so each is held until `holdS` seconds of session time
 * (`now`) have passed it, then released sorted; on completion, all that remain. One older than an event
 * already released goes in at that event's time: the record never runs backwards.
 */
export function inTimeOrder(holdS: number, now: () => number, tickMs = 250): OperatorFunction<EngineEvent, EngineEvent> {
  return (events) =>
    new Observable<EngineEvent>((out) => {
      const held: EngineEvent[] = [];
      let released = -Infinity;
      const release = (until: number) => {
        held.sort((a, b) => a.time - b.time); // stable: equal times keep their order of arrival
        while (held.length > 0 && held[0]!.time <= until) {
          const e = held.shift()!;
          released = Math.max(e.time, released);
          out.next({ ...e, time: released });
        }
      };
      const timer = setInterval(() => release(now() - holdS), tickMs);
      const subscription = events.subscribe({
        next: (e) => held.push(e),
        error: (e: unknown) => out.error(e),
        complete: () => {
          release(Infinity);
          out.complete();
        },
      });
      return () => {
        clearInterval(timer);
        subscription.unsubscribe();
      };
    });
}

/**
 * buffer: at most `maxBytes` of samples wait for the writer. When the disk cannot keep up the newest
 * samples are dropped and recorded, never queued without bound, and the source is never blocked
 * (a scanner cannot wait).
 */
export function boundedWrite(maxBytes: number, write: (s: Sample) => Promise<void>, emit: (e: EngineEvent) => void, depth: (bytes: number) => void): OperatorFunction<Sample, Sample> {
  let queued = 0;
  return (samples) =>
    samples.pipe(
      mergeMap((s) => {
        const bytes = sampleBytes(s);
        if (queued + bytes > maxBytes && queued > 0) {
          const what = "data" in s ? "1 frames missing" : "1 volume dropped";
          emit({ time: s.time, kind: "dropped_frames", source: s.series, message: `${what} (writer queue full at ${(queued / 1e6).toFixed(0)} MB: the disk is not keeping up)` });
          return EMPTY;
        }
        queued += bytes;
        depth(queued);
        // The byte count travels with the sample: write() may transfer its buffers, which empties them.
        return of({ s, bytes });
      }),
      concatMap(({ s, bytes }) =>
        from(
          write(s).finally(() => {
            queued -= bytes;
            depth(queued);
          }),
        ).pipe(map(() => s)),
      ),
    );
}
