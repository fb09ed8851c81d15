// `rigd keys DIR NAME`: a CURVE key pair as ZeroMQ certificate files, for `rigd serve` beyond loopback and for
// its clients (pyzmq's zmq.auth.load_certificate reads them).
import type { Argv, CommandModule } from "yargs";
import { KeyFileError, writeKeyPair } from "../../acquisition/curve.js";

export const keysCommand: CommandModule<object, { dir: string; name: string }> = {
  command: "keys <dir> <name>",
  describe: "Make a CURVE key pair: DIR/NAME.key (public, to hand out) and DIR/NAME.key_secret (to keep private)",
  builder: (yargs: Argv) =>
    yargs
      .positional("dir", { type: "string", demandOption: true, describe: "Folder for the two files (made if missing)" })
      .positional("name", { type: "string", demandOption: true, describe: "Whose keys: e.g. the rig's name for rigd serve, or a client's" }),
  handler: ({ dir, name }) => {
    try {
      const { publicFile, secretFile } = writeKeyPair(dir, name);
      process.stdout.write(`public key  ${publicFile}\nsecret key  ${secretFile}\n`);
    } catch (e) {
      process.stderr.write(`rigd keys: ${(e as Error).message}\n`);
      process.exitCode = e instanceof KeyFileError ? 2 : 1;
    }
  },
};
