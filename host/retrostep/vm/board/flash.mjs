// The board's flash: a directory of the VM's file system, loaded from a host folder
// at every boot and written back to it (names percent-encoded where a host file
// system would object); sized as littlefs would use the board's flash.

import fs from "node:fs";
import path from "node:path";
import { job, vm } from "./common.mjs";

export const FLASH = "/flash"; // the board's flash in the VM's (Emscripten) file system
const FS_SYNC_EVERY_MS = 2000;
const store = job.fs_dir;

export const flash = {
  capBlocks: Math.floor((job.flash_kb * 1024) / 4096),
  dirty: false,
  usedBlocks: -1, // cached; -1 = recount
  lastSync: performance.now(),
  synced: new Map(), // vm path -> Buffer last written to the host folder
};

const SAFE = /^[A-Za-z0-9._\-+=,@#!$&'()[\]{}~^ ]$/;
function encodeName(name) {
  let s = "";
  for (const ch of name) {
    if (ch.codePointAt(0) >= 0x80 || (SAFE.test(ch) && ch !== "%")) s += ch;
    else s += "%" + ch.codePointAt(0).toString(16).toUpperCase().padStart(2, "0");
  }
  if (s.endsWith(".") || s.endsWith(" ")) s = s.slice(0, -1) + "%" + s.charCodeAt(s.length - 1).toString(16).toUpperCase();
  return s;
}
function decodeName(name) {
  return name.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

export function loadFlash(FS) {
  FS.mkdirTree(FLASH);
  const synced = flash.synced;
  synced.clear();
  const walk = (hostDir, vmDir) => {
    let ents;
    try {
      ents = fs.readdirSync(hostDir, { withFileTypes: true });
    } catch (e) {
      if (e.code === "ENOENT") return;
      throw e;
    }
    for (const ent of ents) {
      const name = decodeName(ent.name);
      if (name === "." || name === ".." || name.includes("/") || name.includes("\0")) continue;
      const h = path.join(hostDir, ent.name);
      const v = vmDir + "/" + name;
      if (ent.isDirectory()) {
        FS.mkdir(v);
        walk(h, v);
      } else if (ent.isFile()) {
        const data = fs.readFileSync(h);
        FS.writeFile(v, data);
        synced.set(v, data);
      }
    }
  };
  walk(store, FLASH);
  flash.dirty = false;
  flash.usedBlocks = -1;
}

function flashWalk(FS, fn) {
  const walk = (dir) => {
    for (const name of FS.readdir(dir)) {
      if (name === "." || name === "..") continue;
      const p = dir + "/" + name;
      const st = FS.lstat(p);
      if (FS.isDir(st.mode)) {
        fn(p, true, st);
        walk(p);
      } else if (FS.isFile(st.mode)) {
        fn(p, false, st);
      }
    }
  };
  walk(FLASH);
}

function countBlocks() {
  // littlefs-like: a block per directory, whole blocks per file, 2 for the superblock
  if (flash.usedBlocks >= 0 || !vm.mp) return flash.usedBlocks;
  let n = 2;
  flashWalk(vm.mp.FS, (p, isDir, st) => {
    n += isDir ? 1 : Math.max(1, Math.ceil(st.size / 4096));
  });
  flash.usedBlocks = n;
  return n;
}

export const flashBlocks = () => flash.capBlocks;
export const flashFree = () => Math.max(0, flash.capBlocks - Math.max(0, countBlocks()));

export function syncFlash() {
  // write the VM's flash back to the host folder: changed files, removed entries
  if (!vm.mp) return;
  const FS = vm.mp.FS;
  const synced = flash.synced;
  const seen = new Set();
  fs.mkdirSync(store, { recursive: true });
  flashWalk(FS, (p, isDir) => {
    const rel = p.slice(FLASH.length + 1);
    const host = path.join(store, ...rel.split("/").map(encodeName));
    seen.add(host);
    if (isDir) {
      fs.mkdirSync(host, { recursive: true });
      return;
    }
    const data = Buffer.from(FS.readFile(p));
    const old = synced.get(p);
    if (old && old.equals(data)) return;
    const tmp = host + ".vbtmp";
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, host);
    synced.set(p, data);
  });
  const prune = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const h = path.join(dir, ent.name);
      if (ent.isDirectory()) {
        prune(h);
        if (!seen.has(h)) fs.rmSync(h, { recursive: true, force: true });
      } else if (!seen.has(h)) {
        fs.rmSync(h, { force: true });
      }
    }
  };
  prune(store);
  for (const p of synced.keys()) {
    if (!FS.analyzePath(p).exists) synced.delete(p);
  }
  flash.dirty = false;
  flash.lastSync = performance.now();
}

