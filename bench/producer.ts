// The benchmark's frame producer: a process of its own speaking frame protocol v1 (docs/frame-protocol-v1.md)
// as a camera's or digitizer's acquisition loop would, fast enough for 2048² frames at 100+ per second. It
// connects a PUSH socket, optionally waits for rigd's output file (rigd listens from before the file appears),
// then sends each plane on a fixed schedule measured from its start: no drift, never early, and late frames
// go out at once. Sends are non-blocking; a failed one (EAGAIN, queues full) is dropped and its counter still
// advances, so rigd sees a gap. The last counter is sent blocking, so that a gap at the very end is seen too.
// The pixels are a few buffers made before the start and sent again and again: zeromq.js sends a buffer
// without copying it, so a frame costs the producer a header and a syscall's share, not a memcpy.
//
// Prints one JSON line when it sends the first frame, {"started_ms"}, and one at the end, its summary.
//
//   node dist/bench/producer.js '{"address": "tcp://127.0.0.1:5600", "rate": 10, "seconds": 5, "height": 2048, "width": 2048}'
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { Push } from "zeromq";

/**
 * How long the last frames may wait for rigd at the end: the final send's timeout, and ZMQ_LINGER (frames still
 * queued when it expires are discarded undelivered). Long, since a rigd whose writer is behind reads nothing.
 */
export const LINGER_MS = 60_000;

export interface ProducerOptions {
  address: string;
  /** Counters per second: frames per second of each channel with one plane, volumes per second with several. */
  rate: number;
  /** How long to send: counters 0 … round(seconds × rate) − 1. */
  seconds: number;
  channels?: number;
  planes?: number;
  height?: number;
  width?: number;
  /** Wait until this file exists before sending counter 0. */
  startWhenExists?: string;
  /** The send queue in bytes of pixels (ZMQ_SNDHWM in messages, at least 4): a camera's buffer. Default 128 MiB. */
  sendQueueBytes?: number;
}

export interface ProducerSummary {
  /** Messages whose counter was used (sent + failed), handed to ZeroMQ, and dropped because the queue was full. */
  attempted: number;
  sent: number;
  failed: number;
  /** From the first send to the last, s; and messages attempted per second over that time. */
  elapsed_s: number;
  achieved_per_s: number;
  /** How late a send was at worst, ms after its due time; sends later than one plane interval. */
  max_late_ms: number;
  late_sends: number;
  /** This process's CPU over the run, % of one core. */
  cpu_percent: number;
  started_ms: number;
}

/** Distinct pixel buffers (a gradient shifted per buffer), made before timing starts; e2e-bench writes the same bytes. */
export function pixelBuffers(count: number, height: number, width: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const pixels = new Uint16Array(height * width);
    for (let k = 0; k < pixels.length; k++) pixels[k] = ((k % width) + Math.floor(k / width) * 3 + i * 97) & 0xfff;
    return new Uint8Array(pixels.buffer);
  });
}

async function produce(o: ProducerOptions): Promise<ProducerSummary> {
  const [channels, planes, height, width] = [o.channels ?? 1, o.planes ?? 1, o.height ?? 2048, o.width ?? 2048];
  const frameBytes = height * width * 2;
  const counters = Math.max(1, Math.round(o.seconds * o.rate));
  const planeInterval = 1 / (o.rate * planes);
  const buffers = pixelBuffers(Math.min(channels * planes, 4), height, width);
  const sendHighWaterMark = Math.max(4, Math.floor((o.sendQueueBytes ?? 128 * 2 ** 20) / frameBytes));
  const push = new Push({ sendHighWaterMark, sendTimeout: 0, linger: LINGER_MS });
  push.connect(o.address);
  if (o.startWhenExists) while (!existsSync(o.startWhenExists)) await sleep(2);

  const s: ProducerSummary = { attempted: 0, sent: 0, failed: 0, elapsed_s: 0, achieved_per_s: 0, max_late_ms: 0, late_sends: 0, cpu_percent: 0, started_ms: Date.now() };
  process.stdout.write(`${JSON.stringify({ started_ms: s.started_ms })}\n`);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let counter = 0; counter < counters; counter++) {
    // Blocking for the last counter: rigd sees a gap only when a later frame of the stream arrives.
    if (counter === counters - 1) push.sendTimeout = LINGER_MS;
    for (let plane = 0; plane < planes; plane++) {
      const hardware = (counter + plane / planes) / o.rate;
      // A plane is sent once it has been acquired, one plane interval after it began.
      const due = t0 + (hardware + planeInterval) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const late = performance.now() - due;
      s.max_late_ms = Math.max(s.max_late_ms, late);
      if (late > planeInterval * 1000) s.late_sends++;
      for (let channel = 0; channel < channels; channel++) {
        const header = JSON.stringify({ version: 1, counter, hardware_time_s: hardware, channel, plane, shape: [height, width], dtype: "uint16" });
        s.attempted++;
        try {
          await push.send([header, buffers[(plane * channels + channel) % buffers.length]!]);
          s.sent++;
        } catch (e) {
          if ((e as { code?: string }).code !== "EAGAIN") throw e;
          s.failed++;
        }
      }
    }
  }
  s.elapsed_s = (performance.now() - t0) / 1000;
  s.achieved_per_s = s.attempted / s.elapsed_s;
  const cpu = process.cpuUsage(cpu0);
  s.cpu_percent = ((cpu.user + cpu.system) / 1e3 / (s.elapsed_s * 1000)) * 100;
  // Linger: what is still queued is delivered before the process ends.
  push.close();
  return s;
}

// Run as a program, not when e2e-bench imports pixelBuffers.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  if (!process.argv[2]) throw new Error("usage: node dist/bench/producer.js '<ProducerOptions as JSON>'");
  const summary = await produce(JSON.parse(process.argv[2]) as ProducerOptions);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
