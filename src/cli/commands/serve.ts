// `rigd serve`: the daemon. The rig stays connected; a ZeroMQ control socket starts and stops sessions,
// changes device settings and adds marks; a PUB socket publishes status, telemetry, events and previews;
// with --http, a live page shows them and sends the same requests. Beyond loopback, all need CURVE keys
// (rigd keys makes them).
import { accessSync, constants, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Argv, CommandModule } from "yargs";
import { type CurveKeys, isLoopback, readClientKeys, readSecretKey } from "../../acquisition/curve.js";
import { Daemon } from "../../acquisition/daemon.js";
import { formatConfigError, loadRigProfile } from "../../config/index.js";
import { openRig, type RunningRig } from "../running-rig.js";
import { stopSignals } from "../stop-signals.js";
import { parseHttpAddress, startWebServer, type WebServer } from "../../web/server.js";

interface ServeArgs {
  profile: string;
  control: string;
  publish: string;
  "data-dir": string;
  "curve-secret-key"?: string;
  "client-keys"?: string;
  http?: string;
}

/**
 * The CURVE keys given; without them, only loopback addresses (anyone else who could reach the sockets could
 * start, stop and change a recording). Throws the one-line usage error otherwise.
 */
function curveKeys({ control, publish, http, "curve-secret-key": secretFile, "client-keys": clientDir }: ServeArgs): CurveKeys | undefined {
  if (http !== undefined) parseHttpAddress(http); // a malformed page address is a usage error, keys or not
  if (secretFile !== undefined && clientDir !== undefined) return { secretKey: readSecretKey(secretFile), clientKeys: readClientKeys(clientDir) };
  if (secretFile !== undefined || clientDir !== undefined) throw new Error("--curve-secret-key and --client-keys go together: the daemon's key pair, and the folder of the public keys it lets in");
  // The page sends the control socket's requests, so its address follows the same rule.
  const endpoints = [["--control", control, control], ["--publish", publish, publish], ...(http !== undefined ? [["--http", http, `tcp://${http}`] as const] : [])] as const;
  for (const [option, given, endpoint] of endpoints) {
    if (!isLoopback(endpoint)) throw new Error(`${option} ${given} is not loopback: give --curve-secret-key and --client-keys (see rigd keys)`);
  }
  return undefined;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: "serve",
  describe: "Run the daemon: sessions started and stopped over a ZeroMQ control socket",
  builder: (yargs: Argv) =>
    yargs
      .option("profile", { type: "string", demandOption: true, describe: "Rig profile (YAML)" })
      .option("control", { type: "string", default: "tcp://127.0.0.1:5555", describe: "Control socket (a ROUTER: REQ or DEALER clients) for JSON requests (status, start, stop, set, mark)" })
      .option("publish", { type: "string", default: "tcp://127.0.0.1:5556", describe: "PUB socket: status, telemetry, events, preview and traces topics ([topic, JSON] messages; a preview adds its pixels)" })
      .option("data-dir", { type: "string", default: "data", describe: "Folder recordings go in: a start request's out is a path inside it" })
      .option("curve-secret-key", { type: "string", describe: "This daemon's NAME.key_secret (rigd keys): both sockets then take only CURVE clients with a key in --client-keys" })
      .option("client-keys", { type: "string", describe: "Folder of the public keys (*.key) of the clients let in; needed with --curve-secret-key" })
      .option("http", { type: "string", describe: "HOST:PORT of the live page (e.g. 127.0.0.1:8080): images, health, telemetry, events and controls in a browser" }) as unknown as Argv<ServeArgs>,
  handler: async (args) => {
    const { profile: file, control, publish, "data-dir": dataDirGiven } = args;
    // Before the profile and the devices: a daemon open to the network is not started even for a moment.
    let curve: CurveKeys | undefined;
    try {
      curve = curveKeys(args);
    } catch (e) {
      process.stderr.write(`rigd serve: ${(e as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    const profile = await loadRigProfile(file);
    if (!profile.ok) {
      process.stderr.write(`rigd serve: invalid profile:\n${profile.errors.map(formatConfigError).join("\n")}\n`);
      process.exitCode = 2;
      return;
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const dataDir = resolve(dataDirGiven);
    try {
      mkdirSync(dataDir, { recursive: true });
      accessSync(dataDir, constants.W_OK);
    } catch (e) {
      process.stderr.write(`rigd serve: --data-dir ${dataDirGiven} cannot be used: ${(e as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    const signals = stopSignals(log);
    let running: RunningRig | undefined;
    let daemon: Daemon | undefined;
    let web: WebServer | undefined;
    try {
      running = await openRig(profile.value);
      daemon = new Daemon({ profile: profile.value, rig: running.rig, control, publish, dataDir, log, ...(curve ? { curve } : {}) });
      await daemon.start();
      if (args.http !== undefined) web = await startWebServer({ daemon, profile: profile.value, rig: running.rig, address: args.http });
      running.sims?.startScanners();
      const access = curve ? `CURVE, ${curve.clientKeys.size} client key${curve.clientKeys.size === 1 ? "" : "s"} let in` : "loopback only, no keys";
      const page = web ? `, live page ${web.url}` : "";
      process.stdout.write(`rigd serve: control ${control}, publishing ${publish}${page}, recordings in ${dataDir} (${access})\n`);
      await signals.stopped;
    } catch (e) {
      process.stderr.write(`rigd serve: ${(e as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      running?.sims?.stopScanners();
      await daemon?.close();
      await web?.close();
      await running?.close();
      signals.dispose();
    }
  },
};
