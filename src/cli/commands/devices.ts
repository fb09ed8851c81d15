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
      let listed: Awaited<ReturnType<typeof listPorts>> = [];
      try {
        if (!port.length || probe) listed = await listPorts();
      } catch (e) {
        // serialport lists ports through udev's udevadm on Linux: without it the ports given with --port are still probed.
        const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "udevadm was not found (Debian: apt-get install udev)" : (e as Error).message;
        process.stderr.write(`rigd devices: the system's serial ports could not be listed: ${why}${port.length ? "; probing the --port paths only" : ""}\n`);
        if (!port.length) {
          process.exitCode = 1;
          return;
        }
      }
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
