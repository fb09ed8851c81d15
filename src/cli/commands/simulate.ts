// `rigd simulate --profile P.yaml`: every simulator the profile binds, running, with where each listens,
// so rigd or a lab's own tools can be pointed at them. Runs until SIGINT / SIGTERM (or --duration).
import type { Argv, CommandModule } from "yargs";
import { formatConfigError, loadRigProfile } from "../../config/index.js";
import { startSimulatedRig } from "../../../simulators/rig.js";
import { parseDuration } from "./acquire.js";

export const simulateCommand: CommandModule<object, { profile: string; duration?: string }> = {
  command: "simulate",
  describe: "Run the simulators of every device a profile marks simulated, and print where they listen",
  builder: (yargs: Argv) =>
    yargs
      .option("profile", { type: "string", demandOption: true, describe: "Rig profile (YAML)" })
      .option("duration", { type: "string", describe: "Stop after this long (default: until Ctrl-C)" }) as Argv<{ profile: string; duration?: string }>,
  handler: async ({ profile: file, duration }) => {
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
    try {
      const rig = await startSimulatedRig(profile.value);
      rig.startScanners();
      process.stdout.write(`${rig.listing.join("\n")}\nsimulating; Ctrl-C stops\n`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
        if (duration !== undefined) setTimeout(resolve, parseDuration(duration));
      });
      await rig.stop();
    } catch (e) {
      process.stderr.write(`rigd simulate: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  },
};
