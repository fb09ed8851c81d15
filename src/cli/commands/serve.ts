// `rigd serve`: the daemon. The rig stays connected; a ZeroMQ control socket starts and stops sessions,
// changes device settings and adds marks; a PUB socket publishes status, telemetry and previews.
import type { Argv, CommandModule } from "yargs";
import { Daemon } from "../../acquisition/daemon.js";
import { formatConfigError, loadRigProfile } from "../../config/index.js";
import { openRig, type RunningRig } from "../running-rig.js";

interface ServeArgs {
  profile: string;
  control: string;
  publish: string;
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: "serve",
  describe: "Run the daemon: sessions started and stopped over a ZeroMQ control socket",
  builder: (yargs: Argv) =>
    yargs
      .option("profile", { type: "string", demandOption: true, describe: "Rig profile (YAML)" })
      .option("control", { type: "string", default: "tcp://127.0.0.1:5555", describe: "REP socket for JSON requests (status, start, stop, set, mark)" })
      .option("publish", { type: "string", default: "tcp://127.0.0.1:5556", describe: "PUB socket: status, telemetry and preview topics" }) as unknown as Argv<ServeArgs>,
  handler: async ({ profile: file, control, publish }) => {
    const profile = await loadRigProfile(file);
    if (!profile.ok) {
      process.stderr.write(`rigd serve: invalid profile:\n${profile.errors.map(formatConfigError).join("\n")}\n`);
      process.exitCode = 2;
      return;
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    let running: RunningRig | undefined;
    let daemon: Daemon | undefined;
    try {
      running = await openRig(profile.value);
      daemon = new Daemon({ profile: profile.value, rig: running.rig, control, publish, log });
      await daemon.start();
      running.sims?.startScanners();
      process.stdout.write(`rigd serve: control ${control}, publishing ${publish}\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
    } catch (e) {
      process.stderr.write(`rigd serve: ${(e as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      running?.sims?.stopScanners();
      await daemon?.close();
      await running?.close();
    }
  },
};
