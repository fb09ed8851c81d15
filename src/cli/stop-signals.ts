// SIGINT and SIGTERM as a request to stop, for the commands that run until told to (acquire, serve, simulate):
// the first resolves `stopped`, later ones are only said — never Node's default exit, which would cut a file
// being closed back to its last checkpoint. Set up before anything starts, disposed of in `finally`.
export interface StopSignals {
  /** Resolves on the first signal or request(). */
  stopped: Promise<void>;
  /** Asks for the same stop as a signal does (a duration, a full disk). */
  request(): void;
  dispose(): void;
}

export function stopSignals(log: (line: string) => void): StopSignals {
  let request!: () => void;
  const stopped = new Promise<void>((resolve) => (request = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signals++ > 0) log(`${signal}: already stopping`);
    request();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    stopped,
    request,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
