// The engine's stages: small named RxJS operators, data flowing one way from the frame source to the
// writer. Each does one thing a person can name: tag, time, account for drops, assemble volumes.
import { EMPTY, Observable, type OperatorFunction, concatMap, from, map, mergeMap, of } from "rxjs";
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

/** A sample ready to append: one frame, or one assembled volume. */
export interface Sample {
  series: string;
  data: FrameData;
  time: number;
}

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
 * hardware time on the session clock. The offset between the hardware clock and the host's is the
 * smallest (arrival − hardware time) among a stream's first frames: delivery only ever adds delay,
 * so the fastest arrival is the best estimate. Those frames wait until it is known; after that the
 * offset is fixed and hardware time alone decides, so host jitter never enters the timestamps.
 */
export function tagAndTime(source: string, routes: ReadonlyMap<string, Route>, sessionStartMs: number, unrouted: (frame: Frame) => void): OperatorFunction<Frame, TaggedFrame> {
  return (frames) =>
    new Observable<TaggedFrame>((subscriber) => {
      let offset: number | undefined;
      const waiting: { frame: Frame; series: string }[] = [];
      const send = (series: string, frame: Frame) => subscriber.next({ series, frame, time: Math.max(0, frame.hardware_time_s + offset!) });
      const calibrate = () => {
        offset = Math.min(...waiting.map(({ frame }) => (frame.received_time - sessionStartMs) / 1000 - frame.hardware_time_s));
        for (const w of waiting.splice(0)) send(w.series, w.frame);
      };
      return frames.subscribe({
        next: (frame) => {
          const route = routes.get(routeKey(source, frame.channel, frame.plane));
          if (!route) return unrouted(frame);
          if (offset !== undefined) return send(route.series, frame);
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
 * assemble: planes 0 … depths-1 of one channel become one volume (height, width, depths), depth last.
 * A volume with a missing plane, or unfinished when the stream ends, is dropped and recorded: a volume
 * of invented planes would be worse than a gap.
 */
export function assembleVolumes(routes: ReadonlyMap<string, Route>, emit: (e: EngineEvent) => void): OperatorFunction<TaggedFrame, Sample> {
  return (frames: Observable<TaggedFrame>) =>
    new Observable<Sample>((subscriber) => {
      // Looked up once, not per frame: this runs for every frame of every series.
      const depthsOf = new Map([...routes.values()].map((r) => [r.series, r.depths]));
      const open = new Map<string, { time: number; next: number; data: FrameData; depths: number }>();
      const abandon = (series: string, why: string) => {
        const v = open.get(series);
        if (!v) return;
        open.delete(series);
        emit({ time: v.time, kind: "dropped_frames", source: series, message: `1 volume dropped: ${why} (planes 0–${v.next - 1} of ${v.depths} received)` });
      };
      return frames.subscribe({
        next: (t) => {
          const depths = depthsOf.get(t.series) ?? 0;
          if (depths === 0) {
            subscriber.next({ series: t.series, data: t.frame.data, time: t.time });
            return;
          }
          const plane = t.frame.plane;
          let v = open.get(t.series);
          if (v && (plane !== v.next || t.frame.missing_before > 0)) abandon(t.series, `plane ${v.next} never arrived`);
          v = open.get(t.series);
          if (!v) {
            if (plane !== 0) return; // wait for the start of the next volume
            const Data = t.frame.data.constructor as new (n: number) => FrameData;
            v = { time: t.time, next: 0, data: new Data(t.frame.data.length * depths), depths };
            open.set(t.series, v);
          }
          // Interleave: pixel k of plane d goes to k * depths + d.
          const src = t.frame.data;
          for (let k = 0; k < src.length; k++) v.data[k * depths + plane] = src[k]!;
          v.next = plane + 1;
          if (v.next === depths) {
            open.delete(t.series);
            subscriber.next({ series: t.series, data: v.data, time: v.time });
          }
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          for (const series of [...open.keys()]) abandon(series, "the recording stopped mid-volume");
          subscriber.complete();
        },
      });
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
        if (queued + s.data.byteLength > maxBytes && queued > 0) {
          emit({ time: s.time, kind: "dropped_frames", source: s.series, message: `1 frames missing (writer queue full at ${(queued / 1e6).toFixed(0)} MB: the disk is not keeping up)` });
          return EMPTY;
        }
        queued += s.data.byteLength;
        depth(queued);
        return of(s);
      }),
      concatMap((s) =>
        from(
          write(s).finally(() => {
            queued -= s.data.byteLength;
            depth(queued);
          }),
        ).pipe(map(() => s)),
      ),
    );
}
