// rigd serve beyond loopback (issue 12): CURVE key pairs made by `rigd keys`; with them, only clients whose
// public keys the daemon was given are answered or published to, and the refused ones are logged; without
// them, a non-loopback bind is refused before anything opens; rigd's and pyzmq's certificate files serve
// either side.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { curveKeyPair, Request, Subscriber } from "zeromq";
import { describe, expect, it } from "vitest";
import { readCertificate } from "../../src/acquisition/curve.js";
import { tempDir } from "../nwb/h5read.js";
import { findPython } from "../python.js";
import { CLI, port, serve } from "./serve-child.js";

const python = findPython(["zmq"]);

/** `rigd ARGS…`, run to its end. */
function rigd(args: string[]) {
  const r = spawnSync(CLI[0], [...CLI.slice(1), ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Pair {
  publicKey: string;
  secretKey: string;
  publicFile: string;
  secretFile: string;
}

/** `rigd keys DIR NAME`, and the pair read back from the files it printed. */
function makeKeys(dir: string, name: string): Pair {
  const made = rigd(["keys", dir, name]);
  expect(made.code, made.stderr).toBe(0);
  const [publicFile, secretFile] = [join(dir, `${name}.key`), join(dir, `${name}.key_secret`)];
  expect(made.stdout).toBe(`public key  ${publicFile}\nsecret key  ${secretFile}\n`);
  const { publicKey, secretKey } = readCertificate(secretFile);
  return { publicKey, secretKey: secretKey!, publicFile, secretFile };
}

/** A client's CURVE options: the daemon's public key and the client's own pair; none for a keyless client. */
const curve = (server: string, client?: { publicKey: string; secretKey: string }) =>
  client ? { curveServerKey: server, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey } : {};

const timedOut = (e: unknown) => {
  if ((e as { code?: string }).code === "EAGAIN") return "no answer";
  throw e;
};

/** One request, and its answer, or "no answer" within 2 s. */
async function ask(control: string, body: unknown, options: ReturnType<typeof curve>): Promise<unknown> {
  const socket = new Request({ sendTimeout: 2000, receiveTimeout: 2000, linger: 0, ...options });
  socket.connect(control);
  try {
    await socket.send(JSON.stringify(body));
    const [reply] = await socket.receive();
    return JSON.parse(reply!.toString());
  } catch (e) {
    return timedOut(e);
  } finally {
    socket.close();
  }
}

/** The first status published (once a second), or "no answer" within 3 s. */
async function firstStatus(publish: string, options: ReturnType<typeof curve>): Promise<unknown> {
  const socket = new Subscriber({ receiveTimeout: 3000, linger: 0, ...options });
  socket.connect(publish);
  socket.subscribe("status");
  try {
    const [topic, body] = await socket.receive();
    return { topic: topic!.toString(), body: JSON.parse(body!.toString()) };
  } catch (e) {
    return timedOut(e);
  } finally {
    socket.close();
  }
}

const session = { session_description: "CURVE test.", experimenter: ["Doe, Jane"], subject: { subject_id: "m1", species: "Mus musculus", sex: "F", age: "P90D" } };

describe("rigd keys", () => {
  it("writes a public and a secret certificate (mode 0600), and never replaces one", () => {
    const dir = join(tempDir(), "keys");
    const pair = makeKeys(dir, "rig");
    expect(readCertificate(pair.publicFile)).toEqual({ publicKey: pair.publicKey });
    expect(readFileSync(pair.secretFile, "utf8")).toMatch(/^metadata\ncurve\n {4}public-key = "[^"]{40}"\n {4}secret-key = "[^"]{40}"\n$/m);
    expect(statSync(pair.secretFile).mode & 0o777).toBe(0o600);
    const before = readFileSync(pair.secretFile, "utf8");
    const again = rigd(["keys", dir, "rig"]);
    expect(again).toMatchObject({ code: 2, stdout: "" });
    expect(again.stderr).toBe(`rigd keys: ${pair.publicFile} exists: rigd keys never replaces a key; remove it first or choose another NAME\n`);
    expect(readFileSync(pair.secretFile, "utf8")).toBe(before);
  });
});

describe("rigd serve with CURVE keys", () => {
  it("answers and publishes to a client with a known key only; a keyless or unknown client gets nothing and is logged", async () => {
    const dir = tempDir();
    const server = makeKeys(join(dir, "server"), "rig");
    const known = makeKeys(join(dir, "clients"), "notebook");
    const unknown = curveKeyPair();
    // Every interface for control (what keys make possible), loopback for publish (CURVE there too once keys are given).
    const controlPort = port();
    const { publish, dataDir, stderr: logged } = await serve({ control: `tcp://0.0.0.0:${controlPort}`, args: ["--curve-secret-key", server.secretFile, "--client-keys", join(dir, "clients")] });
    const control = `tcp://127.0.0.1:${controlPort}`;
    // The refused clients ask for a recording: none must start.
    const start = { cmd: "start", out: "intruder.nwb", session };
    const [keyless, stranger, keylessSub, strangerSub] = await Promise.all([
      ask(control, start, {}),
      ask(control, start, curve(server.publicKey, unknown)),
      firstStatus(publish, {}),
      firstStatus(publish, curve(server.publicKey, unknown)),
    ]);
    expect({ keyless, stranger, keylessSub, strangerSub }).toEqual({ keyless: "no answer", stranger: "no answer", keylessSub: "no answer", strangerSub: "no answer" });
    expect(await ask(control, { cmd: "status" }, curve(server.publicKey, known))).toEqual({ ok: true, result: { state: "idle" } });
    expect(await firstStatus(publish, curve(server.publicKey, known))).toEqual({ topic: "status", body: { state: "idle" } });
    expect(existsSync(join(dataDir, "intruder.nwb"))).toBe(false);
    // The unknown key is logged once, however often its client retried; a keyless client once per socket.
    const stderr = logged();
    expect(stderr.split(unknown.publicKey).length - 1, stderr).toBe(1);
    expect(stderr).toContain(`its public key ${unknown.publicKey} is not among the client keys`);
    // Named by the address the client reached; the keyless client's libzmq may hang up before the daemon sees why.
    for (const [socket, address] of [["control", control], ["publish", publish]] as const) {
      expect(stderr).toMatch(new RegExp(`refused a client on the ${socket} socket ${address.replaceAll(".", "\\.")}: (it has no CURVE keys|it hung up during the CURVE handshake)`));
    }
    expect(stderr).not.toContain(known.publicKey);
  }, 60_000);

  it.skipIf(!python.path)(`takes pyzmq's certificates, and pyzmq reads rigd keys' certificates${python.skipNote}`, async () => {
    const dir = tempDir();
    const server = makeKeys(join(dir, "server"), "rig");
    const clients = join(dir, "clients");
    const created = spawnSync(python.path!, ["-c", "import os, sys, zmq.auth; os.makedirs(sys.argv[1]); zmq.auth.create_certificates(sys.argv[1], 'notebook')", clients], { encoding: "utf8" });
    expect(created.status, created.stderr).toBe(0);
    const control = `tcp://127.0.0.1:${port()}`;
    await serve({ control, args: ["--curve-secret-key", server.secretFile, "--client-keys", clients] });
    // A pyzmq client: rigd's certificates read with load_certificate, its own made by create_certificates.
    const client = `
import json, sys, zmq, zmq.auth
server_key, server_secret, client_secret, control = sys.argv[1:]
public, nothing = zmq.auth.load_certificate(server_key)
pair = zmq.auth.load_certificate(server_secret)
client_public, client_secret = zmq.auth.load_certificate(client_secret)
s = zmq.Context.instance().socket(zmq.REQ)
s.curve_serverkey, s.curve_publickey, s.curve_secretkey = public, client_public, client_secret
s.rcvtimeo, s.linger = 10000, 0
s.connect(control)
s.send_json({"cmd": "status"})
print(json.dumps({"public": public.decode(), "secret_in_public_file": nothing, "pair": [k.decode() for k in pair], "derived": zmq.curve_public(pair[1]).decode(), "reply": s.recv_json()}))
`;
    const run = spawnSync(python.path!, ["-c", client, server.publicFile, server.secretFile, join(clients, "notebook.key_secret"), control], { encoding: "utf8", timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      public: server.publicKey,
      secret_in_public_file: null,
      pair: [server.publicKey, server.secretKey],
      derived: server.publicKey,
      reply: { ok: true, result: { state: "idle" } },
    });
  }, 60_000);
});

// No such profile: each refusal comes before the profile is read, let alone a device opened.
describe("rigd serve refuses, before anything opens", () => {
  it.each([
    [["--control", "tcp://0.0.0.0:5555"], "--control tcp://0.0.0.0:5555 is not loopback: give --curve-secret-key and --client-keys (see rigd keys)"],
    [["--publish", "tcp://*:5556"], "--publish tcp://*:5556 is not loopback: give --curve-secret-key and --client-keys (see rigd keys)"],
    [["--curve-secret-key", "rig.key_secret"], "--curve-secret-key and --client-keys go together: the daemon's key pair, and the folder of the public keys it lets in"],
  ])("refuses %j with exit status 2 and one line", (args, line) => {
    const r = rigd(["serve", "--profile", "no-such-profile.yaml", ...args]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: `rigd serve: ${line}\n` });
  });

  it("refuses a public key file given as its secret key", () => {
    const dir = tempDir();
    const server = makeKeys(dir, "rig");
    const r = rigd(["serve", "--profile", "no-such-profile.yaml", "--control", "tcp://0.0.0.0:5555", "--curve-secret-key", server.publicFile, "--client-keys", dir]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: `rigd serve: ${server.publicFile}: no secret-key in it: give the NAME.key_secret file, not NAME.key\n` });
  });
});
