// The engine's stages: small named RxJS operators, data flowing one way from the frame source to the
// writer. Each does one thing a person can name: judge and time, account for losses, assemble volumes,
// wait for the writer.
import { Observable, type OperatorFunction, concatMap, filter, from, map, mergeMap, of } from "rxjs";
import type { Frame, FrameData } from "../drivers/frame-source.js";
import { releaseFrame } from "../frame-slots.js";

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
  /** Frames of this stream the producer's counter says never arrived just before this one (a gap); 0 when none. */
  missing_before: number;
}

/**
 * What goes to the writer, in order per series: a frame of a planar series; a plane of a volumetric series' volume,
 * each as it arrives (the writer writes it while the next is on its way; the last, depth = depths − 1, completes
 * the volume); or word that the volume whose planes went on will not be whole (`incomplete`: the planes that
 * arrived of it, and why), to be taken back and counted lost. `time` is the frame's or the volume's (its first
 * plane's); `received` when the frame arrived, ms since the epoch.
 */
export type Sample = { series: string; time: number; received: number } & (
  | { data: FrameData }
  | { plane: FrameData; depth: number; depths: number }
  | { incomplete: { planes: number; detail: string } }
);

/** Ends a sample's frame's life early (frame-slots.ts): it will not be written. */
export const releaseSample = (s: Sample): void => {
  if ("data" in s) releaseFrame(s.data);
  else if ("plane" in s) releaseFrame(s.plane);
};

/** Bytes a sample holds. */
export const sampleBytes = (s: Sample): number => ("data" in s ? s.data.byteLength : "plane" in s ? s.plane.byteLength : 0);

/** Whether a sample completes one of its series' samples (a frame, or a volume's last plane). */
export const completesSample = (s: Sample): boolean => "data" in s || ("plane" in s && s.depth === s.depths - 1);

/** Something for the event record. */
export interface EngineEvent {
  time: number;
  kind: string;
  source: string;
  message: string;
}

/**
 * Why frames that reached rigd, or that the producer's counter says were acquired, are not in the file:
 * - producer_gap: the counter skipped them (the producer lost them, or never sent them);
 * - implausible: they arrived but their counter or hardware time cannot be true (set aside, not stored);
 * - incomplete_volume: a volume lacked a plane, so the planes that did arrive went with it;
 * - not_written: they were on their way to the file when writing failed or the session ended;
 * - backlog: they came in a burst with a backlog the producer had queued, while rigd related its clock, beyond
 *   what it holds meanwhile (CALIBRATION_MAX_BYTES), and turned out to have begun after the start; or they came
 *   out of rigd's own queue while the hold was full of such frames (see tagAndTime).
 */
export const LOSS_CAUSES = ["producer_gap", "implausible", "incomplete_volume", "not_written", "backlog"] as const;
export type LossCause = (typeof LOSS_CAUSES)[number];

/** Frames (planes, for a volumetric series) and whole volumes one series lost, for one cause. */
export interface Loss {
  series: string;
  cause: LossCause;
  /** Session time of the loss (the frame after a gap, the volume, the frame set aside). */
  time: number;
  frames: number;
  volumes: number;
  /** What happened, for the event record: counters, times. */
  detail: string;
}

export const routeKey = (source: string, channel: number, plane: number) => `${source}/${channel}/${plane}`;

/**
 * Frames whose arrival calibrates a source's clock offset before any is passed on: at least this many, and
 * more while their deliveries keep getting faster (a backlog the producer queued before the session drains).
 */
export const CLOCK_CALIBRATION_FRAMES = 30;
/**
 * Frames enough to calibrate on, in bytes, when their deliveries are steady (4 of 2048² uint16: the offset goes on
 * improving frame by frame afterwards), so that large frames do not wait for CLOCK_CALIBRATION_FRAMES.
 */
const CALIBRATION_BYTES = 32 * 2 ** 20;
/**
 * While the deliveries are still getting faster (a backlog draining, or a slow start catching up), calibration
 * holds up to this many bytes of frames (16 of 2048² uint16, two thirds of a source's frame slots; they go to the
 * writer at once, and the engine then holds the source while its queue drains). Reached, the oldest frame is let
 * go, its time kept to judge once the clock is known.
 */
