// The daemon behind `rigd serve`: the rig stays connected, sessions start and stop on request. A ZeroMQ
// REP socket takes JSON requests and answers each with a result or a structured error; a PUB socket
// publishes status (1 Hz), telemetry as it is read, and downsampled preview frames (at most 2 per second
// per series). Both bind to loopback unless told otherwise.
import { Publisher, Reply as ReplySocket } from "zeromq";
import { z } from "zod";
import type { RigProfile, SessionMetadata } from "../config/index.js";
import { SessionMetadata as SessionMetadataSchema } from "../config/index.js";
import type { ConnectedRig } from "./devices.js";
import type { CheckpointReport } from "../nwb/index.js";
import { Session, type SessionStatus, tooShortForInspector } from "./session.js";

/** Largest request answered: a request is a few hundred bytes of JSON. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Larger messages than this are not even read: ZeroMQ drops the sender's connection (memory stays bounded). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Published messages waiting for the socket; beyond that new ones are dropped (a subscriber is never waited for). */
const MAX_PUBLISH_QUEUE = 64;

const Request = z.discriminatedUnion("cmd", [
  z.strictObject({ cmd: z.literal("status") }),
  z.strictObject({ cmd: z.literal("start"), out: z.string().min(1), session: z.unknown(), force: z.boolean().optional() }),
  z.strictObject({ cmd: z.literal("stop") }),
  z.strictObject({ cmd: z.literal("set"), device: z.string().min(1), property: z.string().min(1), value: z.union([z.number().finite(), z.boolean()]) }),
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

export interface DaemonOptions {
  profile: RigProfile;
  rig: ConnectedRig;
  control: string;
  publish: string;
  log?: (line: string) => void;
}

export class Daemon {
  private readonly control = new ReplySocket({ maxMessageSize: MAX_MESSAGE_BYTES });
  private publishing: Promise<void> = Promise.resolve();
  private publishQueue = 0;
  private readonly publisher = new Publisher({ sendHighWaterMark: 100 });
  private session: Session | undefined;
  private closing = false;
  private ticker: NodeJS.Timeout | undefined;
  private lastStatus: SessionStatus | undefined;

  constructor(private readonly options: DaemonOptions) {}

  async start(): Promise<void> {
    await this.control.bind(this.options.control);
    await this.publisher.bind(this.options.publish);
    this.ticker = setInterval(() => this.publish("status", this.status()), 1000);
    void this.serve();
  }

  /** Answers requests one at a time until close(). */
  private async serve(): Promise<void> {
    for await (const [message] of this.control) {
      const reply = await this.handle(message!);
      await this.control.send(JSON.stringify(reply));
      if (this.closing) break;
    }
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
      const cmd = (json as { cmd?: unknown } | null)?.cmd;
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
      return { ok: false, error: { code: "failed", message: (e as Error).message } };
    }
  }

  private async run(r: Request): Promise<unknown> {
    switch (r.cmd) {
      case "status":
        return this.status();
      case "start": {
        if (this.session?.state === "recording") throw new RequestError("busy", `already recording to ${this.session.status().out}`);
        const metadata = SessionMetadataSchema.safeParse(r.session);
        if (!metadata.success) throw new RequestError("invalid_request", `session: ${metadata.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
        this.lastStatus = undefined;
        this.session = await Session.start({
          profile: this.options.profile,
          metadata: metadata.data as SessionMetadata,
          out: r.out,
          overwrite: r.force ?? false,
          devices: this.options.rig,
          ...(this.options.log ? { log: this.options.log } : {}),
        });
        this.watch(this.session);
        return this.session.status();
      }
      case "stop": {
        const { report, status, warnings } = await this.finish(this.recording());
        if (report instanceof Error) throw new RequestError("failed", report.message);
        return { ...status, samples: report.samples, events: report.events, warnings };
      }
      case "set":
        await this.recording().set(r.device, r.property, r.value);
        return { device: r.device, property: r.property, value: r.value };
      case "mark":
        this.recording().mark(r.text);
        return { marked: r.text };
    }
  }

  private recording(): Session {
    if (this.session?.state !== "recording") throw new RequestError("not_recording", "no session is recording: send start first");
    return this.session;
  }

  /**
   * The session's own status until its final one is known (recording, then stopping, with `error` once it
   * must stop on its own); then that final status. Never a previous session's: lastStatus is only ever this
   * session's, set when its stop is done.
   */
  /**
   * Stops a session and keeps its final status: taken after the stop, so it counts what the file holds (a
   * failed write cuts it back), with `error` when writing failed or it had to stop on its own (`why`).
   * Warns in the log of series nwbinspector will call too short.
   */
  private async finish(session: Session, why?: string): Promise<{ report: CheckpointReport | Error; status: SessionStatus; warnings: string[] }> {
    const report = await session.stop().catch((e: Error) => e);
    const error = report instanceof Error ? report.message : why;
    const status: SessionStatus = { ...session.status(), state: "closed", ...(error ? { error } : {}) };
    this.lastStatus = status;
    const warnings = report instanceof Error ? [] : tooShortForInspector(this.options.profile, report.samples);
    for (const w of warnings) this.options.log?.(`warning: ${w}`);
    return { report, status, warnings };
  }

  private status(): SessionStatus | { state: "idle" } {
    return this.lastStatus ?? this.session?.status() ?? { state: "idle" };
  }

  /**
   * Telemetry and previews of a session, published while it records; and a session that must stop on its own
   * (a failed write, a nearly full disk) is stopped here, its status published with why: the daemon stays up.
   */
  private watch(session: Session): void {
    void session.mustStop.then(async (why) => {
      if (session.state !== "recording") return;
      const { status } = await this.finish(session, why);
      this.options.log?.(`session stopped: ${status.error}`);
      this.publish("status", status);
    });
    const subscriptions = [
      ...[...this.options.rig.lasers].map(([name, d]) => d.state$.subscribe(({ time, state }) => this.publish("telemetry", { device: name, time, state }))),
      ...this.options.rig.photodetectors.map((p) => p.controller.state$.subscribe(({ time, state }) => this.publish("telemetry", { devices: Object.values(p.channels), time, state }))),
      session.previews$.subscribe((preview) => this.publish("preview", preview.header, preview.pixels)),
    ];
    const done = setInterval(() => {
      if (session.state !== "recording") {
        clearInterval(done);
        for (const s of subscriptions) s.unsubscribe();
      }
    }, 200);
  }

  /** Publishing never blocks the daemon: one send at a time, a short queue, and a slow subscriber misses messages. */
  private publish(topic: string, body: unknown, pixels?: Uint8Array): void {
    if (this.publishQueue >= MAX_PUBLISH_QUEUE) return;
    const parts = [topic, JSON.stringify(body), ...(pixels ? [pixels] : [])];
    this.publishQueue++;
    this.publishing = this.publishing
      .then(() => this.publisher.send(parts))
      .catch(() => undefined)
      .finally(() => this.publishQueue--);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.ticker);
    if (this.session?.state === "recording") await this.session.stop();
    this.control.close();
    this.publisher.close();
  }
}
