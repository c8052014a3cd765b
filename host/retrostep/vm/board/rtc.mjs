// The RTC: seconds since 2000-01-01, running with the world clock.

import { job } from "./common.mjs";
import { clock } from "./clock.mjs";

export const rtc = {
  offsetS: job.rtc_s, // RTC seconds at world time 0
};

export function rtcRead() {
  return rtc.offsetS + Math.floor(clock.world / 1e6);
}

export function rtcSet(secs) {
  rtc.offsetS = secs - Math.floor(clock.world / 1e6);
}
