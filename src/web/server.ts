// `rigd serve --http`: the live page. One page (web/: plain browser JS, no build step) and a WebSocket that
// carries what the daemon publishes (status, telemetry, events, previews) and the page's requests, which go
// through Daemon.handle exactly as the control socket's do. The server is only a client of the daemon in this
// process: it consumes what the daemon publishes anyway and never holds it up.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { type FastifyInstance } from "fastify";
import type { Observable, Subscription } from "rxjs";
import { z } from "zod";
import type { ControlReply, Published } from "../acquisition/daemon.js";
import type { RigDevices } from "../acquisition/session.js";
import type { RigProfile } from "../config/index.js";
import { projectFile } from "../project-files.js";

/** What the page needs of the daemon: its request handling and what it publishes (Daemon has both). */
export interface DaemonLike {
  handle(message: Buffer): Promise<ControlReply>;
  readonly published$: Observable<Published>;
}

export interface WebOptions {
  daemon: DaemonLike;
  profile: RigProfile;
  rig: RigDevices;
  /** HOST:PORT (IPv6 hosts in brackets); port 0 picks a free one. The caller decides whether the host may be reached. */
  address: string;
}

export interface WebServer {
  /** http://HOST:PORT/ as bound. */
  url: string;
  close(): Promise<void>;
}

/**
 * What one page may leave unsent before it is treated as slow: previews then wait, only the newest per series
 * kept, until the page has read what it was sent. Status, telemetry and events always go (a few kB/s), and a
 * page more than MAX_BUFFERED_BYTES behind is closed (it reconnects and gets the session's history afresh).
 */
const PREVIEW_BUFFERED_BYTES = 256 * 1024;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Telemetry readings and events kept for pages opened mid-session (hours of 2 Hz polling; bounded). */
const HISTORY = 50_000;

/** A request from the page: the daemon's own request, with an id that its reply carries back. */
const PageRequest = z.strictObject({ id: z.number().int().nonnegative(), request: z.unknown() });