const CALIBRATION_MAX_BYTES = 128 * 2 ** 20;
/** Deliveries still getting faster: over this many frames, by more than half a frame interval. */
const DRAINING_FRAMES = 4;
/** A frame dated this far (s) after it arrived cannot be true: frames are sent after they are acquired. */
const FUTURE_TOLERANCE_S = 2;
/** At calibration, an offset this much (s) below all others is a frame with a wrong clock, not a fast delivery. */
const OUTLIER_S = 10;

/** Where one (channel, plane) stream stands: its last accepted frame, its interval, a frame it is unsure of. */
interface StreamState {
  counter: number;
  time: number;
  /** Smallest (time step ÷ counter step) seen: the stream's frame interval, s. */
  interval: number;
  /** A frame that did not follow the last one; the next frame tells whether it was wrong or the stream restarted. */
  doubt?: { frame: Frame; series: string; why: string };
}

/**
 * judge + tag + time: finds each frame's series (frames no series records are counted, not kept), judges it
 * against the frames before it in its own (channel, plane) stream, and puts its time on the session clock.
 *
 * Judging, per stream: the next frame must advance the counter and the time, and cannot skip more counter
 * values than the time since the last one allows (at the stream's own interval), nor be dated after it
 * arrived. A frame that does not follow is doubted, not believed: if the frame after it follows the stream,
 * the doubted one was wrong and is set aside (a loss, cause implausible) — one bad header never becomes the
 * stream's new truth; if the frame after it follows the doubted one instead, the acquisition restarted there
 * and both go on. A counter that skips values is a gap: `missing_before` on the frame after it.
 *
 * Time, a hardware clock: hardware time is when a frame began, and a frame can only be delivered once it has
 * been scanned, so the offset between the hardware clock and the host's is the smallest (arrival − hardware
 * time) among a source's first frames, less one frame interval (the smallest step between their hardware
 * times): delivery only ever adds delay, so the fastest is the best estimate, and one far below all the
 * others is a frame with a wrong clock (set aside). Those frames wait until it is known; after that hardware
 * time alone decides, so host jitter never enters the timestamps. Only a faster delivery than any before moves
 * the offset — the host was busy while it was measured — and then toward it by at most half a frame interval
 * per frame, so the times stay in order. A stream whose clock restarts (went back, and the next frame agrees)
 * has its source related anew. An "arrival" clock (a source without one) takes arrival times as they are.
 * A frame that began before the session (a backlog the producer queued) is counted as early, not recorded: at
 * once, without waiting for the calibration, when the deliveries seen already prove it, so that a backlog larger
 * than the calibration's hold drains through it and never sets the offset. A backlog rigd reads no faster than
 * it was acquired is told by its frames coming out of rigd's own queue (Frame.queued): the clock waits for a
 * frame rigd waited for.
 */
