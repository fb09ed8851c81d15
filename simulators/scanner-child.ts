// The scanner's process (see scanner-process.ts): it sets the scanner up from its first message, answers "ready",
// runs when told and sends the run's summary, then ends once its socket has sent what it holds. The light it
// images by is the latest rigd's side sent. When rigd is gone (its IPC channel closed) it ends at once.
import { type FromScanner, LIGHT, type Light, type ToScanner } from "./scanner-process.js";
import type { LaserLight } from "./sample.js";
import { type DetectorOutput, ScannerSimulator } from "./zmq-scanner.js";

const send = (m: FromScanner, then?: () => void) => process.send!(m, undefined, {}, () => then?.());
process.on("disconnect", () => process.exit(0));
// A terminal's Ctrl-C (or a service manager's SIGTERM) reaches rigd's whole process group: the scanner is rigd's
// to stop, as it stops its session first, and it ends by itself if rigd is gone (disconnect, above).
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => undefined);

process.once("message", (first: ToScanner) => {
  if (typeof first !== "object" || !("settings" in first)) throw new Error("the scanner process's first message must hold its settings");
  let light: Light = first.light;
  const laser: LaserLight = {
    get shutterOpen() {
      return light[LIGHT.shutterOpen] !== 0;
    },
    get powerW() {
      return light[LIGHT.powerW]!;
    },
    get wavelengthNm() {
      return light[LIGHT.wavelengthNm]!;
    },
  };
  const detectors: DetectorOutput[] = Array.from({ length: first.settings.geometry.channels }, (_, channel) => ({
    get signalScale() {
      return light[LIGHT.signalScale + channel] ?? 1; // a channel without a PMT of its own shows the sample as it is
    },
  }));
  const scanner = new ScannerSimulator({ ...first.settings, laser, detectors });
  scanner.warmUp();
  let running = false;
  process.on("message", (m: ToScanner) => {
    if (m === "stop") {
      if (running) scanner.stop();
      else if (process.connected) process.disconnect(); // never run: nothing to report (a second stop finds it gone)
      return;
    }
    if ("light" in m) {
      light = m.light;
      return;
    }
    if (!("run" in m) || running) throw new Error(`the scanner process was sent ${JSON.stringify(m)} while ${running ? "running" : "ready"}`);
    running = true;
    scanner.dropProbability = m.run.dropProbability ?? 0;
    void scanner.run().then((summary) => {
      // Then the process ends, once its socket has sent what it still holds (linger).
      send({ summary }, () => {
        process.removeAllListeners("disconnect");
        process.disconnect();
      });
    });
  });
  send("ready");
});
