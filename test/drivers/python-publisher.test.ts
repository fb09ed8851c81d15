// The Python example a lab would start from (examples/publish_frames.py, pyzmq + numpy) feeding the frame
// source: its frames arrive intact, checked against the CRC-32 it prints for every frame it sends.
import { execFile } from "node:child_process";
import { crc32 } from "node:zlib";
import { afterEach, expect, it } from "vitest";
import { ZmqFrameSource } from "../../src/drivers/zmq-frames.js";
import { releaseFrame } from "../../src/frame-slots.js";
import { findPython } from "../python.js";

const python = findPython(["zmq", "numpy"]);
let source: ZmqFrameSource | undefined;

function run(args: string[]): Promise<{ stdout: string; stderr: string; error: Error | null }> {
  return new Promise((resolve) => execFile(python.path!, args, (error, stdout, stderr) => resolve({ stdout, stderr, error })));
}

afterEach(async () => {
  await source?.close();
});

it.skipIf(!python.path)(`receives the Python publisher's frames intact, pixel for pixel${python.skipNote}`, async () => {
  // Not square, so that swapped axes would show.
  const [height, width] = [48, 80];
  source = new ZmqFrameSource({ address: "tcp://127.0.0.1:*", frame_shape: [height, width], data_type: "uint16", channel_count: 2, plane_count: 1 });
  const received = new Map<string, number>();
  source.frames$.subscribe((f) => {
    received.set(`${f.counter} ${f.channel}`, crc32(f.data));
    releaseFrame(f.data); // checked, not kept: its slot is free for the next frame
  });
  await source.connect();

  const args = ["--address", source.endpoint!, "--frames", "150", "--channels", "2", "--height", String(height), "--width", String(width), "--rate", "300"];
  const { stdout, stderr, error } = await run(["examples/publish_frames.py", ...args]);
  expect(error, stderr).toBeNull();
  const sent = stdout.trim().split("\n").map((line) => line.split(" "));
  expect(sent).toHaveLength(300);
  expect(sent.filter(([, , crc]) => crc === "dropped")).toEqual([]);
  const deadline = Date.now() + 5000;
  while (received.size < sent.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

  expect(Object.fromEntries(received)).toEqual(Object.fromEntries(sent.map(([counter, channel, crc]) => [`${counter} ${channel}`, Number(crc)])));
  expect(source.counts).toMatchObject({ frames: 300, unobserved: 0, rejected: 0 });
  expect(source.scanner).toEqual({ line_rate_Hz: 15820, scan_direction: "horizontal", bidirectional: true, pixel_size_um: [1, 1], zoom: 1 });
});
