#!/usr/bin/env node
// rigd command line: each command lives in its own module under ./commands and is registered here.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { acquireCommand } from "./commands/acquire.js";
import { devicesCommand } from "./commands/devices.js";
import { inspectCommand } from "./commands/inspect.js";
import { keysCommand } from "./commands/keys.js";
import { profileCommand } from "./commands/profile.js";
import { recoverCommand } from "./commands/recover.js";
import { serveCommand } from "./commands/serve.js";
import { simulateCommand } from "./commands/simulate.js";

// `rigd profile schema | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

await yargs(hideBin(process.argv))
  .scriptName("rigd")
  .command(acquireCommand)
  .command(profileCommand)
  .command(inspectCommand)
  .command(serveCommand)
  .command(keysCommand)
  .command(simulateCommand)
  .command(devicesCommand)
  .command(recoverCommand)
  .strict()
  .demandCommand(1, "Name a command: rigd --help lists them.")
  .help()
  .parseAsync();
