// The button script: the presses the job asked for, placed on the trace's time base
// (the button is up until the trace starts).

import { job } from "./common.mjs";
import { clock, boardMs } from "./clock.mjs";
import { trace } from "./trace.mjs";

// edges: [us after t0, level] (level 0 = pressed), sorted
const edges = (job.button_edges || []).map(([t, v]) => [Math.round(t * 1e6), v]);

export function btnLevel() {
  const t0 = trace.t0;
  if (t0 === null) return 1;
  const hw = clock.hw;
  let v = 1;
  for (const [t, lv] of edges) {
    if (t0 + t <= hw) v = lv;
    else break;
  }
  return v;
}

export function btnNext() {
  // us until the next edge (at most 2**29), -1 = none
  const t0 = trace.t0;
  if (t0 === null) return -1;
  const hw = clock.hw;
  for (const [t] of edges) {
    const w = t0 + t;
    if (w > hw) return Math.min(w - hw, 1 << 29);
  }
  return -1;
}

export function buttonReport() {
  const t0 = trace.t0;
  return edges.map(([t, v]) => ({
    t_s: t / 1e6,
    board_ms: t0 === null ? null : boardMs(t0 + t, trace.t0Boot),
    level: v,
  }));
}
