// A writer killed with SIGKILL after a checkpoint: every checkpointed frame reads back afterwards.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { dataset, openRead, tempPath } from "./h5read.js";

describe("durability", () => {
  it("keeps every checkpointed frame when the writer process is killed with SIGKILL mid-recording", async () => {
    const path = tempPath("crash.nwb");
    const checkpointed = 1000;
    const child = spawn(process.execPath, ["--import", "tsx", new URL("../fixtures/kill-writer.ts", import.meta.url).pathname, path, String(checkpointed)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`writer exited early (${code})`)));
    });
    expect(JSON.parse(line).samples.Series).toBe(checkpointed);
    // Let it record (and checkpoint on its own) a while longer, then kill it mid-write.
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const f = await openRead(path);
    const data = dataset(f, "acquisition/Series/data");
    const frames = data.shape![0]!;
    const timestamps = dataset(f, "acquisition/Series/timestamps").value as Float64Array;
    console.log(`killed after checkpoint of ${checkpointed} frames: ${frames} frames and ${timestamps.length} timestamps read back`);
    expect(frames).toBeGreaterThanOrEqual(checkpointed);
    expect(timestamps.length).toBe(frames);
    const values = data.value as Uint16Array;
    for (let i = 0; i < frames; i++) {
      expect(values[i * 4096]).toBe(i);
      expect(values[i * 4096 + 4095]).toBe(i);
      expect(timestamps[i]).toBeCloseTo(i / 30, 12);
    }
  });
});
