// ZeroMQ CURVE for `rigd serve` beyond loopback: key pairs in ZeroMQ's certificate files (the layout pyzmq's
// zmq.auth.create_certificates writes and load_certificate reads, so either side may make them), the ZAP
// handler that lets in only the clients whose public keys the daemon was given, and which addresses are
// loopback (served without keys).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { BlockList, isIP } from "node:net";
import { join } from "node:path";
import { capability, curveKeyPair, Router, type Socket } from "zeromq";

/** CURVE settings of the daemon's sockets. Keys are Z85 text, as in the certificate files. */
export interface CurveKeys {
  /** The daemon's own secret key. */
  secretKey: string;
  /** Public keys of the clients let in; any other client is refused. */
  clientKeys: ReadonlySet<string>;
}

export interface Certificate {
  publicKey: string;
  /** Only in a NAME.key_secret file. */
  secretKey?: string;
}

/** A key file that cannot be used or would be replaced: the user's to fix. */
export class KeyFileError extends Error {}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

const isZ85Key = (text: string) => text.length === 40 && [...text].every((c) => Z85.includes(c));

/** A 32-byte key as Z85 text: the ZAP request carries the client's key as bytes, and zeromq.js has no Z85 codec. */
function z85(key: Uint8Array): string {
  const bytes = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 4) {
    let value = bytes.readUInt32BE(i);
    let chunk = "";
    for (let j = 0; j < 5; j++, value = Math.floor(value / 85)) chunk = Z85[value % 85] + chunk;
    text += chunk;
  }
  return text;
}

/** Reads a certificate as pyzmq does: `public-key = "…"` and `secret-key = "…"` lines, quotes optional. */
export function readCertificate(path: string): Certificate {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new KeyFileError(`${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`);
  }
  const keys = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(public-key|secret-key)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) keys.set(m[1]!, m[2]!.replace(/^["']|["']$/g, ""));
  }
  const [publicKey, secretKey] = [keys.get("public-key"), keys.get("secret-key")];
  if (publicKey === undefined) throw new KeyFileError(`${path}: no public-key in it: expected a certificate made by rigd keys or pyzmq's zmq.auth.create_certificates`);
  for (const [name, key] of [["public-key", publicKey], ["secret-key", secretKey]] as const) {
    if (key !== undefined && !isZ85Key(key)) throw new KeyFileError(`${path}: its ${name} is not a 40-character Z85 key`);
  }
  return secretKey === undefined ? { publicKey } : { publicKey, secretKey };
}

/** The secret key of a NAME.key_secret file. */
export function readSecretKey(path: string): string {
  const { secretKey } = readCertificate(path);
  if (secretKey === undefined) throw new KeyFileError(`${path}: no secret-key in it: give the NAME.key_secret file, not NAME.key`);
  return secretKey;
}

/** The public keys of the *.key files in `dir` (as pyzmq's configure_curve(location=dir) takes them). */
export function readClientKeys(dir: string): Set<string> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".key"));
  } catch (e) {
    throw new KeyFileError(`${dir}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such folder" : (e as Error).message}`);
  }
  // No key would let no client in: certainly not what was meant.
  if (names.length === 0) throw new KeyFileError(`${dir} has no client public keys (*.key): make a pair with rigd keys and put its NAME.key there`);
  return new Set(names.map((n) => readCertificate(join(dir, n)).publicKey));
}

function certificateText(kind: "public" | "secret", name: string, keys: Certificate): string {
  const about =
    kind === "public"
      ? [`ZeroMQ CURVE Public Certificate of ${name}`, "Give it to the daemon or clients that must know this key."]
      : [`ZeroMQ CURVE **Secret** Certificate of ${name}`, "Keep it private: whoever holds it is taken for this key's owner."];
  return [
    `#   Made by rigd keys on ${new Date().toISOString()}`,
    ...about.map((line) => `#   ${line}`),
    "",
    "metadata",
    "curve",
    `    public-key = "${keys.publicKey}"`,
    ...(keys.secretKey === undefined ? [] : [`    secret-key = "${keys.secretKey}"`]),
    "",
  ].join("\n");
}