/** HOST:PORT → its parts; "[::1]:8080" for IPv6. */
export function parseHttpAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--http ${address}: expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080`);
  return { host: m[1] ?? m[2]!, port };
}

/** The rig as the page shows it: series with their channel's emission (for the overlay), lasers, PMTs by controller. */
function rigDescription(profile: RigProfile, rig: RigDevices) {
  return {
    series: profile.recording.series.map((s) => {
      const channel = profile.channels.find((c) => c.name === s.microscopy_channel);
      return { name: s.name, channel: s.microscopy_channel, emission_wavelength_in_nm: channel?.emission_wavelength_in_nm ?? null };
    }),
    lasers: [...rig.lasers].map(([name, d]) => ({ name, controls: d.controls })),
    photodetectors: rig.photodetectors.map((p) => ({ channels: p.channels, gain_unit: p.controller.gainUnit })),
  };
}

/** The page's WebSocket as used here (ws's WebSocket; @fastify/websocket's types leave it untyped without @types/ws). */
export interface Socket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: "close", listener: () => void): void;
}
const OPEN = 1;

/** One page: its socket, and the newest unsent preview per series while it is behind. */
export class Page {
  private readonly waiting = new Map<string, Buffer>();

  constructor(readonly socket: Socket) {}

  /** Status, telemetry, events, replies: always sent, unless the page is hopelessly behind. */
  sendText(message: unknown): void {
    if (this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.socket.close(1013, "the page reads too slowly; reconnect");
      return;
    }
    this.socket.send(JSON.stringify(message));
  }

  /** A preview goes now if the page keeps up, else replaces the one of its series waiting (stale ones are dropped). */
  sendPreview(series: string, frame: Buffer): void {
    if (this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > PREVIEW_BUFFERED_BYTES) {
      this.waiting.set(series, frame);
      return;
    }
    this.socket.send(frame, () => this.flush());
  }

  private flush(): void {
    if (this.waiting.size === 0 || this.socket.readyState !== OPEN || this.socket.bufferedAmount > PREVIEW_BUFFERED_BYTES) return;
    const [series, frame] = this.waiting.entries().next().value!;
    this.waiting.delete(series);
    this.socket.send(frame, () => this.flush());
  }
}

/** A preview as one binary message: header length (uint32 LE), the header's JSON, then the pixels. */
function previewMessage(header: unknown, pixels: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  // The pixels start at an even offset, so the page reads them as a Uint16Array without copying.
  const pad = Buffer.alloc((4 + json.length) % 2);
  return Buffer.concat([length, json, pad, pixels]);
}

export async function startWebServer({ daemon, profile, rig, address }: WebOptions): Promise<WebServer> {
  const { host, port } = parseHttpAddress(address);
  const root = dirname(projectFile(import.meta.url, "web/index.html")); // web/ at the project root
  const require = createRequire(import.meta.url);
  const uplot = dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));
  // yaml's browser build (ES modules in a folder): the page reads session files in YAML as the CLI does.
  const yamlRoot = resolve(dirname(require.resolve("yaml")), "..", "browser", "dist");
  const files: Record<string, { path: string; type: string }> = {
    "/": { path: join(root, "index.html"), type: "text/html; charset=utf-8" },
    "/app.js": { path: join(root, "app.js"), type: "text/javascript; charset=utf-8" },
    "/style.css": { path: join(root, "style.css"), type: "text/css; charset=utf-8" },
    "/uPlot.iife.min.js": { path: join(uplot, "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
    "/uPlot.min.css": { path: join(uplot, "uPlot.min.css"), type: "text/css; charset=utf-8" },
  };
  for (const file of readdirSync(yamlRoot, { recursive: true, encoding: "utf8" })) {
    if (file.endsWith(".js")) files[`/yaml/${file.split(sep).join("/")}`] = { path: join(yamlRoot, file), type: "text/javascript; charset=utf-8" };
  }
  const description = rigDescription(profile, rig);

  // The session's telemetry and events so far, for pages opened mid-session; emptied when the next one starts.
  const history: { telemetry: unknown[]; events: unknown[] } = { telemetry: [], events: [] };
  let lastStatus: unknown = { state: "idle" };
  /** The last session is over (status said so): the next telemetry, event or preview is a new session's. */
  let ended = true;
  const pages = new Set<Page>();
  const toAll = (message: unknown) => {
    for (const p of pages) p.sendText(message);
  };
  const keep = (list: unknown[], item: unknown) => {
    list.push(item);
    if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
  };

  const subscription: Subscription = daemon.published$.subscribe(({ topic, body, pixels }) => {
    // The daemon publishes telemetry, events and previews only while a session records (see Daemon.watch).
    if ((topic === "telemetry" || topic === "events" || topic === "preview") && ended) {
      ended = false;
      history.telemetry = [];
      history.events = [];
      toAll({ type: "session" });
    }
    if (topic === "status") {
      lastStatus = body;
      // Not at "stopping": the events a stop records come after it, and before "closed".
      if (["closed", "idle"].includes((body as { state: string }).state)) ended = true;
      toAll({ type: "status", body });
    } else if (topic === "telemetry" || topic === "events") {
      keep(topic === "telemetry" ? history.telemetry : history.events, body);
      toAll({ type: topic, body });
    } else if (topic === "preview" && pixels) {
      const frame = previewMessage(body, pixels);
      for (const p of pages) p.sendPreview((body as { series: string }).series, frame);
    }
  });

  const app: FastifyInstance = Fastify({ logger: false });
  await app.register(fastifyWebsocket, { options: { maxPayload: 128 * 1024 } });
  for (const [url, { path, type }] of Object.entries(files)) {
    // Read once, at start: no request reads a file on the daemon's event loop, and a page missing from the install
    // fails the start, not a browser. Nothing else is served: no path can lead outside these files.
    const body = readFileSync(path);
    app.get(url, (_req, reply) => reply.type(type).header("cache-control", "no-cache").send(body));
  }
  app.get("/ws", { websocket: true }, (socket: Socket) => {
    const page = new Page(socket);
    pages.add(page);
    socket.on("close", () => pages.delete(page));
    page.sendText({ type: "hello", rig: description, status: lastStatus, ...(ended ? { telemetry: [], events: [] } : history) });
    socket.on("message", (data, isBinary) => {
      void answer(isBinary ? undefined : data.toString("utf8")).then((reply) => page.sendText(reply));
    });
  });

  /** A page's request through the daemon's own handling; a message that is not one gets an error in the same shape. */
  async function answer(text: string | undefined): Promise<{ type: "reply"; id: number | null; reply: ControlReply }> {
    let json: unknown;
    try {
      json = text === undefined ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const parsed = PageRequest.safeParse(json);
    if (!parsed.success) {
      const message = `expected {"id": N, "request": {"cmd": …}} as JSON text, the request being one the control socket takes; got ${text === undefined ? "a binary message" : JSON.stringify(text.slice(0, 60))}`;
      return { type: "reply", id: null, reply: { ok: false, error: { code: "bad_message", message } } };
    }
    const reply = await daemon.handle(Buffer.from(JSON.stringify(parsed.data.request ?? null)));
    return { type: "reply", id: parsed.data.id, reply };
  }

  try {
    await app.listen({ host, port });
  } catch (e) {
    subscription.unsubscribe();
    throw new Error(`--http ${address}: ${(e as Error).message}`);
  }
  const bound = app.server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}/`,
    close: async () => {
      subscription.unsubscribe();
      for (const p of pages) p.socket.close(1001, "rigd is shutting down");
      await app.close();
    },
  };
}
