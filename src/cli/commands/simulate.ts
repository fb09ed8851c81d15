// `rigd simulate --profile P.yaml`: every simulator the profile binds, running, with where each listens, so rigd
// or a lab's own tools can be pointed at them. `rigd simulate --device DRIVER…`: serial devices on their own, no
// profile needed (e.g. to try other control software against a Chameleon or a PMT2100). Runs until SIGINT /
// SIGTERM (or --duration).
import type { Argv, CommandModule } from "yargs";
import { formatConfigError, loadRigProfile } from "../../config/index.js";
import { SERIAL_DRIVERS, type SerialDriver, serialSimulator, startSimulatedRig } from "../../../simulators/rig.js";
import type { SerialSimulator } from "../../../simulators/serial-simulator.js";
import { stopSignals } from "../stop-signals.js";
import { parseDuration } from "./acquire.js";

interface SimulateArgs {
  profile?: string;
  device?: SerialDriver[];
  duration?: string;
}

export const simulateCommand: CommandModule<object, SimulateArgs> = {
  command: "simulate",
  describe: "Run the simulators of every device a profile marks simulated (or of --device drivers), and print where they listen",
  builder: (yargs: Argv) =>
    yargs
      .option("profile", { type: "string", describe: "Rig profile (YAML)" })
      .option("device", { type: "string", array: true, choices: SERIAL_DRIVERS, describe: "A serial device to simulate on its own, by driver (repeat for more)" })
      .option("duration", { type: "string", describe: "Stop after this long (default: until Ctrl-C)" })
      .check((a) => {
        if ((a.profile === undefined) === (a.device === undefined)) throw new Error("give either --profile or --device");
        return true;
      }) as unknown as Argv<SimulateArgs>,
  handler: async ({ profile: file, device = [], duration }) => {
    const signals = stopSignals((line) => process.stderr.write(`${line}\n`));
    let stop: () => Promise<void> = async () => undefined;
    let listing: string[];
    try {
      if (file !== undefined) {
        const profile = await loadRigProfile(file);
        if (!profile.ok) {
          process.stderr.write(`rigd simulate: invalid profile:\n${profile.errors.map(formatConfigError).join("\n")}\n`);
          process.exitCode = 2;
          return;
        }
        if (!profile.value.bindings.some((b) => b.simulated)) {
          process.stderr.write(`rigd simulate: ${file} marks no binding simulated: true\n`);
          process.exitCode = 1;
          return;
        }
        const rig = await startSimulatedRig(profile.value);
        rig.startScanners();
        listing = rig.listing;
        stop = () => rig.stop();
      } else {
        const sims: SerialSimulator[] = [];
        stop = () => Promise.all(sims.map((s) => s.stop())).then(() => undefined);
        for (const driver of device) {
          const sim = serialSimulator(driver);
          sims.push(sim);
          await sim.start();
        }
        listing = sims.map((s, i) => `${device[i]}: ${s.path}`);
      }
      process.stdout.write(`${listing.join("\n")}\nsimulating; Ctrl-C stops\n`);
      const timer = duration === undefined ? undefined : setTimeout(signals.request, parseDuration(duration));
      await signals.stopped;
      clearTimeout(timer);
    } catch (e) {
      process.stderr.write(`rigd simulate: ${(e as Error).message}\n`);
      process.exitCode = 1;
    } finally {
      await stop();
      signals.dispose();
    }
  },
};
