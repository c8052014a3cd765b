// The boot sequence: a fresh VM per boot (boot.py, main.py, then the REPL), soft
// resets (the VM thrown away, the flash kept) and hard resets, until the board stops.

import fs from "node:fs";
import path from "node:path";
import { job, post, vm, HardReset, StopBoard } from "./common.mjs";
import { clock, clockBoot } from "./clock.mjs";
import { flushOut, emitStr, stdinChar, vmOut } from "./serial.mjs";
import { FLASH, loadFlash, patchFS, saveFlash, syncFlash } from "./flash.mjs";
import { trace, imuPowerDown } from "./trace.mjs";
import { disarmWdt } from "./watchdog.mjs";
import { resets, afterHardReset, afterSoftReset } from "./resets.mjs";
import { run, finishRun } from "./run.mjs";
import { FORCED_EXIT, repl, replLoop, replReset, replStart } from "./repl.mjs";
import { hooks } from "./hooks.mjs";
import { timersReset } from "./timers.mjs";

const ROM = "/vbrom"; // the virtual board's own modules, mounted read-only at /rom
const romFiles = Object.entries(job.rom).map(([vmPath, host]) => [vmPath, host ? fs.readFileSync(host) : Buffer.alloc(0)]);
const keepAlive = []; // PyProxy objects of old VMs: see bootVM
const LOADER = `
def _vb_boot():
    import sys, vfs, os
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix("${FLASH}"), "/")
    vfs.mount(vfs.VfsPosix("${ROM}"), "/rom", readonly=True)
    os.chdir("/")
    import time  # the VM's own, before ours is on the path: _vb takes its ticks maths
    sys.path.insert(0, "/rom/vb")
    import _vb
    del sys.modules["time"]  # machine and time are built in on a board: ours win
    import time, machine
    # the VM freezes micropython-lib's pure-Python binascii over its C module (which
    # refuses str); the ports have only the C one
    import ubinascii
    sys.modules["binascii"] = ubinascii
    import _vbsys  # sys.platform and sys.implementation._machine name the board
    sys.modules["sys"] = _vbsys
    os.uname = _vb.uname
    _vb._vm_ilistdir = os.ilistdir
    _vb._vm_stat = os.stat
    os.ilistdir = _vb.ilistdir
    os.statvfs = _vb.statvfs
    import gc
    gc.collect()
_vb_boot()
del _vb_boot
`;

async function bootVM() {
  const { loadMicroPython } = await import(job.vm_entry);
  const mp = await loadMicroPython({
    heapsize: job.heapsize,
    pystack: job.pystack,
    stdout: vmOut,
    stderr: vmOut,
    stdin: stdinChar,
    linebuffer: false,
  });
  // The package's proxies free their C-side slot through the *current* VM's module
  // when a JS proxy object is garbage collected. Proxies of a VM thrown away at a
  // reset must therefore never be collected, or they would free slots of the next
  // VM: keep them (a few small objects per boot).
  keepAlive.push(mp.globals.__dict__);
  const FS = mp.FS;
  for (const [vmPath, data] of romFiles) {
    FS.mkdirTree(path.posix.dirname(vmPath));
    FS.writeFile(vmPath, data);
  }
  loadFlash(FS);
  patchFS(FS);
  mp.registerJsModule("_vbjs", hooks);
  return mp;
}

function runFile(name) {
  if (!vm.mp.FS.analyzePath(`${FLASH}/${name}`).exists) return 1;
  try {
    return vm.mp.runPython(`__import__("_vb").run_file(${JSON.stringify(name)})`);
  } catch (e) {
    if (e && e.name === "PythonError") {
      vmOut(Buffer.from(e.message));
      return 0;
    }
    throw e;
  }
}

async function runBoard(raw) {
  // one boot, until a soft reset: true if the board comes back in the raw REPL
  vm.runTimers = null;
  const mp = await bootVM();
  vm.mp = mp;
  vm.M = mp._module;
  resets.boots++;
  clockBoot();
  timersReset();
  replReset();
  imuPowerDown();
  mp.runPython(LOADER);
  // machine.Timer callbacks, run from JS while the board waits for input
  vm.runTimers = mp.pyimport("_vb").run_timers;
  keepAlive.push(vm.runTimers);
  let r = runFile("boot.py");
  if (r & FORCED_EXIT) return raw;
  if (!raw && r !== 0) {
    const hasMain = mp.FS.analyzePath(`${FLASH}/main.py`).exists;
    run.main = null;
    r = runFile("main.py");
    if (r & FORCED_EXIT) return false;
    if (trace.data && !job.serve && !run.endFired) {
      run.endFired = true;
      if (!hasMain) run.main = { code: 1, traceback: "no /main.py on the board", world_s: clock.world / 1e6 };
      finishRun({ reason: "main_exit", status: null, imu: null });
    }
  }
  replStart(raw);
  replLoop();
  return repl.raw;
}

export async function powerOn() {
  // the board's life: boots and resets until it is stopped
  let raw = false;
  let stopReason = "stopped";
  for (;;) {
    try {
      raw = await runBoard(raw);
      // soft reset: the VM is thrown away, the flash kept
      flushOut();
      saveFlash();
      emitStr("MPY: soft reboot\r\n");
      afterSoftReset();
    } catch (e) {
      flushOut();
      if (e instanceof HardReset) {
        saveFlash();
        disarmWdt();
        raw = false;
        afterHardReset(e.kind);
        continue;
      }
      if (e instanceof StopBoard) {
        stopReason = e.reason;
        break;
      }
      throw e;
    }
  }
  if (vm.mp) syncFlash();
  if (!run.result) {
    try {
      finishRun({ reason: stopReason, status: null, imu: null });
    } catch (e) {
      if (!(e instanceof StopBoard)) throw e;
    }
  }
  flushOut();
  post({ t: "stopped", reason: stopReason });
}
