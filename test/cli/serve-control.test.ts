// rigd serve as a lab's scripts meet it (issue 12): recordings confined to the data directory, status
// answered while a slow setting or a burst of marks is under way, and SIGINT at any moment a clean stop.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Dealer } from "zeromq";
import { describe, expect, it } from "vitest";
import { summarize } from "../../src/nwb/inspect.js";
import { dataset, openRead, tempPath } from "../nwb/h5read.js";
import { client, serve } from "./serve-child.js";

/** Asks status every `everyMs` until `until` settles; resolves with each answer's round trip in ms. */
async function statusLatencies(control: string, until: Promise<unknown>, everyMs = 10): Promise<number[]> {
  const { ask, close } = client(control);
  let done = false;
  void until.finally(() => (done = true));
  const times: number[] = [];
  while (!done) {
    const t0 = performance.now();
    expect((await ask({ cmd: "status" })).ok).toBe(true);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  close();
  return times;
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;

const session = { session_description: "Daemon control test.", experimenter: ["Doe, Jane"], subject: { subject_id: "m1", species: "Mus musculus", sex: "F", age: "P90D" } };

describe("rigd serve", () => {
  it("writes only inside its data directory, and force only ever replaces an NWB file", async () => {
    const { control, dataDir } = await serve();
    const { ask, close } = client(control);
    const outside = dirname(tempPath("elsewhere/x"));
    mkdirSync(outside, { recursive: true });
    symlinkSync(outside, join(dataDir, "link"));
    const notes = join(dataDir, "notes.nwb");
    writeFileSync(notes, "a lab notebook that happens to end in .nwb\n");
    const refused = async (out: string, force?: boolean) => {
      const reply = await ask({ cmd: "start", out, session, ...(force === undefined ? {} : { force }) });
      expect(reply.ok, out).toBe(false);
      return reply.error!;
    };
    expect(await refused("../../etc/x.nwb")).toMatchObject({ code: "invalid_out", message: expect.stringContaining("is outside the data directory") });
    expect((await refused(join(outside, "abs.nwb"))).message).toContain("is outside the data directory");
    expect((await refused("link/x.nwb")).message).toMatch(/leads outside the data directory \(through .*link → .*elsewhere\)/);
    expect((await refused("session.txt")).message).toContain("expected a file name ending in .nwb");
    // The message names the request's own field.
    expect((await refused("notes.nwb")).message).toBe('notes.nwb exists; pass "force": true to replace it');
    expect((await refused("notes.nwb", true)).message).toBe('notes.nwb exists and is not an NWB file; "force": true only ever replaces an NWB file');
    expect(readFileSync(notes, "utf8")).toBe("a lab notebook that happens to end in .nwb\n");
    expect(existsSync(join(outside, "abs.nwb")) || existsSync(join(outside, "x.nwb"))).toBe(false);
    // A subfolder of the data directory is made; an earlier recording is replaced with force.
    expect((await ask({ cmd: "start", out: "mouse1/day1.nwb", session })).result).toMatchObject({ state: "recording", out: join(dataDir, "mouse1/day1.nwb") });
    expect((await ask({ cmd: "stop" })).ok).toBe(true);
    expect((await ask({ cmd: "start", out: "mouse1/day1.nwb", session, force: true })).ok).toBe(true);
    expect((await ask({ cmd: "stop" })).ok).toBe(true);
    close();
  });

  it("answers status at once while a PMT's reset_trip is under way and while 10 000 marks pour in; stop is not held up", async () => {
    const { control, dataDir } = await serve();
    const { ask, close } = client(control);
    expect((await ask({ cmd: "start", out: "busy.nwb", session })).ok).toBe(true);

    // reset_trip reboots the controller (seconds): status answers meanwhile, every one before the reset's own reply.
    const reset = client(control);
    const resetting = reset.ask({ cmd: "set", device: "PMTGreen", property: "reset_trip", value: true });
    const duringReset = await statusLatencies(control, resetting);
    expect((await resetting).ok).toBe(true);
    reset.close();
    expect(duringReset.length).toBeGreaterThan(10);

    // 10 000 marks from a DEALER client, all sent at once (a script's loop that does not wait).
    const burst = new Dealer({ linger: 0, receiveHighWaterMark: 20_000 });
    burst.connect(control);
    const marks = 10_000;
    const answered = (async () => {
      let n = 0;
      for await (const [, body] of burst) if (JSON.parse(body!.toString()).ok && ++n === marks) return n;
      return n;
    })();
    const sending = (async () => {
      for (let i = 0; i < marks; i++) await burst.send(["", JSON.stringify({ cmd: "mark", text: `trial ${i}` })]);
    })();
    const duringMarks = await statusLatencies(control, Promise.all([sending, answered]));
    expect(await answered).toBe(marks);
    const t0 = performance.now();
    const stopped = await ask({ cmd: "stop" });
    const stopMs = performance.now() - t0;
    expect(stopped.ok).toBe(true);
    burst.close();
    close();
    console.log(
      `status round trip p99: ${p99(duringReset).toFixed(1)} ms during reset_trip (${duringReset.length} asked), ` +
        `${p99(duringMarks).toFixed(1)} ms during ${marks} marks (${duringMarks.length} asked); stop after the marks took ${stopMs.toFixed(0)} ms`,
    );
    const file = await summarize(join(dataDir, "busy.nwb"));
    const recorded = file.events.filter((e) => e.text.startsWith("mark [user] trial "));
    expect(recorded.map((e) => e.text)).toEqual(Array.from({ length: marks }, (_, i) => `mark [user] trial ${i}`));
    // Generous bounds (the machine may be busy): the goals are printed above, these catch a REP-style queue.
    expect(p99(duringReset)).toBeLessThan(1000);
    expect(p99(duringMarks)).toBeLessThan(1000);
  }, 120_000);

  it.each(["SIGINT", "SIGTERM"] as const)("stops cleanly and exits 0 on %s to its whole process group while recording (a terminal's Ctrl-C)", async (signal) => {
    const { control, dataDir, exit, stderr, killGroup } = await serve();
    const { ask, close } = client(control);
    expect((await ask({ cmd: "start", out: "grouped.nwb", session })).ok).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    // The simulated scanner's process gets the signal too: it is rigd's to stop, not the signal's.
    killGroup(signal);
    expect(await exit).toBe(0);
    close();
    expect(stderr()).not.toMatch(/Unhandled|Napi::Error|scanner process ended/);
    const f = await openRead(join(dataDir, "grouped.nwb"));
    try {
      expect(f.get("general/data_collection")).not.toBeNull();
      expect(dataset(f, "acquisition/PlanarMicroscopySeriesGreen/data").shape![0]).toBeGreaterThan(20);
    } finally {
      f.close();
    }
  }, 60_000);

  it.each(["start", "set"] as const)("stops cleanly and exits 0 on SIGINT while a %s request is under way", async (cmd) => {
    const { control, dataDir, exit, stderr, kill } = await serve();
    const { ask, close } = client(control);
    if (cmd === "set") expect((await ask({ cmd: "start", out: "interrupted.nwb", session })).ok).toBe(true);
    const pending = ask(cmd === "start" ? { cmd: "start", out: "interrupted.nwb", session } : { cmd: "set", device: "PMTGreen", property: "reset_trip", value: true });
    await new Promise((r) => setTimeout(r, 200));
    kill("SIGINT");
    await new Promise((r) => setTimeout(r, 100));
    kill("SIGINT"); // an impatient second Ctrl-C
    // The request under way is still answered before the daemon goes.
    expect((await pending).ok).toBe(true);
    expect(await exit).toBe(0);
    close();
    expect(stderr()).not.toMatch(/Socket is closed|Unhandled|TypeError|EPIPE/);
    expect(stderr()).toContain("SIGINT: already stopping");
    // Closed as by stop: /general/data_collection is written last, at close.
    const f = await openRead(join(dataDir, "interrupted.nwb"));
    try {
      expect(f.get("general/data_collection")).not.toBeNull();
    } finally {
      f.close();
    }
  }, 60_000);
});