export function saveFlash() {
  // write back what changed, if anything did
  if (flash.dirty) syncFlash();
}

export function saveFlashEvery() {
  // while code runs: write back what changed every FS_SYNC_EVERY_MS at most
  if (flash.dirty && performance.now() - flash.lastSync > FS_SYNC_EVERY_MS) syncFlash();
}

// Emscripten's file system fails with WASI errno numbers (ENOENT = 44), which this
// VM hands to Python as they are, while its errno module (and every port) numbers
// them as Linux does (ENOENT = 2): "OSError: 44" where a board says
// "OSError: [Errno 2] ENOENT", which mpremote reads. Translate where the VM's
// system calls enter the file system.
const WASI_TO_MP = {
  1: 7, 2: 13, 6: 11, 8: 9, 10: 16, 20: 17, 22: 27, 27: 4, 28: 22, 29: 5, 31: 21, 32: 40,
  33: 24, 37: 36, 41: 23, 43: 19, 44: 2, 48: 12, 51: 28, 52: 38, 54: 20, 55: 39, 58: 95,
  59: 25, 61: 75, 63: 1, 64: 32, 69: 30, 70: 29, 75: 18,
};
const FS_CALLS = ["open", "close", "read", "write", "llseek", "stat", "lstat", "fstat", "mkdir", "rmdir",
  "unlink", "rename", "readdir", "chdir", "truncate", "ftruncate", "statfs", "readlink", "symlink"];

export function patchFS(FS) {
  // note every change to the flash (to write it back), and refuse to grow it past
  // the board's flash size (ENOSPC, as littlefs would)
  const inFlash = (p) => typeof p === "string" && p.startsWith(FLASH + "/");
  const write = FS.write;
  FS.write = function (stream, buffer, offset, length, position, canOwn) {
    if (inFlash(stream.path)) {
      flash.dirty = true;
      const size = stream.node.usedBytes || 0;
      const pos = position ?? stream.position;
      const grow = pos + length - size;
      if (grow > 0 && flash.capBlocks > 0) {
        const before = Math.max(1, Math.ceil(size / 4096));
        const after = Math.max(1, Math.ceil((pos + length) / 4096));
        const used = countBlocks();
        if (used >= 0 && used + after - before > flash.capBlocks) throw new FS.ErrnoError(51); // ENOSPC
        if (used >= 0) flash.usedBlocks = used + after - before;
      }
    }
    return write.call(this, stream, buffer, offset, length, position, canOwn);
  };
  for (const name of ["unlink", "rmdir", "rename", "mkdir", "truncate", "ftruncate", "symlink"]) {
    const f = FS[name];
    FS[name] = function (...args) {
      flash.dirty = true;
      flash.usedBlocks = -1;
      return f.apply(this, args);
    };
  }
  const open = FS.open;
  FS.open = function (p, flags, mode) {
    if (inFlash(typeof p === "string" ? p : "") && (typeof flags === "string" ? /[wa+]/.test(flags) : flags & (64 | 512))) {
      flash.dirty = true;
      flash.usedBlocks = -1;
    }
    return open.call(this, p, flags, mode);
  };
  for (const name of FS_CALLS) {
    const f = FS[name];
    FS[name] = function (...args) {
      try {
        return f.apply(this, args);
      } catch (e) {
        if (e && e.name === "ErrnoError" && !e.mp && WASI_TO_MP[e.errno] !== undefined) {
          const e2 = new FS.ErrnoError(WASI_TO_MP[e.errno]);
          e2.mp = true;
          throw e2;
        }
        throw e;
      }
    };
  }
}
