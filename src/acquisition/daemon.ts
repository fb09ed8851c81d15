// The daemon behind `rigd serve`: the rig stays connected, sessions start and stop on request. A ZeroMQ
// ROUTER socket takes JSON requests (from REQ or DEALER clients) and answers each with a result or a
// structured error; a PUB socket publishes status (1 Hz), telemetry as it is read, the event record's entries
// as they come, downsampled preview frames (at most 10 per second per series) and the online analysis' traces
// (one message per frame analysed). Both bind to loopback unless told otherwise; given CURVE keys, both let in
// only the clients whose public keys they were given (src/acquisition/curve.ts).
//
// Requests are answered as they come, not one after another: a PMT's reset_trip takes seconds, and status
// must still answer at once meanwhile (a REP socket would hold every client behind it). Only the requests
// that change the session or a device — start, stop, set — wait for each other, in the order they came.
import { Subject, type Subscription } from "rxjs";
import { Publisher, Router } from "zeromq";
import { z } from "zod";
import type { RigProfile } from "../config/index.js";
import { SessionMetadata as SessionMetadataSchema } from "../config/index.js";
import { formatPath } from "../config/errors.js";
import { validate } from "../config/validate.js";
import { Authenticator, type CurveKeys } from "./curve.js";
import type { ConnectedRig } from "./devices.js";
import type { CheckpointReport } from "../nwb/index.js";
import { checkOutput, insideDataDir, OutputRefused, type OutputNames } from "./output.js";
import { InvalidSetting, Session, type SessionStatus, sessionWarnings } from "./session.js";

/** Largest request answered: a request is a few hundred bytes of JSON. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Larger messages than this are not even read: ZeroMQ drops the sender's connection (memory stays bounded). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Replies a client may leave unread before the next are dropped (ZeroMQ's default, 1000, is one burst of marks). */
const REPLY_QUEUE = 100_000;
/** Published messages waiting for the socket; beyond that new ones are dropped (a subscriber is never waited for). */
const MAX_PUBLISH_QUEUE = 64;

const Request = z.discriminatedUnion("cmd", [
  z.strictObject({ cmd: z.literal("status") }),
  z.strictObject({ cmd: z.literal("start"), out: z.string().min(1), session: z.unknown().optional(), force: z.boolean().optional() }),
  z.strictObject({ cmd: z.literal("stop") }),
  z.strictObject({
    cmd: z.literal("set"),
    device: z.string().min(1),
    property: z.string().min(1),
    value: z.union([z.number().finite(), z.boolean()], { error: "expected a number (wavelength_nm, power_W, gain) or true/false (shutter, emission, enabled, reset_trip)" }),
  }),
  z.strictObject({ cmd: z.literal("mark"), text: z.string().min(1).max(1000) }),
]);
type Request = z.infer<typeof Request>;

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A request's own field names, in what it is told about `out` and `force`. */
const REQUEST_NAMES: OutputNames = { out: "out", force: '"force": true' };

export interface DaemonOptions {
  profile: RigProfile;
  rig: ConnectedRig;
  control: string;
  publish: string;
  /** Where recordings go (absolute, existing): a start request's `out` is a path inside it. */
  dataDir: string;
  /** Makes both sockets CURVE servers, with a ZAP handler that refuses any client key but these. */
  curve?: CurveKeys;
  log?: (line: string) => void;
}

/** One message of the PUB socket, as in-process clients of the daemon (the web page) receive it. */
export interface Published {
  topic: string;
  body: unknown;
  /** Preview pixels (little-endian uint16, the header's shape). */
  pixels?: Uint8Array;
}

export class Daemon {
  /**
   * A reply is never waited for (one client that does not read its replies must not hold up everyone's);
   * ROUTER drops a reply only when its client already has REPLY_QUEUE unread, so that takes a client that
   * sent that many requests and read none of the answers.
   */
  private readonly control = new Router({ maxMessageSize: MAX_MESSAGE_BYTES, sendHighWaterMark: REPLY_QUEUE });
  /** Replies go out one at a time (a socket takes one send at once), each as soon as its request is done. */
  private replying: Promise<void> = Promise.resolve();
  /** start, stop and set, one at a time in the order they came; also how close() waits for the one under way. */
  private changing: Promise<unknown> = Promise.resolve();
  private publishing: Promise<void> = Promise.resolve();
  private publishQueue = 0;
  private readonly publisher = new Publisher({ sendHighWaterMark: 100 });
  private authenticator: Authenticator | undefined;
  private session: Session | undefined;
  private closing = false;
  private ticker: NodeJS.Timeout | undefined;
  private lastStatus: SessionStatus | undefined;
  /** The recording session's telemetry and previews, published while it records (see watch). */
  private published: Subscription[] = [];
  private readonly publishedSubject = new Subject<Published>();
  /** Everything published on the PUB socket, for clients in this process; completes when the daemon closes. */
  readonly published$ = this.publishedSubject.asObservable();

