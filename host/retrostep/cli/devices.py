"""`retrostep devices`: the command line of `retrostep.device.devices`."""

from retrostep.device.devices import list_devices, NO_BOARD
from retrostep.errors import RetrostepError


def register(subparsers):
    p = subparsers.add_parser(
        "devices",
        help="list boards on USB and the port to use",
        description="List the boards on USB (serial ports by VID:PID, RP2 BOOTSEL drives) "
        "and say which port to use.",
    )
    p.add_argument("--all", action="store_true", help="also list serial ports we do not know")
    p.set_defaults(func=do_devices)


def do_devices(args):
    from retrostep import term
    from rich.table import Table

    devs = list_devices(all_ports=args.all)
    boards = [d for d in devs if d.is_board]
    console = term.console()
    if devs:
        table = Table(title="USB devices")
        for col in ("port", "board kind", "VID:PID", "serial", "description"):
            table.add_column(col)
        for d in devs:
            table.add_row(d.port, d.kind, d.vid_pid, d.serial_number or "-", d.description)
        console.print(table)
    if not boards:
        if args.all:  # the listing is shown already: do not send the user back to it
            raise RetrostepError("none of these ports is a known MicroPython board: plug "
                                 "the board in with a data cable, or name its port with "
                                 "--port")
        raise RetrostepError(NO_BOARD)
    if len(boards) == 1:
        print(f"port to use: {boards[0].port}")
    else:
        print(f"{len(boards)} boards: name one with --port, e.g. --port {boards[0].port}")
    return 0
