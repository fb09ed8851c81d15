// A client session with a Spectra-Physics Mai Tai or InSight that is not rigd's driver: plain serial, SCPI-style
// commands ended by CR, as the laser's user's manual describes ("Typical Command Usage"). Settings get no reply,
// even when the laser refuses them (SYSTem:ERRor? would say why); queries get one line ended by LF. It runs the same
// against the laser or its simulator:
//
//   rigd simulate --profile profiles/sim-2p.yaml    # prints "<laser> (spectra-physics-maitai): /tmp/rigd-pty-…/maitai"
//   npx tsx examples/clients/maitai_session.ts /tmp/rigd-pty-…/maitai
//
// Without a port it starts a simulated laser of its own and talks to that. It turns the watchdog off, waits for the
// warm-up, tunes to 900 nm, switches the laser on, opens and closes the shutter, and switches it off.
import { MaiTaiSimulator } from "../../simulators/spectra-physics-maitai.js";
import { runSession } from "./serial-client.js";

await runSession({ baudRate: 9600, commandEnd: "\r", replyEnd: "\n" }, () => new MaiTaiSimulator(), async (laser) => {
  console.log(await laser.ask("*IDN?"));
  await laser.send("TIMER:WATCHDOG 0"); // otherwise the laser switches off when this session is quiet for the watchdog's seconds
  // The manual's sequence: ON at 0 % warm starts the warm-up; wait for 100 %; then ON switches the laser on.
  if (parseFloat(await laser.ask("READ:PCTWARMEDUP?")) === 0) await laser.send("ON");
  await laser.until("READ:PCTWARMEDUP?", (r) => parseFloat(r) >= 100, 30 * 60_000);
  await laser.send("WAVELENGTH 900");
  await laser.send("ON");
  await laser.until("*STB?", (r) => (Number(r) & 1) === 1, 10_000); // bit 1: emission possible
  await laser.until("READ:WAVELENGTH?", (r) => r === "900nm", 10_000);
  console.log(`tuned to ${await laser.ask("READ:WAVELENGTH?")}, ${await laser.ask("READ:POWER?")}, mode-locked: ${(Number(await laser.ask("*STB?")) & 2) === 2}`);
  await laser.send("SHUTTER 1");
  await laser.until("SHUTTER?", (r) => r === "1", 3000); // it reads the old position for about a second
  console.log("shutter open");
  await laser.send("SHUTTER 0");
  await laser.until("SHUTTER?", (r) => r === "0", 3000);
  await laser.send("OFF");
  console.log(`shutter closed, laser off (*STB? ${await laser.ask("*STB?")})`);
});