/** A new key pair as DIR/NAME.key (public) and DIR/NAME.key_secret (both keys, mode 0600); never replaces a file. */
export function writeKeyPair(dir: string, name: string): { publicFile: string; secretFile: string } {
  if (name === "" || /[/\\]/.test(name)) throw new KeyFileError(`NAME must be a file name without a folder, found '${name}'`);
  const publicFile = join(dir, `${name}.key`);
  const secretFile = `${publicFile}_secret`;
  // A replaced key locks out whoever relied on it.
  for (const file of [publicFile, secretFile]) {
    if (existsSync(file)) throw new KeyFileError(`${file} exists: rigd keys never replaces a key; remove it first or choose another NAME`);
  }
  mkdirSync(dir, { recursive: true });
  const keys = curveKeyPair();
  writeFileSync(secretFile, certificateText("secret", name, keys), { flag: "wx", mode: 0o600 });
  writeFileSync(publicFile, certificateText("public", name, { publicKey: keys.publicKey }), { flag: "wx" });
  return { publicFile, secretFile };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** Whether a ZeroMQ bind address is reachable from this machine only: tcp:// on a loopback address, ipc://, inproc://. */
export function isLoopback(endpoint: string): boolean {
  if (/^(ipc|inproc):\/\//.test(endpoint)) return true;
  // libzmq splits the port off at the last colon; an IPv6 host may be in brackets.
  const host = /^tcp:\/\/(.+):[^:]+$/.exec(endpoint)?.[1]?.replace(/^\[(.*)\]$/, "$1");
  if (host === undefined) return false;
  if (host === "localhost") return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6");
}

/** Where libzmq sends ZAP requests: a handler bound there, in the same context, decides for every CURVE socket. */
const ZAP_ENDPOINT = "inproc://zeromq.zap.01";
/** Refused keys remembered, so that each is logged once; bounded against a client that makes up a key per try. */
const MAX_REFUSED_REMEMBERED = 10_000;
/** A refusal that names no key (no CURVE at all, a wrong server key) is logged at most this often per socket: no key tells one client from another. */
const ANONYMOUS_LOG_MS = 60_000;

/**
 * The daemon's ZAP handler (RFC 27): a ROUTER socket on ZAP_ENDPOINT that answers each CURVE handshake with
 * 200 for a known client key and 400 for any other, so a refused client's requests never reach the daemon.
 * One at a time per process: a context has one ZAP endpoint, and zeromq.js sockets share the default context.
 */
export class Authenticator {
  private readonly handler = new Router();
  private readonly refused = new Set<string>();
  private readonly anonymousLogged = new Map<string, number>();
  private closing = false;

  private constructor(
    private readonly keys: CurveKeys,
    private readonly log: (line: string) => void,
  ) {}

  static async start(keys: CurveKeys, log: (line: string) => void): Promise<Authenticator> {
    // Without CURVE in the build, the socket options below would not exist and the sockets would be open.
    if (!capability.curve) throw new Error("this build of zeromq has no CURVE support");
    const authenticator = new Authenticator(keys, log);
    await authenticator.handler.bind(ZAP_ENDPOINT);
    void authenticator.answer();
    return authenticator;
  }

  /** Makes `socket` a CURVE server whose clients this handler decides on; call it before the socket binds. */
  secure(socket: Socket, name: string): void {
    socket.curveServer = true;
    socket.curveSecretKey = this.keys.secretKey;
    // RFC 27 asks for a domain; libzmq consults the handler for CURVE either way.
    socket.zapDomain = "rigd";
    // A client without keys, or with a wrong server key, fails before ZAP: only the socket's events tell. A
    // keyless client's libzmq hangs up as soon as it sees CURVE, so the daemon sees a mismatch or a broken pipe.
    const failed = ({ address, error }: { address: string; error: { code: string; message: string } }) => {
      const now = Date.now();
      if (now - (this.anonymousLogged.get(name) ?? -Infinity) < ANONYMOUS_LOG_MS) return;
      this.anonymousLogged.set(name, now);
      const why =
        error.code === "ERR_ZMTP_MECHANISM_MISMATCH"
          ? "it has no CURVE keys"
          : error.code === "EPIPE" || error.code === "ECONNRESET"
            ? "it hung up during the CURVE handshake, as a client without CURVE keys does"
            : `its CURVE handshake failed (${error.message})`;
      this.log(`refused a client on the ${name} socket ${address}: ${why} (at most one such line a minute)`);
    };
    socket.events.on("handshake:error:protocol", failed);
    socket.events.on("handshake:error:other", failed);
  }

  private async answer(): Promise<void> {
    try {
      for await (const [routingId, delimiter, version, requestId, , address, , mechanism, credentials] of this.handler) {
        const key = mechanism?.toString() === "CURVE" && credentials?.length === 32 ? z85(credentials) : undefined;
        const allowed = key !== undefined && this.keys.clientKeys.has(key) ? key : undefined;
        if (allowed === undefined && key !== undefined) this.refuse(key, address?.toString() ?? "");
        const [status, text] = allowed === undefined ? ["400", "unknown client key"] : ["200", "OK"];
        await this.handler.send([routingId!, delimiter!, version!, requestId!, status, text, allowed ?? "", ""]);
      }
    } catch (e) {
      // Closing the socket ends the loop; anything else leaves CURVE clients waiting on their handshakes.
      if (!this.closing) this.log(`error: the CURVE authenticator failed: ${(e as Error).message}`);
    }
  }

  private refuse(key: string, address: string): void {
    if (this.refused.has(key)) return;
    if (this.refused.size >= MAX_REFUSED_REMEMBERED) this.refused.clear();
    this.refused.add(key);
    this.log(`refused a client from ${address}: its public key ${key} is not among the client keys`);
  }

  close(): void {
    this.closing = true;
    this.handler.close();
  }
}
