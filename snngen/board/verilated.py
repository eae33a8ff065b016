"""The board top compiled by Verilator behind a byte transport: the same gateware as a real
board (its Verilog, UART pins included), fast enough for soak runs of 10⁵ steps.

:class:`VerilatedSerial` is a :class:`~snngen.board.host.Transport`. The compiled model runs in
lockstep with the host: it advances only while the host waits in :meth:`~VerilatedSerial.read`,
and a read's timeout counts simulated clock cycles (the board is taken to run its UART at
``baud``, ``divisor`` cycles a bit). A run is therefore deterministic: the same requests and
faults give the same bytes, on any machine and at any load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

from ..errors import InputError
from ..hw.plan import HardwarePlan
from ..synth.tools import find_verilator

__all__ = ["VerilatedSerial"]

NOMINAL_BAUD = 115_200

# The harness: commands on stdin, bytes on stdout.
#   'W' n:u32 bytes[n]     queue bytes for the board's rx line (sent back to back)
#   'P' cycles:u64         send the queued bytes, then keep the rx line silent this long
#   'R' n:u32 cycles:u64   run until n bytes came from tx or `cycles` cycles passed;
#                          answer n':u32 bytes[n']
#   'Q'                    quit
_HARNESS = r"""
#include "Vsnn_board_core.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <deque>
#include <vector>

struct Item { bool pause; uint64_t cycles; uint8_t byte; };

static Vsnn_board_core* top;
static const int divisor = DIVISOR;
static std::deque<Item> pending;
static bool rx_busy = false;
static Item rx_item;
static uint64_t rx_position = 0;
static int tx_phase = -1;            // -1: waiting for a start bit
static uint64_t tx_wait = 0;
static int tx_bit = 0;
static uint8_t tx_byte = 0;
static std::vector<uint8_t> received;

static bool read_all(void* data, size_t size) {
  return fread(data, 1, size, stdin) == size;
}

static int rx_level() {
  if (!rx_busy) {
    if (pending.empty()) return 1;
    rx_item = pending.front();
    pending.pop_front();
    rx_busy = true;
    rx_position = 0;
  }
  int level = 1;
  uint64_t length = rx_item.pause ? rx_item.cycles : 10 * (uint64_t)divisor;
  if (!rx_item.pause) {
    uint64_t bit = rx_position / divisor;
    level = bit == 0 ? 0 : bit == 9 ? 1 : (rx_item.byte >> (bit - 1)) & 1;
  }
  if (++rx_position >= length) rx_busy = false;
  return level;
}

static void sample_tx() {
  int line = top->tx;
  if (tx_phase < 0) {
    if (!line) { tx_phase = 0; tx_wait = divisor + divisor / 2; tx_bit = 0; tx_byte = 0; }
    return;
  }
  if (--tx_wait > 0) return;
  tx_byte |= line << tx_bit;
  if (++tx_bit == 8) { received.push_back(tx_byte); tx_phase = -2; tx_wait = divisor; return; }
  tx_wait = divisor;
}

static void cycle() {
  top->rx = rx_level();
  top->clk = 0; top->eval();
  top->clk = 1; top->eval();
  if (tx_phase == -2) { if (--tx_wait == 0) tx_phase = -1; return; }
  sample_tx();
}

