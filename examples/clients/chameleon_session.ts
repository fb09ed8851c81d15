// A client session with a Coherent Chameleon that is not rigd's driver: plain serial, one command, one reply line,
// as the laser's operator's manual describes it. It runs the same against the laser or its simulator:
//
//   rigd simulate --profile my-rig.yaml     # a profile with a coherent-chameleon binding, simulated: true;
//                                           # it prints "<laser> (coherent-chameleon): /tmp/rigd-pty-…/chameleon"
//   npx tsx examples/clients/chameleon_session.ts /tmp/rigd-pty-…/chameleon
//
// Without a port it starts a simulated laser of its own and talks to that. It switches the echo, prompt and
// heartbeat off, names the laser, switches it on, tunes it to 900 nm, opens and closes the shutter, and puts it back
// in standby.
import { ChameleonSimulator } from "../../simulators/coherent-chameleon.js";
import { runSession } from "./serial-client.js";

await runSession({ baudRate: 19200, commandEnd: "\r\n", replyEnd: "\r\n" }, () => new ChameleonSimulator(), async (laser) => {
  /** The laser answers every command with exactly one line; a refusal starts with a space. */
  const send = async (command: string) => {
    const reply = await laser.ask(command);
    if (/^ (Command Error|Query Error|RANGE ERROR)/.test(reply)) throw new Error(`the laser refused ${command}:${reply}`);
    return reply;
  };
  const is = (want: string) => (reply: string) => reply === want;
  // From power-up these two replies still carry the prompt and echo ("CHAMELEON> ECHO=0", "CHAMELEON> "); after them
  // every reply is the bare value.
  await send("ECHO=0");
  await send("PROMPT=0");
  await send("HB=0"); // otherwise the laser switches off when this session is quiet for the heartbeat period
  console.log(`serial number ${await send("?SN")}, tuning range ${await send("?TMIN")}–${await send("?TMAX")} nm`);
  await send("L=1");
  await laser.until("?ST", is("OK"), 30_000); // "Starting" while it warms up
  await send("WAVELENGTH=900");
  await laser.until("?TS", is("0"), 30_000);
  console.log(`tuned to ${await send("?VW")} nm, ${await send("?UF")} mW, mode-locked: ${(await send("?MDLK")) === "1"}`);
  await send("SHUTTER=1");
  await laser.until("?S", is("1"), 3000);
  console.log("shutter open");
  await send("SHUTTER=0");
  await laser.until("?S", is("0"), 3000);
  await send("L=0");
  console.log(`shutter closed, laser ${(await send("?ST")).toLowerCase()}`);
});
