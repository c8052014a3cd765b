// The VM's calls into the board: module _vbjs, through which lib/_vb.py (and the
// board's machine and time) reach the clock and the emulated hardware; and what the
// board does while a read of its USB serial line waits for input (machine.Timer
// callbacks run then too: timers.mjs).

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
import { runTimersUntil, timerDue, timerNext, timerStart, timerStop } from "./timers.mjs";

export const hooks = {
  tms() {
    const c = clock;
    if (c.irqCtx) return Math.floor((c.hw - c.boot) / 1000) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.alarm) return -1; // a hardware event or a timer is due
    return Math.floor((c.world - c.boot) / 1000) & MASK;
  },
  tus() {
    const c = clock;
    if (c.irqCtx) return (c.hw - c.boot) & MASK;
    c.world += CPU_US;
    checkWdt();
    if (c.world >= c.alarm) return -1;
    return (c.world - c.boot) & MASK;
  },
  tms0() {
    // a clock read after the due events were handled: never -1
    const c = clock;
    if (c.irqCtx) return Math.floor((c.hw - c.boot) / 1000) & MASK;
    c.world += CPU_US;
    checkWdt();
    return Math.floor((c.world - c.boot) / 1000) & MASK;
  },
  tus0() {
    const c = clock;
    if (c.irqCtx) return (c.hw - c.boot) & MASK;
    c.world += CPU_US;
    checkWdt();
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
    clock.alarm = Math.min(clock.dueAt, clock.timerAt);
  },
  tstart: timerStart,
  tstop: timerStop,
  tdue: timerDue,
  tnext: timerNext,
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
  // (until the next timer expiry at most: its callback runs then, as on a board,
  // where the wait for serial input runs pending soft IRQs)
  runTimersUntil(clock.world);
  const toTimer = clock.timerAt - clock.world; // <= 0: a callback runs (it waits for input)
  const w0 = performance.now();
  waitInput(toTimer > 0 ? Math.min(IDLE_WAIT_MS, toTimer / 1000) : IDLE_WAIT_MS);
  const target = clock.world + Math.round((performance.now() - w0) * 1000);
  runTimersUntil(target);
  if (target > clock.world) clock.world = target;
  if (clock.realtime) rebase();
  checkWdt();
  checkStop();
}