int main(int argc, char** argv) {
  Verilated::commandArgs(argc, argv);
  top = new Vsnn_board_core;
  top->rx = 1; top->rst = 1;
  for (int i = 0; i < 4; i++) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
  top->rst = 0;
  for (;;) {
    char command;
    if (!read_all(&command, 1) || command == 'Q') break;
    if (command == 'W') {
      uint32_t n; if (!read_all(&n, 4)) break;
      std::vector<uint8_t> data(n);
      if (n && !read_all(data.data(), n)) break;
      for (uint8_t b : data) pending.push_back(Item{false, 0, b});
    } else if (command == 'P') {
      uint64_t cycles; if (!read_all(&cycles, 8)) break;
      pending.push_back(Item{true, cycles ? cycles : 1, 0});
      // The host is silent this long from now: play out the line first (bytes still
      // queued, then the silence), as a real host's sleep would.
      while (!pending.empty() || rx_busy) cycle();
    } else if (command == 'R') {
      uint32_t n; uint64_t cycles;
      if (!read_all(&n, 4) || !read_all(&cycles, 8)) break;
      for (uint64_t c = 0; received.size() < n && c < cycles; c++) cycle();
      uint32_t count = received.size() < n ? received.size() : n;
      fwrite(&count, 4, 1, stdout);
      fwrite(received.data(), 1, count, stdout);
      fflush(stdout);
      received.erase(received.begin(), received.begin() + count);
    } else {
      break;
    }
  }
  delete top;
  return 0;
}
"""


def build_verilated_board(plan: HardwarePlan, folder: str | os.PathLike, divisor: int = 4,
                          baud: int = NOMINAL_BAUD) -> Path:
    """Compile the board core of `plan` with its harness in `folder`; the executable's path.

    The build is keyed by a hash of the Verilog and the harness: an unchanged design is not
    compiled again.
    """
    from .boards import board_core_verilog

    folder = Path(folder)
    verilog = board_core_verilog(plan, divisor, baud)
    harness = _HARNESS.replace("DIVISOR", str(divisor))
    key = hashlib.sha256((verilog + harness).encode()).hexdigest()[:16]
    build = folder / f"verilated_board_{key}"
    executable = build / "obj_dir" / "board_sim"
    if executable.exists():
        return executable
    build.mkdir(parents=True, exist_ok=True)
    (build / "snn_board_core.v").write_text(verilog)
    (build / "harness.cpp").write_text(harness)
    env = dict(os.environ)
    env["PATH"] = find_verilator() + os.pathsep + env.get("PATH", "")
    if shutil.which("ccache"):
        env.setdefault("OBJCACHE", "ccache")
    result = subprocess.run(
        # --output-split 0: the PyPI wheel's precompiled-header rule breaks split builds.
        ["verilator", "--cc", "--exe", "--build", "-O3", "--x-assign", "fast",
         "--output-split", "0", "-CFLAGS", "-O2",
         "--x-initial", "fast", "-Wno-fatal", "-Wno-lint", "-Wno-style",
         "--top-module", "snn_board_core", "snn_board_core.v", "harness.cpp",
         "-o", "board_sim", "-j", str(os.cpu_count() or 1)],
        cwd=build, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not executable.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise InputError(f"Verilator could not build the board model: {' / '.join(tail)}")
    return executable


class VerilatedSerial:
    """The compiled board top behind a byte transport (see the module docstring).

    Parameters
    ----------
    plan : HardwarePlan
    folder : path
        Where the model is built (and found again).
    divisor : int
        Clock cycles per UART bit.
    baud : int
        The baud rate the simulated board is taken to run at.
    """

    def __init__(self, plan: HardwarePlan, folder: str | os.PathLike, divisor: int = 4,
                 baud: int = NOMINAL_BAUD):
        executable = build_verilated_board(plan, folder, divisor, baud)
        self.baud = baud
        self.clock_hz = baud * divisor
        self._process = subprocess.Popen([str(executable)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)

    def write(self, data: bytes) -> None:
        self._process.stdin.write(b"W" + struct.pack("<I", len(data)) + bytes(data))

    def pause(self, seconds: float) -> None:
        self._process.stdin.write(b"P" + struct.pack("<Q", max(1, round(seconds
                                                                        * self.clock_hz))))

    def read(self, count: int, timeout: float) -> bytes:
        cycles = max(1, round(timeout * self.clock_hz))
        self._process.stdin.write(b"R" + struct.pack("<IQ", count, cycles))
        self._process.stdin.flush()
        header = self._process.stdout.read(4)
        if len(header) < 4:
            raise RuntimeError(f"the Verilator board model stopped (exit "
                               f"{self._process.poll()})")
        (got,) = struct.unpack("<I", header)
        return self._process.stdout.read(got) if got else b""

    def close(self) -> None:
        try:
            self._process.stdin.write(b"Q")
            self._process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        self._process.wait(timeout=30)
        self._process.stdout.close()