  constructor(private readonly options: DaemonOptions) {}

  async start(): Promise<void> {
    if (this.options.curve) {
      // The handler is there before the sockets bind: no client gets in unasked.
      this.authenticator = await Authenticator.start(this.options.curve, (line) => this.options.log?.(line));
      this.authenticator.secure(this.control, "control");
      this.authenticator.secure(this.publisher, "publish");
    }
    await this.control.bind(this.options.control);
    await this.publisher.bind(this.options.publish);
    this.ticker = setInterval(() => this.publish("status", this.status()), 1000);
    void this.serve();
  }

  /** Takes requests until close(), each answered when it is done (to the envelope it came in). */
  private async serve(): Promise<void> {
    try {
      for await (const frames of this.control) {
        const envelope = frames.slice(0, -1);
        void this.handle(frames[frames.length - 1]!).then((reply) => this.reply(envelope, reply));
      }
    } catch (e) {
      // Closing the socket ends the loop; anything else is a daemon that can no longer be reached.
      if (!this.closing) this.options.log?.(`error: the control socket failed: ${(e as Error).message}`);
    }
  }

  private reply(envelope: Buffer[], reply: ControlReply): void {
    this.replying = this.replying
      .then(() => this.control.send([...envelope, JSON.stringify(reply)]))
      .catch((e: Error) => {
        if (!this.closing) this.options.log?.(`error: a reply could not be sent: ${e.message}`);
      });
  }

