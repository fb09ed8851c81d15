// Which device answers on a serial port: each driver's query-only identify command, at its own baud
// rate and framing, never a command that changes a device's state. How a user finds which
// /dev/ttyUSB* is the laser.
import { SerialPort } from "serialport";
import { COBOLT_PROBE } from "./cobolt.js";
import { CHAMELEON_PROBE } from "./coherent-chameleon.js";
import { SCIENTIFICA_PMT_PROBE } from "./scientifica-pmt.js";
import { type LineFraming, SerialLine } from "./serial-line.js";
import { MAITAI_PROBE } from "./spectra-physics-maitai.js";
import { PMT2100_PROBE } from "./thorlabs-pmt2100.js";

export interface DriverProbe {
  driver: string;
  baudRate: number;
  framing: LineFraming;
  /** A query that only reads (an identity or a handshake). */
  query: string;
  /** The device's identity from its reply, or undefined when the reply is not this device's. */
  identify: (reply: string) => string | undefined;
}

/** How long a device gets to answer the leftovers of an earlier probe before the next query. */
const SETTLE_MS = 150;

export const PROBES: readonly DriverProbe[] = [MAITAI_PROBE, CHAMELEON_PROBE, COBOLT_PROBE, SCIENTIFICA_PMT_PROBE, PMT2100_PROBE];

export interface ProbeResult {
  path: string;
  /** The driver whose query got this device's answer, or undefined when none did. */
  driver?: string;
  identity?: string;
}

/** Asks one port with every driver's probe in turn, until one is answered. */
export async function probePort(path: string, timeoutMs = 400): Promise<ProbeResult> {
  for (const probe of PROBES) {
    const line = new SerialLine({ path, baudRate: probe.baudRate }, probe.framing, { timeoutMs, retries: 0, backoffMs: [60_000, 60_000] }, path);
    try {
      await line.open();
      // A bare terminator first: it ends whatever an earlier probe's command left in the device's input
      // (an empty command, which devices ignore), so the query arrives on a line of its own.
      await line.send("");
      // Whatever the device says to those leftovers arrives now, with no query waiting, and is dropped.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      // Echoing devices (a Chameleon after power-up) send the command back first, maybe after a prompt.
      const reply = await line.query(probe.query, { quiet: true, skip: (l) => l.trim() === "" || l.trim().endsWith(probe.query) });
      const identity = probe.identify(reply.trim());
      if (identity) return { path, driver: probe.driver, identity };
    } catch {
      // No answer (or not this protocol's): try the next driver.
    } finally {
      await line.close();
    }
  }
  return { path };
}

/** Serial ports the operating system lists (needs udev's udevadm on Linux). */
export async function listPorts(): Promise<{ path: string; description: string }[]> {
  const ports = await SerialPort.list();
  return ports.map((p) => ({
    path: p.path,
    description: [p.manufacturer, p.serialNumber && `s/n ${p.serialNumber}`, p.vendorId && `${p.vendorId}:${p.productId}`].filter(Boolean).join(", "),
  }));
}
