// The board's resets: how many times it booted, the hard resets (watchdog,
// machine.reset(), deep sleep), and the cause machine.reset_cause() reads.

import { note, HardReset } from "./common.mjs";
import { clock, boardMs } from "./clock.mjs";
import { trace } from "./trace.mjs";

export const resets = {
  boots: 0,
  log: [], // {kind, world_s, t_s}
  cause: 1, // machine.PWRON_RESET
};

export function hardReset(kind) {
  const world = clock.world;
  const t0 = trace.t0;
  resets.log.push({ kind, world_s: world / 1e6, t_s: t0 === null ? null : (world - t0) / 1e6 });
  note({ type: "reset", kind, world_s: world / 1e6, board_ms: boardMs(world, clock.boot) });
  throw new HardReset(kind);
}

export function afterSoftReset() {
  resets.cause = 5; // machine.SOFT_RESET
}

export function afterHardReset(kind) {
  // machine.WDT_RESET, DEEPSLEEP_RESET, HARD_RESET
  resets.cause = kind === "watchdog" ? 3 : kind === "machine.deepsleep" ? 4 : 2;
}
