// Losses of a session, counted by series and cause for status and the summary, and written to the event
// record per burst: the first loss of a kind at once, then at most one entry per interval with the sum,
// so that a producer losing every other frame writes a few entries a second, not one per frame.
import { type EngineEvent, LOSS_CAUSES, type Loss, type LossCause } from "./stages.js";

/** One series' losses: frames (planes, for a volumetric series) and whole volumes, by cause. */
export interface SeriesLosses {
  frames: Record<LossCause, number>;
  volumes: Record<LossCause, number>;
}

const zero = () => Object.fromEntries(LOSS_CAUSES.map((c) => [c, 0])) as Record<LossCause, number>;

/** How each cause reads in the event record ("N frame(s) missing: …" is what `rigd inspect` and pynwb users parse). */
const WORDING: Record<LossCause, { frames: string; volumes: string }> = {
  producer_gap: { frames: "frames missing: the producer's counter skipped them", volumes: "volumes dropped: no plane of them arrived" },
  implausible: { frames: "frames set aside: their counter or time cannot be true", volumes: "volumes dropped: a plane was set aside" },
  incomplete_volume: { frames: "planes discarded: their volume was dropped before they came", volumes: "volumes dropped: incomplete" },
  not_written: { frames: "frames missing: not written to the file", volumes: "volumes dropped: not written to the file" },
  backlog: { frames: "frames let go: they came with a producer's backlog while its clock was being related", volumes: "volumes dropped: a plane was let go with a producer's backlog" },
};

interface Window {
  frames: number;
  volumes: number;
  bursts: number;
  time: number;
  latest: string;
  timer: NodeJS.Timeout;
}

export class LossRecorder {
  private readonly bySeries = new Map<string, SeriesLosses>();
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly emit: (e: EngineEvent) => void,
    private readonly intervalMs = 1000,
  ) {}

  /** Counts a loss; the event record hears of it at once, or summed at the end of the interval. */
  record(loss: Loss): void {
    const counts = this.bySeries.get(loss.series) ?? { frames: zero(), volumes: zero() };
    this.bySeries.set(loss.series, counts);
    counts.frames[loss.cause] += loss.frames;
    counts.volumes[loss.cause] += loss.volumes;
    const key = `${loss.series}\n${loss.cause}`;
    const open = this.windows.get(key);
    if (open) {
      open.frames += loss.frames;
      open.volumes += loss.volumes;
      open.bursts++;
      open.latest = loss.detail;
      return;
    }
    this.write(loss.series, loss.cause, { frames: loss.frames, volumes: loss.volumes, bursts: 1, time: loss.time, latest: loss.detail });
    const timer = setTimeout(() => this.release(key), this.intervalMs).unref();
    this.windows.set(key, { frames: 0, volumes: 0, bursts: 0, time: loss.time, latest: "", timer });
  }

  /** Per series, what was lost and why. */
  get losses(): Record<string, SeriesLosses> {
    return Object.fromEntries([...this.bySeries].map(([s, l]) => [s, { frames: { ...l.frames }, volumes: { ...l.volumes } }]));
  }

  /** Frames (planes) lost in all, every series and cause. */
  get frames(): number {
    return [...this.bySeries.values()].reduce((n, l) => n + Object.values(l.frames).reduce((a, b) => a + b, 0), 0);
  }

  /** Writes what the open windows hold (at the end of a session). */
  flush(): void {
    for (const key of [...this.windows.keys()]) this.release(key);
  }

  private release(key: string): void {
    const w = this.windows.get(key)!;
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.bursts === 0) return;
    const [series, cause] = key.split("\n") as [string, LossCause];
    this.write(series, cause, w);
  }

  private write(series: string, cause: LossCause, w: Pick<Window, "frames" | "volumes" | "bursts" | "time" | "latest">): void {
    const within = w.bursts > 1 ? ` (${w.bursts} times within ${this.intervalMs} ms; the latest: ${w.latest})` : ` (${w.latest})`;
    // A volumetric loss names volumes first: they are the samples the series lacks.
    const text = w.volumes > 0 ? `${counted(w.volumes, WORDING[cause].volumes)}${w.frames ? `, with ${counted(w.frames, "planes that arrived")}` : ""}` : counted(w.frames, WORDING[cause].frames);
    this.emit({ time: w.time, kind: "dropped_frames", source: series, message: `${text}${within}` });
  }
}

/** "1 frame", "2 frames": `words` begins with a plural count noun (frames, planes, volumes), made singular for one. */
export function counted(n: number, words: string): string {
  return `${n} ${n === 1 ? words.replace(/^(frame|plane|volume)s/, "$1") : words}`;
}