export function tagAndTime(
  source: string,
  routes: ReadonlyMap<string, Route>,
  sessionStartMs: number,
  clock: "hardware" | "arrival",
  unrouted: (frame: Frame) => void,
  emit: (e: EngineEvent) => void,
  lose: (loss: Loss) => void,
  /** Frames received that began before the session started (a backlog the producer had queued): not part of it. */
  early: (frames: number) => void,
): OperatorFunction<Frame, TaggedFrame> {
  return (frames) =>
    new Observable<TaggedFrame>((subscriber) => {
      const arrival = (frame: Frame) => (frame.received_time - sessionStartMs) / 1000;
      /** The stream's own time: what its frames' order and intervals are judged by. */
      const own = (frame: Frame) => (clock === "arrival" ? arrival(frame) : frame.hardware_time_s!);
      let offset: number | undefined;
      let interval = 0;
      /** The smallest (arrival − hardware time − interval) seen: the offset can be no larger. */
      let fastest = Infinity;
      let latestHardware = -Infinity;
      const streams = new Map<number, StreamState>();
      const lastTime = new Map<string, number>();
      const waiting: { frame: Frame; series: string; missing: number }[] = [];
      let waitingBytes = 0;
      /** Frames let go while a backlog drained before calibration (their pixels freed): judged once it is done. */
      const letGo: { frame: Frame; series: string; missing: number }[] = [];
      /**
       * A backlog the producer queued can reach rigd no faster than rigd reads it (a busy machine): its deliveries
       * then keep step with the acquisition as live frames' do, and only their coming out of rigd's own queue
       * (Frame.queued) tells them apart. The clock is not related while the frames held last came so, more in a row
       * than the source sends at once (one per channel), until twice CLOCK_CALIBRATION_FRAMES are held (a rigd that
       * stays behind: a slow writer); a hold full in bytes before that lets its oldest go instead, up to as many
       * bytes again as it holds. Then the clock is related from what is held, and the event record says so.
       */
      const channels = new Set([...routes.keys()].filter((k) => k.startsWith(`${source}/`)).map((k) => k.split("/").at(-2))).size || 1;
      let queuedRun = 0;
      let letGoQueuedBytes = 0;
      const inBurst = () => queuedRun > channels;
      const outwaited = () => waiting.length >= 2 * CLOCK_CALIBRATION_FRAMES || letGoQueuedBytes >= CALIBRATION_MAX_BYTES;
      /** The smallest change of hardware time from one waiting frame to the next: the frame interval, kept as frames come. */
      let smallestStep = Infinity;
      /** The smallest (arrival − hardware time) after each waiting frame: it falls frame by frame while a backlog drains. */
      const fastestSoFar: number[] = [];
      /**
       * The two smallest (arrival − hardware time) of all frames: the offset can be no larger than the second, since no
       * frame arrives before it began (the second, so that one frame with a wrong clock proves nothing). A frame whose
       * hardware time plus it is below 0 began before the session started, whatever the offset turns out to be.
       */
      const earliest = [Infinity, Infinity];
      const boundBy = (frame: Frame) => {
        const d = arrival(frame) - frame.hardware_time_s!;
        if (d < earliest[0]!) [earliest[0], earliest[1]] = [d, earliest[0]!];
        else if (d < earliest[1]!) earliest[1] = d;
      };
      const provablyEarly = (frame: Frame) => frame.hardware_time_s! + earliest[1]! < 0;
      const describe = (f: Frame) => `channel ${f.channel} plane ${f.plane} counter ${f.counter}${clock === "hardware" ? ` (hardware time ${f.hardware_time_s} s)` : ""}`;

      const setAside = (frame: Frame, series: string, why: string) => {
        releaseFrame(frame.data);
        lose({ series, cause: "implausible", time: Math.max(0, arrival(frame)), frames: 1, volumes: 0, detail: `${describe(frame)}: ${why}` });
      };
      /**
       * Per series, the stream's own time of its latest frame that began before the start, while no later one was
       * sent (the latest: frames let go while a backlog drained are judged after later ones).
       */
      const lastEarly = new Map<string, number>();
      /** Of `missing` frames before `frame` (at session time `time`), those the session lost: not those that began before it. */
      const sessionsMissing = (series: string, frame: Frame, time: number, missing: number) => {
        const last = lastEarly.get(series);
        lastEarly.delete(series);
        if (last === undefined || missing === 0) return missing;
        // Of the frames missing since that one, those that began before the start are not the session's loss
        // (nor frames it received: the producer never sent them). Both ends on the clock `frame` is dated by: the
        // early frame may have been counted by a bound on the offset, before the offset was known.
        const before = last + (time - own(frame));
        const step = (time - before) / (missing + 1);
        return missing - Math.min(missing, Math.max(0, Math.ceil(-before / step) - 1));
      };
      const send = (series: string, frame: Frame, time: number, missing: number) => {
        if (time < 0) {
          lastEarly.set(series, Math.max(own(frame), lastEarly.get(series) ?? -Infinity));
          releaseFrame(frame.data);
          return early(1);
        }
        missing = sessionsMissing(series, frame, time, missing);
        const last = lastTime.get(series) ?? -Infinity;
        if (time <= last) return setAside(frame, series, `dated ${time.toFixed(6)} s, not after the series' last frame at ${last.toFixed(6)} s`);
        lastTime.set(series, time);
        subscriber.next({ series, frame, time, missing_before: missing });
      };
      const calibrate = () => {
        if (inBurst()) {
          const f = waiting.at(-1)!.frame;
          emit({ time: Math.max(0, arrival(f)), kind: "fault", source, message: `channel ${f.channel} plane ${f.plane}: the hardware clock is related to the session clock from frames that had waited in rigd's queue (rigd read them late, or they came in a burst): their times may be late by as long as they waited` });
        }
        queuedRun = 0;
        letGoQueuedBytes = 0;
        interval = Number.isFinite(smallestStep) ? smallestStep : 0;
        const ranked = waiting.map((w) => ({ w, d: arrival(w.frame) - w.frame.hardware_time_s! - interval })).sort((a, b) => a.d - b.d);
        let wrong = 0;
        while (wrong < ranked.length - 1 && ranked[wrong]!.d < ranked[wrong + 1]!.d - OUTLIER_S) wrong++;
        const outliers = new Set(ranked.slice(0, wrong).map((r) => r.w));
        fastest = ranked[wrong]!.d;
        offset = fastest;
        fastestSoFar.length = 0;
        waitingBytes = 0;
        smallestStep = Infinity;
        for (const w of letGo.splice(0)) {
          const time = w.frame.hardware_time_s! + offset;
          if (time < 0) {
            send(w.series, w.frame, time, w.missing);
            continue;
          }
          // Lost, and so are the session's frames of a counter gap before it (recordGaps never sees this one).
          const missing = sessionsMissing(w.series, w.frame, time, w.missing);
          if (missing > 0) lose(gapLoss(w.series, time, w.frame, missing));
          lose({ series: w.series, cause: "backlog", time, frames: 1, volumes: 0, detail: `${describe(w.frame)}: came in a burst with a backlog the producer had queued, beyond the ${CALIBRATION_MAX_BYTES / 2 ** 20} MiB rigd holds while it relates the producer's clock to its own` });
        }
        for (const w of waiting.splice(0)) {
          if (outliers.has(w)) setAside(w.frame, w.series, `its hardware time is ${(fastest - (arrival(w.frame) - w.frame.hardware_time_s! - interval)).toFixed(0)} s ahead of its source's other frames`);
          else send(w.series, w.frame, w.frame.hardware_time_s! + offset, w.missing);
        }
      };
      /**
       * Whether the fastest delivery improved by more than half a frame interval over the last `over` frames held:
       * a backlog arrives all at once, so each of its frames looks a frame interval faster than the one before.
       * Enough frames to calibrate: CLOCK_CALIBRATION_FRAMES, or CALIBRATION_BYTES of them, no longer improving.
       */
      const improving = (over: number) => {
        const n = fastestSoFar.length;
        const k = Math.min(n - 1, over);
        return k > 0 && fastestSoFar[n - 1]! < fastestSoFar[n - 1 - k]! - (Number.isFinite(smallestStep) ? smallestStep / 2 : 0);
      };
      const settled = () =>
        (!inBurst() || outwaited()) &&
        ((waiting.length >= CLOCK_CALIBRATION_FRAMES && !improving(CLOCK_CALIBRATION_FRAMES / 2)) ||
          (waitingBytes >= CALIBRATION_BYTES && !improving(DRAINING_FRAMES)) ||
          waitingBytes >= CALIBRATION_MAX_BYTES); // frames so large that the hold cannot let one go and keep DRAINING_FRAMES
      /** Takes the oldest waiting frame out of the calibration's hold. */
      const oldestWaiting = () => {
        const w = waiting.shift()!;
        fastestSoFar.shift();
        waitingBytes -= w.frame.data.byteLength;
        return w;
      };
      const place = (series: string, frame: Frame, missing: number) => {
        if (clock === "arrival") return send(series, frame, arrival(frame), missing);
        const hardware = frame.hardware_time_s!;
        boundBy(frame);
        if (offset === undefined) {
          const step = waiting.length ? Math.abs(hardware - waiting[waiting.length - 1]!.frame.hardware_time_s!) : 0;
          if (step > 0) smallestStep = Math.min(smallestStep, step);
          waiting.push({ frame, series, missing });
          waitingBytes += frame.data.byteLength;
          queuedRun = frame.queued ? queuedRun + 1 : 0;
          fastestSoFar.push(Math.min(fastestSoFar.at(-1) ?? Infinity, arrival(frame) - hardware));
          // A backlog drains faster than it was acquired: its older frames are soon proven to be from before the
          // start, and go without waiting, so that they never fill the calibration's hold.
          while (waiting.length && provablyEarly(waiting[0]!.frame)) {
            const w = oldestWaiting();
            send(w.series, w.frame, w.frame.hardware_time_s! + earliest[1]!, w.missing);
          }
          // Full while a backlog still drains, or still comes out of rigd's queue: its oldest frame goes, its time
          // judged once the clock is known.
          while (waitingBytes >= CALIBRATION_MAX_BYTES && waiting.length > DRAINING_FRAMES && (improving(DRAINING_FRAMES) || (inBurst() && !outwaited()))) {
            if (!improving(DRAINING_FRAMES)) letGoQueuedBytes += waiting[0]!.frame.data.byteLength;
            const w = oldestWaiting();
            releaseFrame(w.frame.data);
            letGo.push(w);
          }
          if (settled()) calibrate();
          return;
        }
        if (provablyEarly(frame)) return send(series, frame, hardware + earliest[1]!, missing);
        fastest = Math.min(fastest, arrival(frame) - hardware - interval);
        if (hardware > latestHardware && offset > fastest) offset = Math.max(fastest, offset - interval / 2);
        latestHardware = Math.max(latestHardware, hardware);
        send(series, frame, hardware + offset, missing);
      };
      /** Why `frame` cannot be the frame after `from` in a stream (counter and time), or undefined when it can. */
      const continues = (from: { counter: number; time: number; interval: number }, frame: Frame): string | undefined => {
        const steps = frame.counter - from.counter;
        const dt = own(frame) - from.time;
        if (steps < 1) return `its counter does not advance from ${from.counter}`;
        if (dt <= 0) return `its time does not advance from ${from.time} s`;
        // A counter that skips more values than the time allows; a few are let pass, since a clock stamped in
        // software jitters by about a frame (the interval is the smallest step seen, so it shrinks with jitter).
        if (from.interval > 0 && dt < (0.5 * steps - 2) * from.interval) {
          return `its counter jumps by ${steps} from ${from.counter} in ${dt.toFixed(6)} s, where ${steps} frames take ${(steps * from.interval).toFixed(3)} s`;
        }
        return undefined;
      };
      /** Why `frame`'s hardware time cannot be true on the session clock as calibrated, or undefined. */
      const dated = (frame: Frame): string | undefined => {
        const ahead = clock === "hardware" && offset !== undefined ? own(frame) + offset - arrival(frame) : 0;
        return ahead > FUTURE_TOLERANCE_S ? `its hardware time dates it ${ahead.toFixed(1)} s after it arrived` : undefined;
      };
      const advance = (state: StreamState, frame: Frame) => {
        const steps = frame.counter - state.counter;
        const dt = own(frame) - state.time;
        state.interval = state.interval > 0 ? Math.min(state.interval, dt / steps) : dt / steps;
        state.counter = frame.counter;
        state.time = own(frame);
        return steps - 1;
      };
      return frames.subscribe({
        next: (frame) => {
          const route = routes.get(routeKey(source, frame.channel, frame.plane));
          if (!route) return unrouted(frame);
          const key = frame.channel * 65536 + frame.plane;
          const state = streams.get(key);
          if (!state) {
            streams.set(key, { counter: frame.counter, time: own(frame), interval: 0 });
            return place(route.series, frame, 0);
          }
          const why = continues(state, frame) ?? dated(frame);
          const doubt = state.doubt;
          if (why === undefined) {
            if (doubt) setAside(doubt.frame, route.series, doubt.why);
            delete state.doubt;
            // A frame set aside whose counter lies in the gap arrived: it is counted once, as set aside.
            const counted = doubt && doubt.frame.counter > state.counter && doubt.frame.counter < frame.counter ? 1 : 0;
            return place(route.series, frame, advance(state, frame) - counted);
          }
          if (doubt && continues({ counter: doubt.frame.counter, time: own(doubt.frame), interval: state.interval }, frame) === undefined) {
            // The stream goes on from the doubted frame: the acquisition restarted there (counter and clock
            // begin anew), or its clock is not where the session clock put it — dated after they arrive, two
            // frames in a row cannot both be wrong.
            const clockBack = own(doubt.frame) < state.time;
            const counterBack = doubt.frame.counter <= state.counter;
            const misdated = dated(doubt.frame) !== undefined && dated(frame) !== undefined;
            const recalibrate = clock === "hardware" && offset !== undefined && (clockBack || misdated);
            const what = clockBack || counterBack ? `the acquisition restarted (counter ${state.counter} → ${doubt.frame.counter}${clockBack ? `, clock ${state.time} s → ${own(doubt.frame)} s` : ""})` : `frames are dated after they arrive (${dated(frame)})`;
            emit({
              time: Math.max(0, arrival(doubt.frame)),
              kind: "fault",
              source,
              message: `channel ${frame.channel} plane ${frame.plane}: ${what}${recalibrate ? ": relating the hardware clock to the session clock anew" : ""}`,
            });
            if (recalibrate) {
              offset = undefined;
              earliest.fill(Infinity);
            }
            streams.set(key, { counter: doubt.frame.counter, time: own(doubt.frame), interval: 0 });
            place(route.series, doubt.frame, 0);
            return place(route.series, frame, advance(streams.get(key)!, frame));
          }
          if (doubt) setAside(doubt.frame, route.series, doubt.why);
          state.doubt = { frame, series: route.series, why };
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          // A doubted last frame has nothing after it to vouch for it.
          for (const { doubt } of streams.values()) if (doubt) setAside(doubt.frame, doubt.series, `${doubt.why}, and no frame came after it`);
          if (waiting.length) calibrate();
          subscriber.complete();
        },
      });
    });
}

