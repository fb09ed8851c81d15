// The live page's server without a browser: the files it serves (and those it will not), what a page is told
// first, and a message that is not a request, answered with a clear error; the daemon's own errors come through
// unchanged; a page that stops reading is sent only the newest previews, and closed when far behind. And
// `rigd serve --http` refuses an address beyond loopback without CURVE keys, as for its sockets.
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Daemon } from "../../src/acquisition/daemon.js";
import { loadRigProfile, type RigProfile } from "../../src/config/index.js";
import { Page, parseHttpAddress, startWebServer, type WebServer } from "../../src/web/server.js";
import { port, serve } from "../cli/serve-child.js";
import { tempDir } from "../nwb/h5read.js";

/** A rig with no devices bound. */
const noDevices = { lasers: new Map(), photodetectors: [], frameSources: new Map(), pollIntervalMs: new Map(), close: async () => undefined };

/** A daemon that is never started (no sockets, no devices): its request handling is all the page needs here. */
async function idleDaemon(): Promise<{ daemon: Daemon; profile: RigProfile }> {
  const loaded = await loadRigProfile("profiles/sim-2p.yaml");
  if (!loaded.ok) throw new Error("profiles/sim-2p.yaml is invalid");
  const daemon = new Daemon({ profile: loaded.value, rig: noDevices, control: "tcp://127.0.0.1:1", publish: "tcp://127.0.0.1:1", dataDir: tempDir() });
  return { daemon, profile: loaded.value };
}

let web: WebServer | undefined;
afterEach(async () => {
  await web?.close();
  web = undefined;
});

