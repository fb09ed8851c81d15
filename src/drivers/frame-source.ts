// The frame source kind: frames pushed by acquisition software (a scanner's digitizer, a camera), each with the
// hardware's counter and clock, plus what the scanner reports about itself. Unlike the serial kinds nothing is
// polled: the producer decides when frames come, so the shared Device surface applies only in part.
// The wire format one implementation speaks is docs/frame-protocol-v1.md.
import type { Observable } from "rxjs";
import type { Device } from "./device.js";

export type FrameDtype = "uint8" | "uint16" | "int16" | "float32";
export type FrameData = Uint8Array | Uint16Array | Int16Array | Float32Array;

/** The typed array of one pixel type, viewing bytes in place or made new. */
export interface FrameArrayType {
  readonly BYTES_PER_ELEMENT: number;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): FrameData;
  new (length: number): FrameData;
}

/** Pixel types a frame may have (the names a profile's `data_type` uses), and the typed array of each. */
export const FRAME_DTYPES: Readonly<Record<FrameDtype, FrameArrayType>> = { uint8: Uint8Array, uint16: Uint16Array, int16: Int16Array, float32: Float32Array };

export function isFrameDtype(name: unknown): name is FrameDtype {
  return typeof name === "string" && Object.hasOwn(FRAME_DTYPES, name);
}

/** What a source is expected to deliver: the fields of a profile's `recording.frame_sources` entry. */
export interface FrameSpec {
  /** [height, width] in pixels. */
  frame_shape: readonly [number, number];
  data_type: FrameDtype;
  channel_count: number;
  plane_count: number;
  /** Flyback frames the producer sends after the imaged planes of each volume, as planes plane_count and up (default 0). */
  flyback_planes?: number;
  /** "arrival": the source has no clock of its own, and frames may leave out hardware_time_s (default "hardware"). */
  clock?: "hardware" | "arrival";
}

export interface Frame {
  /** The hardware's count of this channel and plane's acquisitions: +1 from one frame of the stream to the next. */
  counter: number;
  /** Start of the frame on the acquisition hardware's clock, in seconds; absent from a source without one. */
  hardware_time_s: number | undefined;
  channel: number;
  plane: number;
  /** [height, width]; `data` is row-major, x fastest. */
  shape: readonly [number, number];
  dtype: FrameDtype;
  /**
   * The pixels. A source may deliver them in a shared frame slot (frame-slots.ts), which other threads read in
   * place: a consumer that drops a frame calls releaseFrame(data) (the NWB writer frees what it writes), or the
   * slot waits for the garbage collector, and a source whose slots are all in use stops receiving.
   */
  data: FrameData;
  /** When the frame was received, in ms since the epoch with sub-ms resolution (performance.timeOrigin + performance.now()). */
  received_time: number;
  /**
   * The frame had already arrived and was waiting in rigd's own queue when rigd came to read it (rigd was behind,
   * or it came in a burst): its received_time is later than its delivery by however long it waited. Absent: not known.
   */
  queued?: boolean;
}

/** How the scanner says it scans, as the engine copies it into the imaging metadata (LineScan, pixel size). */
export interface ScannerState {
  /** Lines acquired per second (a bidirectional 7.91 kHz resonant scanner: 15 820). */
  line_rate_Hz?: number;
  /** The fast axis in the image, as NWB's LineScan names it. */
  scan_direction?: "horizontal" | "vertical";
  bidirectional?: boolean;
  /** [x, y] in µm. */
  pixel_size_um?: readonly [number, number];
  zoom?: number;
}

/** Why a message was rejected; docs/frame-protocol-v1.md says which check each stands for. */
export const REJECT_REASONS = ["parts", "header", "version", "field", "dtype", "shape", "size"] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface FrameCounts {
  /** Frames delivered on frames$. */
  frames: number;
  /**
   * Frames received while nothing listened on frames$ (no session recording), and so let go. A session
   * listens from its start, so these are never part of one; counters are judged by the session, from the
   * first frame it sees.
   */
  unobserved: number;
  /** Messages rejected, in all and by reason. */
  rejected: number;
  rejected_by_reason: Record<RejectReason, number>;
}

export interface FrameSource extends Pick<Device<ScannerState>, "driver" | "connect" | "close"> {
  readonly frames$: Observable<Frame>;
  /** Producers connected now (whose ZeroMQ handshake succeeded). */
  readonly producers: number;
  /**
   * Rejected messages ("garbage"), producers that connected ("producer_connected"), that closed after a whole
   * acquisition ("producer_closed") and that went away mid-acquisition ("disconnected"). Rejects are reported at
   * once, then summed over an interval so as not to flood. Counter gaps are the session's to judge (stages.ts).
   */
  readonly events$: Device<ScannerState>["events$"];
  /** The scanner's state, once when the producer first reports it and again whenever it changes. */
  readonly state$: Device<ScannerState>["state$"];
  /** The latest scanner state; undefined until the producer reports one. */
  readonly scanner: ScannerState | undefined;
  /** A snapshot of what has arrived, gone missing and been rejected so far. */
  readonly counts: FrameCounts;
  /**
   * Reads no further message until `work` settles: a consumer that falls behind (a writer waiting for room)
   * leaves frames in the bounded queues and, when those are full, makes the producer drop and count them.
   */
  hold(work: Promise<unknown>): void;
}
