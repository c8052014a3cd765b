"""`retrostep flash`: the command line of `retrostep.device.flash`."""

from retrostep.device.flash import chip_key, flash, STAGES, title
from retrostep.errors import RetrostepError


def register(subparsers):
    p = subparsers.add_parser(
        "flash",
        help="write MicroPython firmware to the board",
        description="Write MicroPython firmware to the board: an ESP32 .bin through "
        "esptool, an RP2040/RP2350 .uf2 by copying it to the BOOTSEL drive. The file is "
        "checked first (damage, truncation, chip).",
    )
    p.add_argument("firmware", metavar="FIRMWARE", help="MicroPython .bin (ESP32) or .uf2 (RP2)")
    p.add_argument("--port", help="serial port (ESP32) or BOOTSEL drive folder (RP2); "
                   "default: the one board found")
    p.add_argument("--chip", help="the board's chip (esp32, esp32s3, esp32c3, rp2040, "
                   "rp2350); the file must match")
    p.add_argument("--board", help="a board profile name (see firmware/rstep/boards.py); "
                   "sets --chip")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first (ESP32)")
    p.add_argument("--no-verify", action="store_true", help="skip reading the flash back")
    p.add_argument("--no-wait", action="store_true",
                   help="RP2: do not wait for the board to come back as a serial port")
    p.set_defaults(func=do_flash)


def _board_chip(name):
    from retrostep.firmware import boards

    try:
        return boards.get(name)["chip"]
    except ValueError as exc:
        raise RetrostepError(str(exc)) from None


def do_flash(args):
    from retrostep import term
    from rich.progress import (BarColumn, DownloadColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)

    chip = args.chip
    if args.board:
        board_chip = _board_chip(args.board)
        if chip and chip_key(chip) != board_chip:
            raise RetrostepError(f"--chip {chip} contradicts --board {args.board} "
                                 f"({board_chip}): give one of them")
        chip = board_chip
    console = term.console(stderr=True)
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   DownloadColumn(), TimeElapsedColumn(), console=console,
                   disable=not console.is_terminal)
    tasks = {}

    def finish(tid):
        t = bar.tasks[tid]
        bar.update(tid, total=t.total or 1, completed=t.total or 1)

    def progress(stage, done, total):
        if not tasks:
            bar.start()  # only once the file has passed its checks
        for other, tid in tasks.items():
            if other != stage:
                finish(tid)
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total or None)
        bar.update(tasks[stage], completed=done, total=total or None)

    try:
        result = flash(args.firmware, port=args.port, chip=chip, erase=args.erase,
                       verify=not args.no_verify, progress=progress, wait=not args.no_wait)
        for tid in tasks.values():
            finish(tid)
    finally:
        if tasks:
            bar.stop()
    if result.method == "esptool":
        mac = f" (MAC {result.mac})" if result.mac else ""
        check = ", verified" if result.verified else ""
        print(f"flashed {title(result.chip)}{mac} on {result.target}: {result.size} bytes "
              f"at 0x{result.offset:X}{check}; the board has been reset")
    else:
        back = f"; MicroPython is on {result.port}" if result.port else ""
        print(f"copied {result.size} bytes to the {title(result.chip)} BOOTSEL drive "
              f"{result.target}{back}")
    return 0

