// `rigd inspect F.nwb`: what a recording holds, for a person (or with --json, for a script).
import type { Argv, CommandModule } from "yargs";

export const inspectCommand: CommandModule<object, { file: string; json: boolean }> = {
  command: "inspect <file>",
  describe: "Summarize an NWB file: session, subject, devices, series, telemetry and events",
  builder: (yargs: Argv) =>
    yargs
      .positional("file", { type: "string", demandOption: true, describe: "NWB file" })
      .option("json", { type: "boolean", default: false, describe: "Print the summary as JSON" }),
  handler: async ({ file, json }) => {
    try {
      // Imported here, as every command's module is loaded by rigd's main: h5wasm need not be for `rigd acquire`.
      const { formatSummary, summarize } = await import("../../nwb/inspect.js");
      const summary = await summarize(file);
      process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
    } catch (e) {
      process.stderr.write(`rigd inspect: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  },
};
