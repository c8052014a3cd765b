// The clock: world time in microseconds since power-on, which keeps running across
// resets; simulated (as fast as the VM goes) or paced to the wall clock. The emulated
// hardware keeps its own time (`hw`), which lags the world until the VM syncs it.

import { job } from "./common.mjs";
import { IDLE_WAIT_MS, checkStop, pumpInput, waitInput } from "./serial.mjs";

export const MASK = 0x3fffffff; // ticks wrap at 2**30
export const CPU_US = job.cpu_us ?? 5; // simulated cost of one clock read
const SPEED = job.speed || 1;

export const clock = {
  world: 0, // us since the first power-on
  hw: 0, // the emulated hardware's time (lags `world` until the VM syncs it)
  boot: 0, // world time of the running VM's boot
  irqCtx: 0, // >0 while a pin IRQ handler runs: the clock reads the hardware time
  dueAt: Infinity, // world time of the next hardware event the VM must see
  timerAt: Infinity, // world time of the next machine.Timer expiry (timers.mjs)
  alarm: Infinity, // the earlier of the two: a clock read returns -1 from then on
  realtime: !!job.realtime, // (a board still serving after its trace goes realtime)
  wall0: performance.now(), // pacing: this wall time ...
  world0: 0, // ... goes with this world time
  wallStart: performance.now(),
};

export function boardMs(w, b) {
  return Math.floor((w - b) / 1000); // as ticks_ms() reads it
}

export function clockBoot() {
  // a VM boots: its ticks start now, its hardware is up to date, nothing is due,
  // no timer runs
  const c = clock;
  c.boot = c.world;
  c.hw = c.world;
  c.dueAt = Infinity;
  c.timerAt = Infinity; // (timers.mjs forgets the old VM's timers: timersReset)
  c.alarm = Infinity;
  c.irqCtx = 0;
}

export function rebase() {
  // pacing starts over from here (after a wait, or on going realtime)
  clock.wall0 = performance.now();
  clock.world0 = clock.world;
}

export function goRealtime() {
  if (clock.realtime) return;
  clock.realtime = true;
  rebase();
}

export function pace() {
  const c = clock;
  const target = c.wall0 + (c.world - c.world0) / 1000 / SPEED;
  let now = performance.now();
  if (now > target + 1000) {
    // the VM cannot keep up: do not try to catch up later
    c.wall0 = now;
    c.world0 = c.world;
    return;
  }
  while (now < target - 0.5) {
    waitInput(Math.min(target - now, IDLE_WAIT_MS));
    if (pumpInput()) return;
    checkStop();
    now = performance.now();
  }
}