/** The loss of the `n` frames a counter gap before `frame` (at session time `time`) lost. */
function gapLoss(series: string, time: number, frame: Frame, n: number): Loss {
  const c = frame.counter;
  return { series, cause: "producer_gap", time, frames: n, volumes: 0, detail: `${n === 1 ? `counter ${c - 1}` : `counters ${c - n}–${c - 1}`} never came, before ${c} on channel ${frame.channel} plane ${frame.plane}` };
}

/** gaps: every counter gap becomes a loss of its series, at the frame after it; no frame is ever invented. */
export function recordGaps(lose: (loss: Loss) => void): OperatorFunction<TaggedFrame, TaggedFrame> {
  return map((t) => {
    if (t.missing_before > 0) lose(gapLoss(t.series, t.time, t.frame, t.missing_before));
    return t;
  });
}

/**
 * assemble: planes 0 … depths-1 of one channel's volume (one hardware counter value) go on one by one as they
 * arrive, in order, as the planes of that volume. A volume with a missing plane — lost in the middle, at its
 * start, or unfinished when the stream ends — is dropped: the planes of it that went on are taken back (an
 * `incomplete` sample after them, which counts them lost), those after are dropped here; each volume recorded
 * once. So are volumes of which no plane arrived: a volume of invented planes would be worse than a gap.
 */
