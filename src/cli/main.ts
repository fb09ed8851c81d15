#!/usr/bin/env node
// rigd command line: each command lives in its own module under ./commands and is registered here.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

await yargs(hideBin(process.argv))
  .scriptName("rigd")
  .command((await import("./commands/profile.js")).profileCommand)
  .strict()
  .demandCommand(1, "Name a command: rigd --help lists them.")
  .help()
  .parseAsync();
