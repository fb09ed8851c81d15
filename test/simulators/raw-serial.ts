// A client's end of a simulator's pty with nothing of rigd's in it, for replaying what other control software
// sends: the example clients' own serial client (the port opened with the serial bindings, bytes written exactly
// as a client writes them, replies read as raw text with their ends), with every reply checked byte for byte.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect, onTestFinished } from "vitest";
import { type Framing, SerialClient } from "../../examples/clients/serial-client.js";
import type { SerialSimulator } from "../../simulators/serial-simulator.js";

/** One step of a replay: what a client sends, and each reply it must get without the reply end; none for silence. */
export type Step = [sent: string, ...replies: string[]];

export class RawSerial extends SerialClient {
  /**
   * Sends each step with `end` after it and checks that exactly its replies come back, each with the device's
   * reply end; bytes beyond them are left for, and fail, the next step.
   */
  async replay(steps: Step[], end = this.framing.commandEnd): Promise<void> {
    for (const [sent, ...replies] of steps) {
      expect(await this.exchange(sent + end, replies.length), sent).toBe(replies.map((reply) => reply + this.framing.replyEnd).join(""));
    }
  }
}

/** Starts `sim` for the current test, which stops it when it ends. */
export async function started<S extends SerialSimulator>(sim: S): Promise<S> {
  onTestFinished(() => sim.stop());
  await sim.start();
  return sim;
}

/** Starts `sim` and opens its port as a client would, both for the current test, which closes them when it ends. */
export async function connect(sim: SerialSimulator, framing: Framing): Promise<RawSerial> {
  await started(sim);
  const client = await RawSerial.open(sim.path, framing);
  onTestFinished(() => client.close());
  return client;
}

/** Runs examples/clients/`script` on `path` as a person would, and resolves with what it printed. */
export async function runExample(script: string, path: string, timeoutMs = 30_000): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", `examples/clients/${script}`, path], { encoding: "utf8", timeout: timeoutMs });
  return stdout;
}
