// A session with a Thorlabs PMT2100 from a client of your own, not rigd's driver: raw SCPI messages over
// the serial port, each ended by LF, and each query's reply read up to its LF. The device answers only
// queries, so every setting carries ";:SYST:ERR?" and is judged by the error it leaves.
//
//   rigd simulate --profile <a profile binding a simulated thorlabs-pmt2100>   prints "... (thorlabs-pmt2100): <port>"
//   npx tsx examples/clients/pmt2100_session.ts <port>
//
// With no port given, it starts a simulated PMT2100 of its own and talks to that.
import { ThorlabsPmt2100Simulator } from "../../simulators/thorlabs-pmt2100.js";
import { runSession } from "./serial-client.js";

await runSession({ baudRate: 115200, commandEnd: "\n", replyEnd: "\n" }, () => new ThorlabsPmt2100Simulator(), async (pmt) => {
  /** A message that holds a query. */
  const ask = async (message: string) => {
    const reply = await pmt.ask(message);
    console.log(`${message} -> ${reply}`);
    return reply;
  };
  /** A setting, checked by the error it leaves in the device's error queue. */
  const set = async (command: string) => {
    const error = await ask(`${command};:SYST:ERR?`);
    if (!error.startsWith("0,")) throw new Error(`the PMT2100 refused '${command}': ${error}`);
  };
  const [maker, model] = (await ask("*IDN?")).split(",");
  if (maker !== "THORLABS" || model !== "pmt2100") throw new Error(`${pmt.path} is not a Thorlabs PMT2100`);
  await set("*CLS");
  const type = await ask("SENS:DET:FUNC?");
  await ask("INST GAIN;:SOUR:VOLT:LIM:LOW?;HIGH?"); // the gain range of this PMT type
  await set(`SENS:FUNC:ON ${type}`);
  await ask("INST GAIN;:SOUR:VOLT 1.1V;:SOUR:VOLT?;:SYST:ERR?");
  await set("SENS:FILT:FREQ 2.5MHz");
  await ask(`SENS:FUNC:STAT? ${type};:SENS:FILT:FREQ?;:SENS:CURR:PROT:TRIP?;*STB?`);
});