/** A WebSocket to the page's /ws, collecting the JSON messages it is sent. */
async function pageSocket(url: string): Promise<{ socket: WebSocket; messages: any[]; next(test: (m: any) => boolean): Promise<any> }> {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}ws`);
  const messages: any[] = [];
  socket.on("message", (data, isBinary) => !isBinary && messages.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const next = async (test: (m: any) => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = messages.find(test);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such message within 15 s; got ${JSON.stringify(messages).slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { socket, messages, next };
}

describe("the live page's server", () => {
  it("serves the page, uPlot and yaml's browser build from node_modules, and nothing outside them", async () => {
    const { daemon, profile } = await idleDaemon();
    web = await startWebServer({ daemon, profile, rig: noDevices, address: "127.0.0.1:0" });
    expect(web.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const get = (path: string) => fetch(new URL(path, web!.url));
    const page = await get("/");
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain('<script src="/uPlot.iife.min.js"></script>');
    for (const path of ["/app.js", "/style.css", "/uPlot.iife.min.js", "/uPlot.min.css", "/yaml/index.js", "/yaml/compose/composer.js"]) expect((await get(path)).status, path).toBe(200);
    for (const path of ["/yaml/../../package.json", "/yaml/%2e%2e/%2e%2e/package.json", "/yaml/%2e%2e/index.js", "/package.json", "/web/app.js"]) expect((await get(path)).status, path).toBe(404);
  });

  it("greets a page with the rig and the status, and answers what is not a request with a clear error", async () => {
    const { daemon, profile } = await idleDaemon();
    web = await startWebServer({ daemon, profile, rig: noDevices, address: "127.0.0.1:0" });
    const { socket, next } = await pageSocket(web.url);
    const hello = await next((m) => m.type === "hello");
    expect(hello).toMatchObject({ status: { state: "idle" }, telemetry: [], events: [], rig: { lasers: [], photodetectors: [] } });
    expect(hello.rig.series).toEqual([
      { name: "PlanarMicroscopySeriesGreen", channel: "Green", emission_wavelength_in_nm: 510 },
      { name: "PlanarMicroscopySeriesRed", channel: "Red", emission_wavelength_in_nm: 581 },
    ]);

    const expected = 'expected {"id": N, "request": {"cmd": …}} as JSON text, the request being one the control socket takes; got';
    socket.send("{not json");
    expect(await next((m) => m.type === "reply" && m.reply.error.message.endsWith('"{not json"'))).toEqual({ type: "reply", id: null, reply: { ok: false, error: { code: "bad_message", message: `${expected} "{not json"` } } });
    socket.send(JSON.stringify({ cmd: "stop" })); // the daemon's request without the page's envelope
    expect((await next((m) => m.type === "reply" && m.reply.error.message.includes("stop"))).reply.error.code).toBe("bad_message");
    socket.send(Buffer.from([1, 2, 3]));
    expect(await next((m) => m.type === "reply" && m.reply.error.message.endsWith("a binary message"))).toMatchObject({ id: null, reply: { error: { code: "bad_message" } } });

    // Requests go through the daemon's own handling: its errors, as the control socket gives them.
    socket.send(JSON.stringify({ id: 1, request: { cmd: "explode" } }));
    socket.send(JSON.stringify({ id: 2, request: { cmd: "set", device: "TiSapphireLaser", property: "shutter", value: "closed" } }));
    socket.send(JSON.stringify({ id: 3, request: { cmd: "stop" } }));
    socket.send(JSON.stringify({ id: 4, request: { cmd: "status" } }));
    expect((await next((m) => m.id === 1)).reply).toEqual({ ok: false, error: { code: "unknown_command", message: 'unknown cmd "explode": expected status, start, stop, set or mark' } });
    expect((await next((m) => m.id === 2)).reply.error.code).toBe("invalid_request");
    expect((await next((m) => m.id === 3)).reply).toEqual({ ok: false, error: { code: "not_recording", message: "no session is recording: send start first" } });
    expect((await next((m) => m.id === 4)).reply).toEqual({ ok: true, result: { state: "idle" } });
    socket.close();
  });

  it("reads HOST:PORT, IPv6 in brackets, and names --http when it cannot", () => {
    expect(parseHttpAddress("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseHttpAddress("[::1]:8080")).toEqual({ host: "::1", port: 8080 });
    expect(parseHttpAddress("localhost:0")).toEqual({ host: "localhost", port: 0 });
    for (const bad of ["8080", "127.0.0.1", "::1:8080", "127.0.0.1:99999", "http://127.0.0.1:8080"]) expect(() => parseHttpAddress(bad), bad).toThrow(`--http ${bad}: expected HOST:PORT`);
  });

  it("rigd serve refuses --http beyond loopback without CURVE keys, and a malformed --http, with exit 2", async () => {
    await expect(serve({ args: ["--http", `0.0.0.0:${port()}`] })).rejects.toThrow(/exited \(2\): rigd serve: --http 0\.0\.0\.0:\d+ is not loopback: give --curve-secret-key and --client-keys/);
    await expect(serve({ args: ["--http", "8080"] })).rejects.toThrow("exited (2): rigd serve: --http 8080: expected HOST:PORT");
  });
});

describe("a slow page", () => {
  /** A page's socket whose unsent bytes the test sets, as ws reports them while the browser does not read. */
  function socket() {
    const s = {
      readyState: 1,
      bufferedAmount: 0,
      sent: [] as (string | Buffer)[],
      written: [] as (() => void)[],
      closed: undefined as [number | undefined, string | undefined] | undefined,
      send(data: string | Buffer, cb?: () => void) {
        s.sent.push(data);
        if (cb) s.written.push(cb);
      },
      close(code?: number, reason?: string) {
        s.closed = [code, reason];
      },
      on() {},
    };
    return s;
  }

  it("gets only the newest preview of each series once it reads again, and is closed, not buffered for, when far behind", () => {
    const s = socket();
    const page = new Page(s);
    const frame = (n: number) => Buffer.from([n]);
    page.sendPreview("Green", frame(1));
    expect(s.sent).toEqual([frame(1)]);

    s.bufferedAmount = 300 * 1024; // the browser stopped reading
    page.sendPreview("Green", frame(2));
    page.sendPreview("Red", frame(3));
    page.sendPreview("Green", frame(4)); // replaces 2, never sent
    page.sendText({ type: "status" }); // status, telemetry, events still go
    expect(s.sent).toEqual([frame(1), JSON.stringify({ type: "status" })]);

    s.bufferedAmount = 0; // it reads again: each write done sends the next waiting, the newest of its series
    s.written.shift()!();
    s.written.shift()!();
    expect(s.sent.slice(2)).toEqual([frame(4), frame(3)]);

    s.bufferedAmount = 9 * 1024 * 1024;
    page.sendText({ type: "status" });
    expect(s.closed).toEqual([1013, "the page reads too slowly; reconnect"]);
    expect(s.sent).toHaveLength(4);
  });
});