  /** Runs `task` after the start, stop and set requests before it, and before those after it. */
  private inTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.changing.then(task);
    this.changing = run.catch(() => undefined);
    return run;
  }

  async handle(message: Buffer): Promise<ControlReply> {
    try {
      if (message.length > MAX_REQUEST_BYTES) {
        throw new RequestError("too_large", `the request has ${message.length} bytes; requests are at most ${MAX_REQUEST_BYTES}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(message.toString("utf8"));
      } catch {
        throw new RequestError("bad_json", `the request is not JSON: ${JSON.stringify(message.subarray(0, 60).toString("utf8"))}…`);
      }
      if (typeof json !== "object" || json === null || Array.isArray(json)) {
        throw new RequestError("invalid_request", `a request is a JSON object with "cmd" (status, start, stop, set or mark), not ${JSON.stringify(json).slice(0, 60)}`);
      }
      const cmd = (json as { cmd?: unknown }).cmd;
      if (!["status", "start", "stop", "set", "mark"].includes(cmd as string)) {
        throw new RequestError("unknown_command", `unknown cmd ${JSON.stringify(cmd)}: expected status, start, stop, set or mark`);
      }
      const parsed = Request.safeParse(json);
      if (!parsed.success) {
        throw new RequestError("invalid_request", parsed.error.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; "));
      }
      return { ok: true, result: await this.run(parsed.data) };
    } catch (e) {
      if (e instanceof RequestError) return { ok: false, error: { code: e.code, message: e.message } };
      if (e instanceof InvalidSetting) return { ok: false, error: { code: "invalid_request", message: e.message } };
      return { ok: false, error: { code: "failed", message: (e as Error).message } };
    }
  }

  private run(r: Request): unknown {
    if (this.closing && r.cmd !== "status") throw new RequestError("closing", "the daemon is shutting down");
    switch (r.cmd) {
      case "status":
        return this.status();
      case "mark":
        this.recording().mark(r.text);
        return { marked: r.text };
      case "start":
        return this.inTurn(() => this.startSession(r));
      case "stop":
        return this.inTurn(async () => {
          const { report, status, warnings } = await this.finish(this.recording());
          if (report instanceof Error) throw new RequestError("failed", report.message);
          return { ...status, samples: report.samples, events: report.events, warnings };
        });
      case "set":
        return this.inTurn(async () => {
          await this.recording().set(r.device, r.property, r.value);
          return { device: r.device, property: r.property, value: r.value };
        });
    }
  }

  private async startSession(r: Extract<Request, { cmd: "start" }>): Promise<SessionStatus> {
    if (this.session?.state === "recording") throw new RequestError("busy", `already recording to ${this.session.status().out}`);
    if (r.session === undefined) {
      throw new RequestError("invalid_request", "session: expected the session's metadata, as a --session file holds it ({session_description, experimenter, subject: {subject_id, species, sex, age, …}, …}), found none");
    }
    const metadata = validate(SessionMetadataSchema, r.session);
    if (!metadata.ok) throw new RequestError("invalid_request", metadata.problems.map((p) => `${formatPath(["session", ...p.path])}: ${p.message}`).join("; "));
    let out: string;
    try {
      out = insideDataDir(this.options.dataDir, r.out, REQUEST_NAMES);
      checkOutput(out, r.out, r.force ?? false, REQUEST_NAMES);
    } catch (e) {
      throw e instanceof OutputRefused ? new RequestError("invalid_out", e.message) : e;
    }
    this.lastStatus = undefined;
    this.session = await Session.start({
      profile: this.options.profile,
      metadata: metadata.value,
      out,
      overwrite: r.force ?? false,
      devices: this.options.rig,
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    this.watch(this.session);
    return this.session.status();
  }

  private recording(): Session {
    if (this.session?.state !== "recording") throw new RequestError("not_recording", "no session is recording: send start first");
    return this.session;
  }

  /**
   * Stops a session and keeps its final status: taken after the stop, so it counts what the file holds (a
   * failed write cuts it back), with `error` when writing failed or it had to stop on its own (`why`).
   * Warns in the log of series nwbinspector will call too short.
   */
  private async finish(session: Session, why?: string): Promise<{ report: CheckpointReport | Error; status: SessionStatus; warnings: string[] }> {
    // Every end of a session comes here (stop, mustStop, close): its telemetry and previews end with it.
    for (const s of this.published.splice(0)) s.unsubscribe();
    const report = await session.stop().catch((e: Error) => e);
    const error = report instanceof Error ? report.message : why;
    const status: SessionStatus = { ...session.status(), state: "closed", ...(error ? { error } : {}) };
    this.lastStatus = status;
    const warnings = report instanceof Error ? [] : sessionWarnings(this.options.profile, report.samples);
    for (const w of warnings) this.options.log?.(`warning: ${w}`);
    return { report, status, warnings };
  }

  /**
   * The session's own status until its final one is known (recording, then stopping, with `error` once it
   * must stop on its own); then that final status. Never a previous session's: lastStatus is only ever this
   * session's, set when its stop is done.
   */
  private status(): SessionStatus | { state: "idle" } {
    return this.lastStatus ?? this.session?.status() ?? { state: "idle" };
  }

  /**
   * Telemetry and previews of a session, published while it records; and a session that must stop on its own
   * (a failed write, a nearly full disk) is stopped here, its status published with why: the daemon stays up.
   */
  private watch(session: Session): void {
    void session.mustStop.then((why) =>
      this.inTurn(async () => {
        if (session.state !== "recording") return;
        const { status } = await this.finish(session, why);
        this.options.log?.(`session stopped: ${status.error}`);
        this.publish("status", status);
      }),
    );
    this.published = [
      ...[...this.options.rig.lasers].map(([name, d]) => d.state$.subscribe(({ time, state }) => this.publish("telemetry", { device: name, time, state }))),
      ...this.options.rig.photodetectors.map((p) => p.controller.state$.subscribe(({ time, state }) => this.publish("telemetry", { devices: Object.values(p.channels), time, state }))),
      session.previews$.subscribe((preview) => this.publish("preview", preview.header, preview.pixels)),
    ];
    // Not among those ended at finish: events$ completes on its own once the session has stopped, after the
    // events its stop records (the last losses, frames before the start).
    session.events$.subscribe((event) => this.publish("events", event));
    // The online analysis' traces (and motion), one message per frame analysed; completes once its last frames are in.
    session.traces$.subscribe((traces) => this.publish("traces", traces));
  }

  /** Publishing never blocks the daemon: one send at a time, a short queue, and a slow subscriber misses messages. */
  private publish(topic: string, body: unknown, pixels?: Uint8Array): void {
    this.publishedSubject.next(pixels ? { topic, body, pixels } : { topic, body });
    if (this.publishQueue >= MAX_PUBLISH_QUEUE) return;
    const parts = [topic, JSON.stringify(body), ...(pixels ? [pixels] : [])];
    this.publishQueue++;
    this.publishing = this.publishing
      .then(() => this.publisher.send(parts))
      .catch(() => undefined)
      .finally(() => this.publishQueue--);
  }

  /**
   * Stops taking requests but status, lets a start, stop or set under way finish and be answered, stops a
   * session still recording (its file closed as by stop), then closes the sockets. Safe at any moment.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.ticker);
    await this.inTurn(async () => {
      if (this.session?.state === "recording") await this.finish(this.session, "the daemon was stopped");
    }).catch((e: Error) => this.options.log?.(`error: stopping the session: ${e.message}`));
    await this.replying;
    this.publishedSubject.complete();
    this.control.close();
    this.publisher.close();
    this.authenticator?.close();
  }
}
