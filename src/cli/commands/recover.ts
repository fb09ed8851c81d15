// `rigd recover F.nwb`: makes a file left by a crash consistent and closed (src/nwb/recover.ts does the
// work), and says what is in it: per series samples and time span, and the file's last checkpoint.
import type { Argv, CommandModule } from "yargs";
import type { RecoveryReport } from "../../nwb/recover.js";

export const recoverCommand: CommandModule<object, { file: string; json: boolean }> = {
  command: "recover <file>",
  describe: "Make an NWB file left by a crash consistent and closed; the file as it was is kept as FILE.orig",
  builder: (yargs: Argv) =>
    yargs
      .positional("file", { type: "string", demandOption: true, describe: "NWB file rigd was writing when it stopped" })
      .option("json", { type: "boolean", default: false, describe: "Print the report as JSON" }),
  handler: async ({ file, json }) => {
    try {
      // Imported here, as every command's module is loaded by rigd's main: h5wasm need not be for `rigd acquire`.
      const { recover } = await import("../../nwb/recover.js");
      const report = await recover(file);
      process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatRecovery(report)}\n`);
      // Recovered, but not clean: say so in the status too, so a script notices.
      if (report.empty.length) process.exitCode = 2;
    } catch (e) {
      process.stderr.write(`rigd recover: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  },
};

const seconds = (t: number) => `${t.toFixed(3)} s`;

export function formatRecovery(r: RecoveryReport): string {
  const lines = [
    `${r.path}: recovered`,
    `  last checkpoint  ${r.lastCheckpoint.at} (session time ${seconds(r.lastCheckpoint.session_s)})`,
    `  series (${r.series.length})`,
  ];
  for (const s of r.series) {
    const span = s.span_s ? `${seconds(s.span_s[0])} – ${seconds(s.span_s[1])}` : "no samples";
    lines.push(`    ${s.path}  ${s.samples} samples  ${span}`);
    for (const repair of s.repairs) lines.push(`      ${repair}`);
  }
  lines.push(`  events  ${r.events.kept} of ${r.events.found} kept, + 1: "recovered" at ${seconds(r.ended_s)}`);
  for (const repair of r.events.repairs) lines.push(`    ${repair}`);
  for (const p of r.empty) lines.push(`  warning: ${p} has no samples; h5wasm cannot remove it, and nwbinspector will flag it`);
  lines.push(`  the file as the crash left it: ${r.original}`);
  return lines.join("\n");
}
