// What a user sees of trouble on the simulated two-photon rig (Mai Tai and Scientifica PMTs over real ptys, frames
// over a real ZeroMQ socket): a device lost and back, a PMT trip and its reset, malformed frame messages, and a
// producer closing at the end of its acquisition told from one going away mid-acquisition, in status, the log
// and the event record.
import { afterEach, describe, expect, it } from "vitest";
import { Push } from "zeromq";
import { type DeviceStatus, describeTrouble } from "../../src/acquisition/devices.js";
import { Session } from "../../src/acquisition/session.js";
import type { RigProfile } from "../../src/config/index.js";
import { malformedMessages } from "../../simulators/zmq-scanner.js";
import { dataset, openRead, tempPath } from "../nwb/h5read.js";
import { metadata, simulatedRig, until } from "./sim-rig.js";

const producers: Push[] = [];

afterEach(() => {
  for (const p of producers.splice(0)) p.close();
});

/** sim-2p with no scanner of its own: frames come from the test's producers. */
const rigWithoutScanner = () => simulatedRig("sim-2p.yaml", (yaml) => yaml.replace(/(driver: zmq-frames\n(?:.*\n)*?)\s+simulated: true\n/, "$1"));

/** A session on it, and what the session logs. */
async function recording(name: string) {
  const { profile, sims, rig } = await rigWithoutScanner();
  const log: string[] = [];
  const out = tempPath(name);
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig, log: (line) => log.push(line) });
  const device = (name: string): DeviceStatus => session.status().devices[name]!;
  return { profile, sims, log, out, session, device };
}

/** A PUSH socket connected to the profile's frame source, as acquisition software connects. */
function producer(profile: RigProfile): Push {
  const address = profile.bindings.flatMap((b) => (b.driver === "zmq-frames" ? [b.address] : []))[0]!;
  const socket = new Push({ linger: 1000 });
  socket.connect(address);
  producers.push(socket);
  return socket;
}

/** A 512 × 512 uint16 frame of sim-2p's source (two channels, one plane) in protocol v1. */
const frame = (counter: number, channel: number) => [
  Buffer.from(JSON.stringify({ version: 1, counter, hardware_time_s: counter / 30, channel, plane: 0, shape: [512, 512], dtype: "uint16" })),
  Buffer.alloc(512 * 512 * 2),
];

const frameSource = (d: DeviceStatus) => {
  if (d.kind !== "frame_source") throw new Error(`a ${d.kind}, not a frame source`);
  return d;
};

