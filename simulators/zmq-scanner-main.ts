// The scanner simulator as a process of its own, where acquisition software would run:
//
//   node --import tsx simulators/zmq-scanner-main.ts --address tcp://127.0.0.1:5600 \
//     [--channels 2] [--planes 1] [--height 512] [--width 512] [--dtype uint16] [--timing resonant|light-sheet]
//     [--frames N] [--drop-probability 0.01] [--malformed-every 10] [--seed 1]
//
// It prints one JSON line, the run's summary (frames acquired, sent, lost, malformed), when done; SIGINT or
// SIGTERM end the run early.
import { parseArgs } from "node:util";
import { isFrameDtype } from "../src/drivers/frame-source.js";
import { LIGHT_SHEET, RESONANT, ScannerSimulator } from "./zmq-scanner.js";

const { values } = parseArgs({
  options: {
    address: { type: "string" },
    channels: { type: "string", default: "1" },
    planes: { type: "string", default: "1" },
    height: { type: "string", default: "512" },
    width: { type: "string", default: "512" },
    dtype: { type: "string", default: "uint16" },
    timing: { type: "string", default: "resonant" },
    frames: { type: "string", default: "Infinity" },
    "drop-probability": { type: "string", default: "0" },
    "malformed-every": { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
  },
});

function fail(message: string): never {
  console.error(`zmq-scanner: ${message}`);
  process.exit(2);
}

function number(name: keyof typeof values, whole = true): number {
  const n = Number(values[name]);
  if (Number.isNaN(n) || n < 0 || (whole && !Number.isInteger(n) && n !== Infinity)) fail(`--${name} must be a ${whole ? "whole " : ""}number, got ${values[name]}`);
  return n;
}

if (!values.address) fail("--address is required (rigd's frame source address, e.g. tcp://127.0.0.1:5600)");
if (!isFrameDtype(values.dtype)) fail(`--dtype must be uint8, uint16, int16 or float32, got ${values.dtype}`);
if (values.timing !== "resonant" && values.timing !== "light-sheet") fail(`--timing must be resonant or light-sheet, got ${values.timing}`);

const scanner = new ScannerSimulator({
  address: values.address,
  geometry: { channels: number("channels"), planes: number("planes"), height: number("height"), width: number("width"), dtype: values.dtype },
  timing: values.timing === "resonant" ? RESONANT : LIGHT_SHEET,
  dropProbability: number("drop-probability", false),
  malformedEvery: number("malformed-every"),
  seed: number("seed"),
});
process.once("SIGINT", () => scanner.stop());
process.once("SIGTERM", () => scanner.stop());
const summary = await scanner.run(number("frames"));
console.log(JSON.stringify(summary));