export function assembleVolumes(routes: ReadonlyMap<string, Route>, lose: (loss: Loss) => void): OperatorFunction<TaggedFrame, Sample> {
  return (frames: Observable<TaggedFrame>) =>
    new Observable<Sample>((subscriber) => {
      // Looked up once, not per frame: this runs for every frame of every series.
      const depthsOf = new Map([...routes.values()].map((r) => [r.series, r.depths]));
      /** Per series, the volume whose planes are going on: its counter, time, planes so far and the last's arrival. */
      const open = new Map<string, { counter: number; time: number; planes: number; received: number }>();
      // The volume whose planes are being skipped, per series, so each broken volume is recorded once.
      const skipping = new Map<string, number>();
      const lastCounter = new Map<string, number>();
      const takeBack = (series: string, v: { counter: number; time: number; planes: number; received: number }, why: string) => {
        open.delete(series);
        skipping.set(series, v.counter);
        subscriber.next({ series, time: v.time, received: v.received, incomplete: { planes: v.planes, detail: `volume ${v.counter}: ${why}` } });
      };
      return frames.subscribe({
        next: (t) => {
          const depths = depthsOf.get(t.series) ?? 0;
          if (depths === 0) {
            subscriber.next({ series: t.series, data: t.frame.data, time: t.time, received: t.frame.received_time });
            return;
          }
          const { counter, plane } = t.frame;
          // Whole volumes of which no plane arrived show only as a jump in the volume counter.
          const last = lastCounter.get(t.series);
          lastCounter.set(t.series, Math.max(counter, last ?? counter));
          if (last !== undefined && counter > last + 1) {
            const n = counter - last - 1;
            lose({ series: t.series, cause: "incomplete_volume", time: t.time, frames: 0, volumes: n, detail: `no plane of volume${n === 1 ? ` ${last + 1}` : `s ${last + 1}–${counter - 1}`} arrived` });
          }
          const v = open.get(t.series);
          if (v && (counter !== v.counter || plane !== v.planes)) takeBack(t.series, v, `plane ${v.planes} never arrived`);
          if (!open.has(t.series)) {
            if (plane !== 0) {
              releaseFrame(t.frame.data);
              if (skipping.get(t.series) !== counter) {
                skipping.set(t.series, counter);
                lose({ series: t.series, cause: "incomplete_volume", time: t.time, frames: 1, volumes: 1, detail: `volume ${counter}: planes before ${plane} never arrived` });
              } else lose({ series: t.series, cause: "incomplete_volume", time: t.time, frames: 1, volumes: 0, detail: `volume ${counter}: plane ${plane} arrived after the volume was dropped` });
              return;
            }
            open.set(t.series, { counter, time: t.time, planes: 0, received: 0 });
          }
          const volume = open.get(t.series)!;
          volume.planes++;
          volume.received = t.frame.received_time;
          if (volume.planes === depths) open.delete(t.series);
          subscriber.next({ series: t.series, plane: t.frame.data, depth: plane, depths, time: volume.time, received: t.frame.received_time });
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          for (const [series, v] of open) takeBack(series, v, `the recording stopped after plane ${v.planes - 1}`);
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
    if ("incomplete" in s) return true;
    const k = passed.get(s.series) ?? 0;
    if (k >= n) {
      releaseSample(s);
      return false;
    }
    if (!completesSample(s)) return true;
    passed.set(s.series, k + 1);
    if (!reported && [...passed.values()].every((v) => v >= n)) {
      reported = true;
      full();
    }
    return true;
  });
}

/** How far the writer may fall behind before the source is held. */
export interface WriteLimits {
  /** Bytes of samples waiting for the writer. */
  maxBytes: number;
  /** Age (ms since its last frame arrived) of the oldest sample waiting for the writer. */
  maxLagMs: number;
}

/**
 * wait for the writer: samples go to `write` one at a time, in order, with their bytes (counted before `write`
 * may transfer the buffers). When more than `maxBytes` wait, or the
 * oldest has waited longer than `maxLagMs`, the source is held (`hold`) until the queue is back within both:
 * rigd stops reading, its socket's small queue fills, and the producer's sends fail, so the producer — which
 * is where the hardware is — knows at once and its counter shows each frame it could not send. Nothing that
 * reached rigd is dropped here, and what waits in memory stays bounded in bytes and in time (a crash loses it).
 */
export function boundedWrite(limits: WriteLimits, write: (s: Sample, bytes: number) => Promise<void>, hold: (until: Promise<void>) => void, depth: (bytes: number) => void, now: () => number = Date.now): OperatorFunction<Sample, Sample> {
  let queued = 0;
  const arrivals: number[] = [];
  let wake: (() => void) | undefined;
  let room: Promise<void> | undefined;
  /** Past either bound: the source is held, and stays held until this is false. */
  const over = () => queued > limits.maxBytes || (arrivals.length > 0 && now() - arrivals[0]! > limits.maxLagMs);
  return (samples) =>
    samples.pipe(
      mergeMap((s) => {
        const bytes = sampleBytes(s);
        queued += bytes;
        arrivals.push(s.received);
        depth(queued);
        if (over()) {
          room ??= new Promise<void>((resolve) => (wake = resolve));
          hold(room);
        }
        // The byte count travels with the sample: write() may transfer its buffers, which empties them.
        return of({ s, bytes });
      }),
      concatMap(({ s, bytes }) =>
        from(
          write(s, bytes).finally(() => {
            queued -= bytes;
            arrivals.shift();
            depth(queued);
            // Not let go after each write: a source let go takes in a frame or two before it is held again, and a
            // queue one sample shorter grew by that at each write, past its bound to every frame slot (192 MiB).
            if (over()) return;
            wake?.();
            wake = undefined;
            room = undefined;
          }),
        ).pipe(map(() => s)),
      ),
    );
}
