// The watchdog: once started, a hard reset when it is not fed in time (disarmed by
// the reset, as on a board).

import { clock } from "./clock.mjs";
import { hardReset } from "./resets.mjs";

export const watchdog = {
  timeoutUs: 0, // 0 = not started
  deadline: Infinity,
};

export function checkWdt() {
  if (clock.world > watchdog.deadline) {
    clock.world = watchdog.deadline; // the reset happens when the watchdog runs out
    hardReset("watchdog");
  }
}

export function startWdt(timeoutMs) {
  watchdog.timeoutUs = timeoutMs * 1000;
  watchdog.deadline = clock.world + watchdog.timeoutUs;
}

export function feedWdt() {
  if (watchdog.timeoutUs) watchdog.deadline = clock.world + watchdog.timeoutUs;
}

export function disarmWdt() {
  watchdog.timeoutUs = 0;
  watchdog.deadline = Infinity;
}
