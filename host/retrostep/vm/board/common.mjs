// What every piece of the virtual board's worker shares: the job the main thread
// (host.mjs) gave it, the messages back to it, the running VM, and the two ways the
// board leaves the code it runs.

import { parentPort, workerData } from "node:worker_threads";

export const job = workerData.job;

export const post = (msg) => parentPort.postMessage(msg);
export const note = (ev) => post({ t: "event", ev });

// the running VM (the package's object, and its Emscripten module, and its function
// that runs due machine.Timer callbacks); set at each boot
export const vm = { mp: null, M: null, runTimers: null };

export class HardReset extends Error {
  constructor(kind) {
    super(`hard reset (${kind})`);
    this.kind = kind;
  }
}

export class StopBoard extends Error {
  constructor(reason) {
    super(`board stopped (${reason})`);
    this.reason = reason;
  }
}
