// The IMU's sample source: the quantised trace, placed on the world clock. The
// emulated LSM6DS (in the VM) asks for the sample of each tick of its data clock.

import fs from "node:fs";
import { job, note } from "./common.mjs";
import { clock, boardMs } from "./clock.mjs";

export const trace = {
  data: null, // Int16Array, 6 per sample
  n: 0,
  hz: 0,
  t0: null, // world time of the trace's t = 0
  t0Boot: null, // boot during which t0 fell (for board ms)
  originWorld: 0, // the IMU's data clock: (re)started at this world time ...
  originRate: 0, // ... at this rate (mHz)
  served: 0, // samples delivered
};
if (job.trace) {
  const buf = fs.readFileSync(job.trace.path);
  trace.data = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1);
  trace.n = job.trace.samples;
  trace.hz = job.trace.odr_hz;
}
if (job.trace_start_s !== null && job.trace_start_s !== undefined) trace.t0 = Math.round(job.trace_start_s * 1e6);
trace.t0Boot = trace.t0 === null ? null : 0;

export const cur = new Int16Array(6); // the sample seek() picked
const still = [0, 0, 0, 0, 0, 0];
if (job.still_sample) for (let k = 0; k < 6; k++) still[k] = job.still_sample[k];

export function imuPowerDown() {
  trace.originRate = 0; // the IMU emulator of a new VM starts powered down
}

export function setOrigin(rateMhz) {
  const tr = trace;
  tr.originWorld = clock.hw;
  tr.originRate = rateMhz;
  if (rateMhz > 0 && tr.t0 === null && job.trace_start_s == null) {
    tr.t0 = clock.hw; // the trace starts when the firmware starts the IMU
    tr.t0Boot = clock.boot;
    note({ type: "trace_start", world_s: tr.t0 / 1e6, board_ms: boardMs(tr.t0, clock.boot) });
  }
}

export function seek(j) {
  // sample for data tick j after the data clock's origin; 0 = no more data
  const tr = trace;
  if (!tr.originRate) return 0;
  const data = tr.data;
  if (data && tr.t0 !== null) {
    // the tick's time on the trace's time base picks the sample (before t = 0: the
    // trace's first sample, the board lying as the walk starts)
    const tw = tr.originWorld + Math.ceil((j * 1e9) / tr.originRate);
    const idx = Math.floor(((tw - tr.t0) * tr.hz) / 1e6 + 1e-6) - 1;
    if (idx >= tr.n) return 0;
    const i = idx < 0 ? 0 : idx;
    for (let k = 0; k < 6; k++) cur[k] = data[6 * i + k];
    if (idx >= 0) tr.served++;
    return 1;
  }
  for (let k = 0; k < 6; k++) cur[k] = still[k]; // no trace (yet): lying still
  return 1;
}

export const traceEnd = () => (trace.t0 === null || !trace.data ? null : trace.t0 + (trace.n * 1e6) / trace.hz);

export function traceReport() {
  const tr = trace;
  if (!tr.data) return null;
  const te = traceEnd();
  return {
    samples: tr.n,
    odr_hz: tr.hz,
    delivered: tr.served,
    start_world_s: tr.t0 === null ? null : tr.t0 / 1e6,
    start_board_ms: tr.t0 === null ? null : boardMs(tr.t0, tr.t0Boot),
    end_world_s: te === null ? null : te / 1e6,
  };
}
