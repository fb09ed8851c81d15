// The ZeroMQ frame source's receiving thread. zeromq.js hands every message over as an external buffer that
// V8 counts against its heap limits: on the main thread, at 2048² frames, that alone kept the garbage
// collector marking rigd's whole heap several times a second (29 % of the thread at 20 fps). Here the heap
// is a few MB, so those collections cost little. Each frame is checked and copied into a shared slot
// (frame-slots.ts); the main thread gets its header and slot number. Reading pauses while the main thread
// holds the source, while two frames wait for it, and while every slot is in use: the producer is told.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort } from "node:worker_threads";
import { type Observer, Pull } from "zeromq";
import { FrameSlots, type SlotRef } from "../frame-slots.js";
import { decodeFrame, type FromReceiver, type ToReceiver } from "./zmq-frames.js";

if (!parentPort) throw new Error("zmq-receiver.ts runs as a worker thread of ZmqFrameSource");

// zeromq.js's buffers are freed only by V8's collector. Left to itself, it collects this thread's whole heap
// each time some 32 MB of them are dead: once a second at 2P, 15 times a second at 2048² frames (a sixth of the
// thread), and the messages' memory waits in the allocator meanwhile. Messages are dead once copied, and
// young: a minor collection every COLLECT_BYTES of them (0.06 ms) frees them first. The flag only exposes
// `gc` to contexts made after it.
setFlagsFromString("--expose-gc");
const collectYoung = runInNewContext("gc") as (options: { type: "minor" }) => void;
const COLLECT_BYTES = 16 * 2 ** 20;
let uncollected = 0;
const port = parentPort;
const post = (message: FromReceiver) => port.postMessage(message);

let socket: Pull | undefined;
let slots: FrameSlots;
let running: Promise<unknown> | undefined;
let closing = false;
/** [held, frames taken] as the main thread keeps them (see ToReceiver), and frames handed over, as this thread counts. */
let control: Int32Array;
let posted = 0;
let maxInFlight: number;
/** A message taken from the socket and not yet handed over. */
let inHand = false;

port.on("message", async (m: ToReceiver) => {
  switch (m.op) {
    case "bind": {
      const s = new Pull({ receiveHighWaterMark: m.receiveHighWaterMark, maxMessageSize: m.maxMessageSize, linger: 0 });
      // Watched from before it binds: a producer may connect the moment the main thread hears it is bound.
      const events = s.events;
      try {
        await s.bind(m.spec.address);
      } catch (e) {
        s.close();
        post({ kind: "bind-failed", message: (e as Error).message });
        port.close();
        return;
      }
      socket = s;
      maxInFlight = m.inFlight;
      control = new Int32Array(m.control);
      slots = FrameSlots.attach(m.slots);
      post({ kind: "bound", endpoint: s.lastEndpoint ?? m.spec.address });
      running = Promise.all([receive(s, m.spec), watch(s, events)]).catch((e: Error) => post({ kind: "stopped", message: e.message }));
      return;
    }
    case "close":
      // The socket is closed before the thread ends: zeromq.js aborts the process when a thread ends with one open.
      closing = true;
      socket?.close();
      await running;
      port.close();
  }
});

async function receive(s: Pull, spec: Extract<ToReceiver, { op: "bind" }>["spec"]): Promise<void> {
  const frameBytes = slots.handle.slotBytes; // slots are one frame of this source each
  // Whether a message was already in the socket when the loop came to read the next one (Frame.queued).
  let waiting = false;
  for await (const parts of s) {
    inHand = true;
    // The messages before this one are copied and unreferenced.
    if (uncollected >= COLLECT_BYTES) {
      collectYoung({ type: "minor" });
      uncollected = 0;
    }
    for (const part of parts) uncollected += part.byteLength;
    // A slot first: while every slot is in use, this message waits and nothing more is read.
    let slot: SlotRef | undefined;
    while (!(slot = slots.acquire(frameBytes)) && !closing) await slots.freed(100);
    if (!slot) return;
    const decoded = decodeFrame(parts, spec, (Type) => slots.view(slot!, Type));
    if ("reason" in decoded) {
      slots.release(slot);
      post({ kind: "rejected", reason: decoded.reason, message: decoded.message });
    } else {
      decoded.frame.queued = waiting;
      const { data: _inTheSlot, ...frame } = decoded.frame;
      post({ kind: "frame", frame, slot, ...(decoded.scanner ? { scanner: decoded.scanner } : {}) });
      posted = (posted + 1) | 0; // int32, as the shared count it is compared with: both wrap alike
    }
    inHand = false;
    await whileHeldOrFull();
    waiting = s.readable;
  }
}

/** Waits while the main thread holds the source or has not taken maxInFlight of the frames handed over. */
async function whileHeldOrFull(): Promise<void> {
  for (;;) {
    if (closing) return;
    if (Atomics.load(control, 0) === 1) await Atomics.waitAsync(control, 0, 1, 100).value;
    else {
      const taken = Atomics.load(control, 1);
      if (((posted - taken) | 0) < maxInFlight) return;
      await Atomics.waitAsync(control, 1, taken, 100).value;
    }
  }
}

/**
 * Producers coming and going. A connection is a producer once its ZeroMQ handshake succeeds; one that fails it (a
 * port scanner, an HTTP client) never was, and its disconnect, which follows its handshake error, is not one. A
 * producer's going is told once the messages it sent before are handed over: the main thread judges its last frames.
 */
async function watch(s: Pull, events: Observer): Promise<void> {
  let failedHandshakes = 0;
  for await (const event of events) {
    if (event.type === "handshake") post({ kind: "producer", connected: true });
    else if (event.type.startsWith("handshake:error")) failedHandshakes++;
    else if (event.type === "disconnect") {
      if (failedHandshakes > 0) failedHandshakes--;
      else {
        await handedOver(s);
        post({ kind: "producer", connected: false });
      }
    }
  }
}

/** Resolves once the socket holds no message and none is being handed over (a held source holds this too). */
async function handedOver(s: Pull): Promise<void> {
  while (!closing && (s.readable || inHand)) await new Promise((r) => setTimeout(r, 10));
}
