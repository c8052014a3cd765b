// The run: its end (the trace played and its grace period passed, main.py ended, the
// firmware never started the IMU, or the board stopped) and its report to host.mjs.

import { job, post, StopBoard } from "./common.mjs";
import { clock, goRealtime } from "./clock.mjs";
import { trace, traceEnd, traceReport } from "./trace.mjs";
import { buttonReport } from "./button.mjs";
import { pwmReport, pinsReport } from "./pins.mjs";
import { resets } from "./resets.mjs";
import { saveFlash } from "./flash.mjs";
import { flushOut } from "./serial.mjs";

export const run = {
  endFired: false, // the run's end was reached (reported once)
  result: null,
  main: null, // how main.py ended: {code, traceback, world_s}
};

function runEndWorld() {
  const te = traceEnd();
  return te === null ? null : te + job.grace_s * 1e6;
}

export function checkRunEnd(inVM) {
  // Has the trace played and its grace period passed? (once) From inside the VM
  // (inVM) the answer is true and the VM side reports, with the firmware's status;
  // otherwise the run is reported from here.
  if (run.endFired) return false;
  const world = clock.world;
  const re = runEndWorld();
  if (re !== null && world >= re) {
    run.endFired = true;
    if (inVM) return true;
    finishRun({ reason: "trace_end", status: null, imu: null });
    return false;
  }
  if (trace.data && trace.t0 === null && !job.serve && job.imu_wait_s && world >= job.imu_wait_s * 1e6) {
    run.endFired = true; // the firmware never started the IMU: the trace cannot play
    finishRun({ reason: "imu_not_configured", status: null, imu: null });
  }
  return false;
}

export function finishRun(fromVM) {
  run.result = {
    reason: fromVM.reason,
    firmware_status: fromVM.status ?? null,
    imu: fromVM.imu ?? null,
    sim_s: clock.world / 1e6,
    wall_s: (performance.now() - clock.wallStart) / 1000,
    boots: resets.boots,
    resets: resets.log,
    main: run.main,
    trace: traceReport(),
    pwm: pwmReport(),
    pins: pinsReport(),
    button: buttonReport(),
  };
  saveFlash();
  flushOut();
  post({ t: "result", result: run.result });
  if (!job.serve) throw new StopBoard(fromVM.reason);
  // the run is over; the board keeps serving its REPL, at the wall clock's pace
  goRealtime();
}
