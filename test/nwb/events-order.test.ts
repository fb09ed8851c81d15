// The event record takes events in any order and keeps it sorted by time on disk, with each entry's text
// and time paired: callers write every event at once, with no holding back to sort them.
import { describe, expect, it } from "vitest";
import { NwbWriter } from "../../src/nwb/index.js";
import { loadHdf5, readText, releaseLeakedFiles } from "../../src/nwb/hdf5.js";
import { killedRecording } from "../fixtures/killed-recording.js";
import { dataset, openRead, tempPath } from "./h5read.js";

const session = { session_description: "Event order test.", session_start_time: "2026-01-05T09:00:00Z" };

async function eventsOf(path: string): Promise<{ text: string[]; time: number[] }> {
  const f = await openRead(path);
  try {
    return {
      text: dataset(f, "acquisition/rig_events/data").value as string[],
      time: Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array),
    };
  } finally {
    f.close();
  }
}

describe("the event record", () => {
  it("puts an event older than the last written at its place in time; equal times keep their order of arrival", async () => {
    const path = tempPath("order.nwb");
    const w = await NwbWriter.create(path, session);
    const added: [number, string][] = [[1, "a"], [3, "b"], [2, "c"], [5, "d"], [2, "e"], [0.5, "f"], [5, "g"], [4, "h"]];
    for (const [time, message] of added) await w.addEvents([{ time, kind: "mark", source: "user", message }]);
    expect((await w.close()).events).toBe(8);
    const { text, time } = await eventsOf(path);
    expect(time).toEqual([0.5, 1, 2, 2, 3, 4, 5, 5]);
    expect(text).toEqual(["f", "a", "c", "e", "b", "h", "d", "g"].map((m) => `mark [user] ${m}`));
  });

  it("writes a batch as its entries would go one by one, in one go", async () => {
    const path = tempPath("batch.nwb");
    const w = await NwbWriter.create(path, session);
    await w.addEvents([{ time: 1, kind: "mark", source: "user", message: "a" }, { time: 3, kind: "mark", source: "user", message: "b" }]);
    // Out of order within the batch and against the rows already written; equal times keep the batch's order.
    const batch: [number, string][] = [[2, "c"], [5, "d"], [2, "e"], [0.5, "f"], [5, "g"], [4, "h"]];
    await w.addEvents(batch.map(([time, message]) => ({ time, kind: "mark", source: "user", message })));
    // A burst of marks (a client's loop) is one request and one write of each dataset.
    const burst = Array.from({ length: 10_000 }, (_, i) => ({ time: 6 + i / 1e4, kind: "mark", source: "user", message: `burst ${i}` }));
    await w.addEvents(burst);
    expect((await w.close()).events).toBe(10_008);
    const { text, time } = await eventsOf(path);
    expect(time.slice(0, 8)).toEqual([0.5, 1, 2, 2, 3, 4, 5, 5]);
    expect(text.slice(0, 8)).toEqual(["f", "a", "c", "e", "b", "h", "d", "g"].map((m) => `mark [user] ${m}`));
    expect(text.slice(8)).toEqual(burst.map((b) => `mark [user] ${b.message}`));
    expect(time.slice(8)).toEqual(burst.map((b) => b.time));
  });

  it("places an event older than the entries it keeps (60 s, 1000 entries) at the earliest time still open, saying how late it was", async () => {
    const path = tempPath("late.nwb");
    const w = await NwbWriter.create(path, session);
    const mark = (time: number, message: string) => w.addEvents([{ time, kind: "mark", source: "user", message }]);
    await mark(0, "start");
    await mark(10, "ten");
    await mark(100, "hundred"); // the kept entries are now those after 40 s: "ten" is the last one before them
    await mark(50, "fifty"); // after 10 s: still goes in at its own time
    await mark(5, "five"); // before 10 s: goes in at 10 s, late by 5 s
    // 1000 entries at 200.000…200.999 s: the 1000-entry bound leaves 200.000 before the kept ones.
    for (let i = 0; i < 1001; i++) await mark(200 + i / 1000, `burst ${i}`);
    await mark(150, "one-fifty");
    await w.close();
    const { text, time } = await eventsOf(path);
    expect(text.slice(0, 6)).toEqual([
      "mark [user] start",
      "mark [user] ten",
      "mark [user] five (late by 5.000 s: it happened at 5.000 s)",
      "mark [user] fifty",
      "mark [user] hundred",
      "mark [user] burst 0",
    ]);
    expect(time.slice(0, 6)).toEqual([0, 10, 10, 50, 100, 200]);
    expect(text[6]).toBe("mark [user] one-fifty (late by 50.000 s: it happened at 150.000 s)");
    expect(time[6]).toBe(200);
    expect(text[7]).toBe("mark [user] burst 1");
    expect(time[7]).toBeCloseTo(200.001, 9);
    expect(text.length).toBe(1007);
    expect(time.every((t, i) => i === 0 || t >= time[i - 1]!)).toBe(true);
  });

  it("is sorted, with text and time paired, after the writer is killed with SIGKILL while late events arrive", async () => {
    const path = tempPath("killed.nwb");
    const report = await killedRecording(path, 10);
    await loadHdf5();
    const f = await openRead(path);
    const time = Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array);
    // A kill in the middle of an insertion may leave the rows it rewrote unreadable (their strings not yet
    // flushed): readText says which (h5wasm's own reader corrupts its heap on them); rigd recover removes them.
    const text = readText(dataset(f, "acquisition/rig_events/data"));
    f.flush();
    f.close();
    releaseLeakedFiles(path);
    const unreadable = text.flatMap((t, i) => (t === undefined ? [i] : []));
    console.log(`killed after a checkpoint of ${report.events} events: ${text.length} texts and ${time.length} times read back, unreadable rows [${unreadable}]`);
    expect(Math.min(text.length, time.length)).toBeGreaterThanOrEqual(report.events);
    expect(Math.abs(text.length - time.length)).toBeLessThanOrEqual(1);
    // Every entry the checkpoint made durable reads back, but for the newest two: a late entry (0.9 s back,
    // marks every 0.5 s) inserted after the checkpoint rewrites at most those.
    expect(unreadable.every((i) => i >= report.events - 2)).toBe(true);
    // Late entries (dated 0.9 s back) were put among the marks, in time order.
    expect(text.filter((t) => t?.startsWith("command [Laser]")).length).toBeGreaterThan(0);
    expect(time.every((t, i) => i === 0 || t >= time[i - 1]!)).toBe(true);
    for (let i = 0; i < Math.min(text.length, time.length); i++) {
      if (text[i] !== undefined) expect(Number(/t=([\d.]+)$/.exec(text[i]!)![1])).toBeCloseTo(time[i]!, 6);
    }
  });
});
