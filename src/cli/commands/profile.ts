// `rigd profile check FILE…` and `rigd profile schema [rig|session]`: rig profiles (and session files)
// checked before a session starts, and the JSON Schemas editors use for completion.
import type { Argv, CommandModule } from "yargs";
import { formatConfigError, jsonSchemaText, loadRigProfile, loadSessionFile } from "../../config/index.js";

const check: CommandModule<object, { files: string[]; session: boolean }> = {
  command: "check <files..>",
  describe: "Check rig profiles (with --session: session files); exit status 1 if any is invalid",
  builder: (yargs: Argv) =>
    yargs
      .positional("files", { type: "string", array: true, demandOption: true, describe: "YAML files to check" })
      .option("session", { type: "boolean", default: false, describe: "The files are session metadata (--session FILE), not rig profiles" }),
  handler: async ({ files, session }) => {
    let allValid = true;
    for (const file of files) {
      const result = session ? await loadSessionFile(file) : await loadRigProfile(file);
      if (result.ok) {
        process.stdout.write(`${file}: ok\n`);
      } else {
        allValid = false;
        process.stderr.write(result.errors.map((e) => `${formatConfigError(e)}\n`).join(""));
      }
    }
    if (!allValid) process.exitCode = 1;
  },
};

const schema: CommandModule<object, { kind: "rig" | "session" }> = {
  command: "schema [kind]",
  describe: "Print the JSON Schema of rig profiles (or of session files)",
  builder: (yargs: Argv) => yargs.positional("kind", { choices: ["rig", "session"] as const, default: "rig" as const }),
  handler: ({ kind }) => {
    process.stdout.write(jsonSchemaText(kind));
  },
};

export const profileCommand: CommandModule = {
  command: "profile",
  describe: "Check rig profiles; print their JSON Schema",
  builder: (yargs: Argv) => yargs.command(check).command(schema).demandCommand(1, "Name a subcommand: check or schema."),
  handler: () => {},
};
