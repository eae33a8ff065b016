"""A faulty line between the host and a board: flipped, dropped, duplicated and inserted bytes,
and stalls, in either direction, at a chosen rate (docs/host-protocol.md, "Fault injection").

:class:`FaultyTransport` wraps any :class:`~snngen.board.host.Transport`, so the host code under
test is the code users run; the faults are drawn from a seeded generator and counted.
"""

from __future__ import annotations

import collections
import random
import time

from .host import pause_line

__all__ = ["FAULT_KINDS", "FaultyTransport"]

FAULT_KINDS = ("flip", "drop", "duplicate", "garbage", "stall")


class FaultyTransport:
    """A transport that damages bytes on their way.

    Parameters
    ----------
    inner : Transport
        The line to the board (a serial port or :class:`~snngen.board.sim.SimulatedSerial`).
    rate : float
        Probability in 0..1 that a byte suffers a fault, per direction.
    kinds : sequence of str
        Faults to draw from, uniformly: ``flip`` (one bit of the byte), ``drop`` (the byte is
        lost), ``duplicate`` (it arrives twice), ``garbage`` (a random byte is inserted before
        it), ``stall`` (the line is silent for `stall_seconds` before it; to the board this is
        simulated time when `inner` can pause, else the host's clock).
    to_board, to_host : bool
        Which directions suffer.
    seed : int
    stall_seconds : float

    Members
    -------
    injected : collections.Counter
        Faults injected so far, keyed ``"to_board drop"`` and so on.
    """

    def __init__(self, inner, rate: float, *, kinds=FAULT_KINDS, to_board: bool = True,
                 to_host: bool = True, seed: int = 0, stall_seconds: float = 0.05):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"rate must be in 0..1, not {rate!r}")
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be some of {', '.join(FAULT_KINDS)}, not {kinds!r}")
        self.inner = inner
        self.rate = rate
        self.kinds = tuple(kinds)
        self.directions = {"to_board": to_board, "to_host": to_host}
        self.stall_seconds = stall_seconds
        self.baud = getattr(inner, "baud", None)
        self._random = random.Random(seed)
        self.injected: collections.Counter[str] = collections.Counter()

    def _damage(self, data: bytes, direction: str, on_stall) -> bytearray:
        out = bytearray()
        for byte in data:
            if not self.directions[direction] or self._random.random() >= self.rate:
                out.append(byte)
                continue
            kind = self._random.choice(self.kinds)
            self.injected[f"{direction} {kind}"] += 1
            if kind == "flip":
                out.append(byte ^ (1 << self._random.randrange(8)))
            elif kind == "duplicate":
                out += bytes([byte, byte])
            elif kind == "garbage":
                out += bytes([self._random.randrange(256), byte])
            elif kind == "stall":
                out = on_stall(out)
                out.append(byte)
        return out

    def write(self, data: bytes) -> None:
        def stall(sent: bytearray) -> bytearray:
            self.inner.write(bytes(sent))
            self.pause(self.stall_seconds)
            return bytearray()

        self.inner.write(bytes(self._damage(data, "to_board", stall)))

    def read(self, count: int, timeout: float) -> bytes:
        def stall(received: bytearray) -> bytearray:
            time.sleep(self.stall_seconds)
            return received

        out = bytearray()
        while len(out) < count:
            wanted = count - len(out)
            chunk = self.inner.read(wanted, timeout)
            out += self._damage(chunk, "to_host", stall)
            if len(chunk) < wanted:
                break
        return bytes(out)

    def pause(self, seconds: float) -> None:
        pause_line(self.inner, seconds)

    def close(self) -> None:
        if hasattr(self.inner, "close"):
            self.inner.close()
