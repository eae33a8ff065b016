"""A simulated serial link to the simulated board top (Amaranth's simulator, UART pins included).

:class:`SimulatedSerial` is a :class:`~snngen.board.host.Transport`: bytes written by the host are
sent bit by bit on the board's ``rx`` pin, and the board's ``tx`` pin is decoded bit by bit into
bytes for the host. The simulator runs in a background thread; the host code runs unchanged.
"""

from __future__ import annotations

import queue
import threading

from amaranth.sim import Simulator

from .link import BoardCore

__all__ = ["SimulatedSerial"]

CLOCK_PERIOD = 1e-8


class SimulatedSerial:
    """The board top in simulation behind a byte transport.

    Parameters
    ----------
    board : BoardCore
    divisor : int
        Clock cycles per UART bit; must be the board's.
    corrupt : callable, optional
        ``corrupt(index, byte) -> byte or None``: applied to each host byte on its way to the
        board (None drops it), to test that the link detects lost and garbled bytes.
    vcd_path : str, optional
        Write a waveform of the whole run.
    """

    def __init__(self, board: BoardCore, divisor: int, corrupt=None, vcd_path: str | None = None):
        self._board = board
        self._divisor = divisor
        self._corrupt = corrupt
        self._to_board: queue.Queue[int] = queue.Queue()
        self._to_host: queue.Queue[int] = queue.Queue()
        self._stop = threading.Event()
        self._sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._simulate, args=(vcd_path,), daemon=True)
        self._thread.start()

    def _simulate(self, vcd_path):
        board, divisor = self._board, self._divisor
        simulator = Simulator(board)
        simulator.add_clock(CLOCK_PERIOD)

        async def drive_rx(ctx):
            ctx.set(board.rx, 1)
            while not self._stop.is_set():
                try:
                    byte = self._to_board.get_nowait()
                except queue.Empty:
                    await ctx.tick().repeat(divisor)
                    continue
                for level in (0, *((byte >> i) & 1 for i in range(8)), 1):
                    ctx.set(board.rx, level)
                    await ctx.tick().repeat(divisor)

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
            if self._corrupt is not None:
                byte = self._corrupt(self._sent, byte)
            self._sent += 1
            if byte is not None:
                self._to_board.put(byte)

    def read(self, count: int, timeout: float) -> bytes:
        data = bytearray()
        for _ in range(count):
            try:
                data.append(self._to_host.get(timeout=timeout))
            except queue.Empty:
                break
        if self.error is not None:
            raise RuntimeError(f"the board simulation failed: {self.error}") from self.error
        return bytes(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
