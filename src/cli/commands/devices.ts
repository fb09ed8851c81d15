// `rigd devices [--probe] [--port PATH…]`: the machine's serial ports, and with --probe which device
// answers on each (every driver's query-only identify command, nothing that changes a device).
import type { Argv, CommandModule } from "yargs";
import { listPorts, probePort } from "../../drivers/probe.js";

export const devicesCommand: CommandModule<object, { probe: boolean; port?: string[] }> = {
  command: "devices",
  describe: "List serial ports; with --probe, ask each which device is there",
  builder: (yargs: Argv) =>
    yargs
      .option("probe", { type: "boolean", default: false, describe: "Ask every port with each driver's query-only identify command" })
      .option("port", { type: "string", array: true, describe: "Probe these paths too (ports the system does not list, e.g. a pty)" }) as Argv<{ probe: boolean; port?: string[] }>,
  handler: async ({ probe, port = [] }) => {
    try {
      const listed = port.length && !probe ? [] : await listPorts();
      const paths = [...new Set([...listed.map((p) => p.path), ...port])];
      if (!probe) {
        for (const p of listed) process.stdout.write(`${p.path}${p.description ? `  ${p.description}` : ""}\n`);
        if (!listed.length) process.stdout.write("no serial ports found\n");
        return;
      }
      for (const path of paths) {
        const r = await probePort(path);
        process.stdout.write(r.driver ? `${path}  ${r.driver}  ${r.identity}\n` : `${path}  no known device answered\n`);
      }
    } catch (e) {
      process.stderr.write(`rigd devices: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  },
};