describe("devices in status, the log and the summary", () => {
  it("a laser that vanishes mid-session shows as disconnected, then back with the time it was gone; the log says both", async () => {
    const { sims, log, session, device } = await recording("laser-lost.nwb");
    expect(device("TiSapphireLaser")).toEqual({ kind: "laser", connection: "connected", lost: { times: 0, seconds: 0, since: null }, fault: null });

    const vanished = sims.lasers.get("TiSapphireLaser")!.vanish(1500);
    await until(() => device("TiSapphireLaser").connection === "disconnected", "the laser lost");
    expect(device("TiSapphireLaser").lost).toMatchObject({ times: 1, since: expect.any(Number) });
    await vanished;
    await until(() => device("TiSapphireLaser").connection === "connected", "the laser back");

    const { lost } = device("TiSapphireLaser");
    expect(lost.times).toBe(1);
    expect(lost.since).toBeNull();
    // Gone while the port was (1.5 s), and at most until the reconnect's backoff (200 ms doubling) next tried.
    expect(lost.seconds).toBeGreaterThan(1.4);
    expect(lost.seconds).toBeLessThan(6);
    expect(log).toEqual([expect.stringMatching(/^TiSapphireLaser: disconnected \(Mai Tai on .+\)$/), `TiSapphireLaser: back after ${lost.seconds.toFixed(1)} s`]);
    // The PMTs on their own line were never lost.
    expect(device("PMTGreen")).toMatchObject({ connection: "connected", lost: { times: 0 } });
    await session.stop();
    // What rigd acquire's summary line adds.
    expect(describeTrouble(session.status().devices)).toBe(`TiSapphireLaser lost once, ${lost.seconds.toFixed(1)} s in all`);
  });

  it("a tripped PMT shows the trip as its last fault, cleared once reset_trip has reset it", async () => {
    const { sims, log, session, device } = await recording("pmt-trip.nwb");
    sims.pmts.get("PMTGreen")!.lightLevel = 500; // ~344 µA at 0.95 V: over the 100 µA limit
    await until(() => device("PMTGreen").fault !== null, "the trip");
    const tripped = device("PMTGreen").fault!;
    expect(tripped.message).toBe("overload protection tripped: the PMT is off until reset_trip");
    expect(tripped.time).toBeGreaterThan(0);
    expect(tripped.time).toBeLessThanOrEqual(session.now());
    // The other channel of the same controller did not trip.
    expect(device("PMTRed").fault).toBeNull();

    sims.pmts.get("PMTGreen")!.lightLevel = 0;
    await session.set("PMTGreen", "reset_trip", true); // resolves once the controller, rebooted, reads untripped
    expect(device("PMTGreen").fault).toBeNull();
    expect(log).toEqual(["PMTGreen: fault: overload protection tripped: the PMT is off until reset_trip", "PMTGreen: fault cleared"]);
    await session.stop();
  });

  it("counts the session's malformed frame messages by reason, and not those from before it; the log says them as they come", async () => {
    const { profile, rig } = await rigWithoutScanner();
    const push = producer(profile);
    const source = rig.frameSources.get("ScanFrames")!;
    await push.send([Buffer.from("a header alone")]);
    await until(() => source.counts.rejected === 1, "the message before the session");

    const log: string[] = [];
    const session = await Session.start({ profile, metadata, out: tempPath("rejects.nwb"), overwrite: false, devices: rig, log: (line) => log.push(line) });
    const bad = malformedMessages({ channels: 2, planes: 1, height: 512, width: 512, dtype: "uint16" });
    for (const { parts } of bad) await push.send(parts);
    await until(() => source.counts.rejected === 1 + bad.length, "every malformed message");

    const expected = { parts: 0, header: 0, version: 0, field: 0, dtype: 0, shape: 0, size: 0 };
    for (const { reason } of bad) expected[reason]++;
    // Each reason at once (a recording whose every frame is refused must not look fine until its summary), the
    // rest of a burst summed: a line per reason and second at most.
    const reasons = Object.keys(expected).filter((r) => expected[r as keyof typeof expected] > 0);
    // ("parts" was said before the session, so its burst here is summed: "2 more like this within 1000 ms, the latest: …")
    const said = (reason: string) => log.some((line) => /^ScanFrames: frames on \S+: /.test(line) && line.includes(`rejected a message (${reason}): `));
    await until(() => reasons.every(said), "a log line for every reason", 5000);
    expect(log.length).toBeLessThanOrEqual(2 * reasons.length);
    expect(frameSource(session.status().devices.ScanFrames!)).toEqual({
      kind: "frame_source",
      connection: "connected",
      producers: 1,
      lost: { times: 0, seconds: 0, since: null },
      fault: null,
      rejected: expected,
    });
    await session.stop();
    // Once stopped, status keeps the session's count.
    await push.send([Buffer.from("after the session")]);
    await until(() => source.counts.rejected === 2 + bad.length, "the message after the session");
    expect(frameSource(session.status().devices.ScanFrames!).rejected).toEqual(expected);
    expect(describeTrouble(session.status().devices)).toBe(`ScanFrames rejected ${bad.length} messages (2 parts, 4 header, 1 version, 4 field, 2 dtype, 4 shape, 2 size)`);
  });

  it("tells a producer that closes at the end of its acquisition from one that goes away mid-acquisition", async () => {
    const { profile, log, out, session, device } = await recording("producers-closing.nwb");
    const scanFrames = () => frameSource(device("ScanFrames"));
    expect(scanFrames()).toMatchObject({ connection: "disconnected", producers: 0 });

    // A whole acquisition (both channels of counter 0), then the socket closed, as an acquisition ends: no loss.
    const ending = producer(profile);
    await ending.send(frame(0, 0));
    await ending.send(frame(0, 1));
    await until(() => scanFrames().producers === 1, "the first producer");
    ending.close();
    await until(() => scanFrames().producers === 0, "the first producer's close");
    expect(scanFrames()).toMatchObject({ connection: "disconnected", lost: { times: 0, seconds: 0, since: null } });
    expect(log).toEqual([]);

    // One channel of counter 1, then gone: the other channel never came.
    const failing = producer(profile);
    await failing.send(frame(1, 0));
    await until(() => scanFrames().producers === 1, "the second producer");
    failing.close();
    await until(() => scanFrames().lost.times === 1, "the second producer's loss");
    expect(scanFrames()).toMatchObject({ connection: "disconnected", producers: 0, lost: { since: expect.any(Number) } });

    // A producer back ends the loss.
    producer(profile);
    await until(() => scanFrames().producers === 1, "a producer back");
    const { lost } = scanFrames();
    expect(lost).toMatchObject({ times: 1, since: null });
    expect(lost.seconds).toBeGreaterThan(0);
    expect(log).toEqual([
      expect.stringMatching(/^ScanFrames: disconnected \(frames on tcp:\/\/127\.0\.0\.1:\d+: a producer went away mid-acquisition: 1 of the 2 frames of counter 1 came /),
      `ScanFrames: back after ${lost.seconds.toFixed(1)} s`,
    ]);
    await session.stop();

    const events = dataset(await openRead(out), "acquisition/rig_events/data").value as string[];
    expect(events).toContainEqual(expect.stringMatching(/^producer_closed \[ScanFrames\] frames on .+: a producer closed its connection after a whole acquisition \(counter 0, every channel and plane\)$/));
    expect(events).toContainEqual(expect.stringMatching(/^disconnected \[ScanFrames\] frames on .+: a producer went away mid-acquisition: 1 of the 2 frames of counter 1 came/));
    expect(events.filter((e) => e.startsWith("producer_connected"))).toHaveLength(3);
  });
});
