// The VM's calls into the board: module _vbjs, through which lib/_vb.py (and the
// board's machine and time) reach the clock and the emulated hardware; and what the
// board does while a read of its USB serial line waits for input.

import { job } from "./common.mjs";
import { clock, CPU_US, MASK, pace, rebase } from "./clock.mjs";
import { checkStop, flushOut, pumpInput, waitInput, IDLE_WAIT_MS } from "./serial.mjs";
import { flashBlocks, flashFree, saveFlash, saveFlashEvery } from "./flash.mjs";
import { cur, seek, setOrigin } from "./trace.mjs";
import { btnLevel, btnNext } from "./button.mjs";
import { adc, adcuv, pout, pwm } from "./pins.mjs";
import { rtcRead, rtcSet } from "./rtc.mjs";
import { checkWdt, feedWdt, startWdt } from "./watchdog.mjs";
import { hardReset, resets } from "./resets.mjs";
import { checkRunEnd, finishRun, run } from "./run.mjs";

export const hooks = {
  tms() {
    const c = clock;
    if (c.irqCtx) return Math.floor((c.hw - c.boot) / 1000) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.dueAt) return -1;
    return Math.floor((c.world - c.boot) / 1000) & MASK;
  },
  tus() {
    const c = clock;
    if (c.irqCtx) return (c.hw - c.boot) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.dueAt) return -1;
    return (c.world - c.boot) & MASK;
  },
  adv(us) {
    clock.world += us;
    checkWdt();
    if (clock.realtime) pace();
    let flags = pumpInput() ? 1 : 0;
    saveFlashEvery();
    flushOut();
    if (checkRunEnd(true)) flags |= 2;
    checkStop();
    return flags;
  },
  cpu(us) {
    clock.world += us;
    checkWdt();
  },
  pend(max) {
    return Math.min(clock.world - clock.hw, max);
  },
  hwadv(us) {
    clock.hw += us;
  },
  irq(on) {
    clock.irqCtx += on ? 1 : -1;
  },
  setdue(us) {
    clock.dueAt = us < 0 ? Infinity : clock.hw + us;
  },
  btn: btnLevel,
  btnnext: btnNext,
  origin: setOrigin,
  seek,
  s: (k) => cur[k],
  pwm,
  pout,
  adc,
  adcuv,
  rtc: rtcRead,
  rtcset: rtcSet,
  wdt: startWdt,
  feed: feedWdt,
  cause: () => resets.cause,
  reset(kind) {
    hardReset(kind);
  },
  cfg: () => JSON.stringify(job.board),
  finish(text) {
    finishRun(JSON.parse(text));
  },
  mainend(code, tb) {
    run.main = { code, traceback: tb || null, world_s: clock.world / 1e6 };
  },
  fsblocks: flashBlocks,
  fsfree: flashFree,
};

export function idle() {
  // nothing to read: let the host see everything, keep the flash saved, wait; the
  // board's time passes with the wall clock while it waits
  flushOut();
  saveFlash();
  checkRunEnd(false);
  const w0 = performance.now();
  waitInput(IDLE_WAIT_MS);
  clock.world += Math.round((performance.now() - w0) * 1000);
  if (clock.realtime) rebase();
  checkWdt();
  checkStop();
}
