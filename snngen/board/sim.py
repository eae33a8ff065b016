"""A simulated serial link to the simulated board top (Amaranth's simulator, UART pins included).

:class:`SimulatedSerial` is a :class:`~snngen.board.host.Transport`: bytes written by the host are
sent bit by bit on the board's ``rx`` pin, and the board's ``tx`` pin is decoded bit by bit into
bytes for the host. The simulator runs in a background thread; the host code runs unchanged.

Time on this line is the simulated board's: the board is taken to run its UART at ``baud``
(``divisor`` clock cycles a bit), and a read's timeout counts simulated clock cycles, not
seconds of the host's clock. A busy machine slows the simulation down, not the protocol: a clean
run never times out, and a lost byte costs the same number of simulated cycles on any machine.
"""

from __future__ import annotations

import queue
import threading
import time

from amaranth.sim import Simulator

from .link import BoardCore

__all__ = ["SimulatedSerial", "simulated_board"]

NOMINAL_BAUD = 115_200
# The host gives up on the simulation itself (not on a lost byte) when its clock stands still
# this long: only a simulator that crashed or hangs does that.
STALLED_SECONDS = 600.0


class _Pause:
    """A silence on the host-to-board line, in simulated clock cycles; `done` once played."""

    def __init__(self, cycles: int):
        self.cycles = cycles
        self.done = threading.Event()


class SimulatedSerial:
    """The board top in simulation behind a byte transport.

    Parameters
    ----------
    board : BoardCore
    divisor : int
        Clock cycles per UART bit; must be the board's.
    baud : int
        The baud rate the simulated board is taken to run at: it sets how many clock cycles a
        second of timeout or pause is.
    vcd_path : str, optional
        Write a waveform of the whole run.
    """

    def __init__(self, board: BoardCore, divisor: int, baud: int = NOMINAL_BAUD,
                 vcd_path: str | None = None):
        self._board = board
        self._divisor = divisor
        self.baud = baud
        self.clock_hz = baud * divisor
        self._to_board: queue.Queue[int | _Pause] = queue.Queue()
        self._to_host: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._cycles = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._simulate, args=(vcd_path,), daemon=True)
        self._thread.start()

    def _simulate(self, vcd_path):
        board, divisor = self._board, self._divisor
        simulator = Simulator(board)
        simulator.add_clock(1 / self.clock_hz)

        async def drive_rx(ctx):
            ctx.set(board.rx, 1)
            while not self._stop.is_set():
                try:
                    item = self._to_board.get_nowait()
                except queue.Empty:
                    await ctx.tick().repeat(divisor)
                    self._cycles += divisor
                    continue
                if isinstance(item, _Pause):
                    await ctx.tick().repeat(max(1, item.cycles))
                    self._cycles += item.cycles
                    item.done.set()
                    continue
                for level in (0, *((item >> i) & 1 for i in range(8)), 1):
                    ctx.set(board.rx, level)
                    await ctx.tick().repeat(divisor)
                    self._cycles += divisor

        async def sample_tx(ctx):
            while True:
                await ctx.tick()
                if ctx.get(board.tx):
                    continue
                # A start bit: sample each data bit in its middle.
                await ctx.tick().repeat(divisor + divisor // 2)
                byte = 0
                for i in range(8):
                    byte |= ctx.get(board.tx) << i
                    await ctx.tick().repeat(divisor)
                self._to_host.put(byte)

        simulator.add_testbench(drive_rx)
        simulator.add_testbench(sample_tx, background=True)
        try:
            if vcd_path is not None:
                with simulator.write_vcd(vcd_path):
                    simulator.run()
            else:
                simulator.run()
        except BaseException as error:  # reported to the host thread
            self.error = error

    def write(self, data: bytes) -> None:
        for byte in data:
            self._to_board.put(byte)

    def pause(self, seconds: float) -> None:
        """Send what is queued, then hold the line idle for `seconds` of simulated time.

        Returns once that time has passed on the board, as a host's sleep would.
        """
        item = _Pause(round(seconds * self.clock_hz))
        self._to_board.put(item)
        while not item.done.wait(0.05):
            if self.error is not None or not self._thread.is_alive():
                return

    def read(self, count: int, timeout: float) -> bytes:
        data = bytearray()
        deadline = self._cycles + timeout * self.clock_hz
        stalled_since, seen = time.monotonic(), self._cycles
        while len(data) < count:
            try:
                data.append(self._to_host.get(timeout=0.01))
                continue
            except queue.Empty:
                pass
            if self.error is not None:
                raise RuntimeError(f"the board simulation failed: {self.error}") from self.error
            if self._cycles >= deadline or not self._thread.is_alive():
                break
            if self._cycles != seen:
                stalled_since, seen = time.monotonic(), self._cycles
            elif time.monotonic() - stalled_since > STALLED_SECONDS:
                raise RuntimeError(f"the board simulation made no progress for "
                                   f"{STALLED_SECONDS:g} s")
        return bytes(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def simulated_board(plan, divisor: int = 4, baud: int = NOMINAL_BAUD,
                    vcd_path: str | None = None) -> SimulatedSerial:
    """A :class:`SimulatedSerial` running the board top of `plan` as a board at `baud` would."""
    from .link import gap_bits

    return SimulatedSerial(BoardCore(plan, divisor, gap_bits(baud)), divisor, baud, vcd_path)
