// A client session with a Cobolt laser that is not rigd's driver: raw commands over the serial port, as a
// lab's own script (or pycobolt) sends them — CR after each command, one CRLF-ended reply line back.
//
//   rigd simulate --profile profiles/sim-lightsheet.yaml     # prints "Laser488 (cobolt): /tmp/rigd-pty-…/cobolt"
//   npx tsx examples/clients/cobolt_session.ts /tmp/rigd-pty-…/cobolt
//
// Without a port it starts a simulated laser of its own and talks to that.
import { CoboltSimulator } from "../../simulators/cobolt.js";
import { runSession } from "./serial-client.js";

await runSession({ baudRate: 115200, commandEnd: "\r", replyEnd: "\r\n" }, () => new CoboltSimulator(), async (laser) => {
  const send = async (command: string) => {
    const reply = await laser.ask(command);
    console.log(`> ${command.padEnd(10)} < ${reply}`);
    return reply;
  };
  const firmware = await send("gfv?");
  if (firmware.startsWith("Syntax error")) throw new Error(`${laser.path} is not a Cobolt with 06-series firmware`);
  await send("gsn?");
  await send("glm?");
  const maxPowerMW = Number(await send("gmlp?"));
  await send("gom?"); // with autostart on, the laser waits for its key after power-up
  await send("l1"); // refused in autostart mode
  await send("@cobas 0"); // so take over: autostart off, then switch on directly
  await send("cp");
  await send(`p ${((maxPowerMW * 0.2) / 1000).toFixed(4)}`);
  await send("l1");
  await new Promise((r) => setTimeout(r, 300)); // the output settles
  await send("pa?");
  await send("i?");
  await send("f?");
  await send("l0");
  await send("l?");
});
