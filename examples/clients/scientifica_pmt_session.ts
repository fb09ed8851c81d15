// A session with a Scientifica PMT controller from a client of your own, not rigd's driver: raw commands
// over the serial port, each ended by CR, each reply read up to its CR, in the order ScanImage uses them.
//
//   rigd simulate --profile profiles/sim-2p.yaml      prints "... (scientifica-pmt): <port>"
//   npx tsx examples/clients/scientifica_pmt_session.ts <port>
//
// With no port given, it starts a simulated controller of its own and talks to that.
import { ScientificaPmtSimulator } from "../../simulators/scientifica-pmt.js";
import { runSession } from "./serial-client.js";

await runSession({ baudRate: 9600, commandEnd: "\r", replyEnd: "\r" }, () => new ScientificaPmtSimulator(), async (controller) => {
  const ask = async (command: string) => {
    const reply = await controller.ask(command);
    console.log(`${command} -> ${reply}`);
    return reply;
  };
  if ((await ask("SCIENTIFICA")) !== "Y519") throw new Error(`${controller.path} is not a Scientifica PMT controller`);
  for (const query of ["SERIAL", "VER", "UID", "DESC"]) await ask(query);
  await ask("SOURCE 3"); // gain set over serial
  await ask("ENABLE 1");
  await ask("A 7.000000e-01"); // ScanImage's way of writing 0.7 V
  await ask("B 5.000000e-01");
  for (const query of ["ENABLE", "A", "B", "V", "SOURCE"]) await ask(query);
});
