"""The host side of the board link: requests, checked responses, and whole runs.

The same code drives a real board (:class:`SerialTransport`, pyserial) and the simulated board
top (:class:`snngen.board.sim.SimulatedSerial`), so the end-to-end test exercises exactly what a
user runs.
"""

from __future__ import annotations

import dataclasses
import struct
import time
from typing import Protocol

import numpy as np

from ..model.golden import Trace
from .protocol import (
    MAX_INPUTS,
    MAX_PAYLOAD,
    MAX_READ,
    NAK,
    NAK_MESSAGES,
    SYNC,
    Request,
    Response,
    crc8,
    encode_frame,
)

__all__ = ["BoardInfo", "HostLink", "LinkError", "SerialTransport", "Transport"]


class LinkError(RuntimeError):
    """The link failed: no answer, a corrupted or unexpected frame, or the board refused."""


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, count: int, timeout: float) -> bytes:
        """Up to `count` bytes; fewer only when `timeout` seconds pass without them."""
        ...


class SerialTransport:
    """A serial port through pyserial."""

    def __init__(self, port: str, baud: int):
        try:
            import serial
        except ImportError:
            raise LinkError("pyserial is not installed: pip install pyserial") from None
        try:
            self._port = serial.Serial(port, baud, timeout=0.05)
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"cannot open {port}: {error}") from None

    def write(self, data: bytes) -> None:
        self._port.write(data)
        self._port.flush()

    def read(self, count: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        data = bytearray()
        while len(data) < count and time.monotonic() < deadline:
            data += self._port.read(count - len(data))
        return bytes(data)

    def close(self) -> None:
        self._port.close()


@dataclasses.dataclass(frozen=True)
class BoardInfo:
    """What HELLO reports."""

    version: int
    neurons: int
    inputs: int
    state_bits: int
    signed: bool
    runtime_weights: bool
    groups: int
    load_word_bytes: int
    value_bytes: int


class HostLink:
    """Requests to a board over a transport, one at a time, every response checked.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds to wait for each response byte run before giving up.
    """

    def __init__(self, transport: Transport, timeout: float = 2.0):
        self.transport = transport
        self.timeout = timeout
        self._seq = 0
        self.info: BoardInfo | None = None

    # ---- frames -------------------------------------------------------------------------
    def _request(self, kind: int, payload: bytes = b"") -> int:
        self._seq = (self._seq + 1) & 0xFF
        self.transport.write(encode_frame(kind, self._seq, payload))
        return self._seq

    def _read_exact(self, count: int, what: str) -> bytes:
        data = self.transport.read(count, self.timeout)
        if len(data) < count:
            raise LinkError(f"no complete {what} from the board within {self.timeout:g} s "
                            f"(got {len(data)} of {count} bytes): is the board programmed, "
                            "the port and baud rate right?")
        return data

    def _frame(self, seq: int) -> tuple[int, bytes]:
        start = self._read_exact(1, "response")
        if start[0] != SYNC:
            raise LinkError(f"corrupted response: expected the sync byte 0x{SYNC:02x}, got "
                            f"0x{start[0]:02x} (a lost or garbled byte)")
        header = self._read_exact(3, "response header")
        kind, got_seq, length = header
        payload = self._read_exact(length, "response payload") if length else b""
        (crc,) = self._read_exact(1, "response CRC")
        if crc != crc8(header + payload):
            raise LinkError("corrupted response: CRC mismatch (a garbled byte on the line)")
        if got_seq != seq:
            raise LinkError(f"response out of sequence: expected #{seq}, got #{got_seq} "
                            "(a response was lost)")
        if kind == NAK:
            code = payload[0] if payload else 0
            raise LinkError(f"the board refused request 0x{payload[1] if len(payload) > 1 else 0:02x}"
                            f": {NAK_MESSAGES.get(code, f'error {code}')}")
        return kind, payload

    def _expect(self, seq: int, kind: int) -> bytes:
        got, payload = self._frame(seq)
        if got != kind:
            raise LinkError(f"unexpected response 0x{got:02x} (expected 0x{kind:02x})")
        return payload

    # ---- requests -------------------------------------------------------------------------
    def hello(self) -> BoardInfo:
        payload = self._expect(self._request(Request.HELLO), Response.HELLO)
        if len(payload) < 14 or payload[:3] != b"SNN":
            raise LinkError(f"the device answered HELLO with {payload!r}, not an snngen board")
        self.info = BoardInfo(
            version=payload[3], neurons=payload[4] | payload[5] << 8,
            inputs=payload[6] | payload[7] << 8, state_bits=payload[8],
            signed=bool(payload[9] & 1), runtime_weights=bool(payload[9] & 2),
            groups=payload[10] | payload[11] << 8, load_word_bytes=payload[12],
            value_bytes=payload[13])
        return self.info

    def send_inputs(self, channels) -> None:
        # Ascending: with per-event saturation (Xylo) a step's input events apply in channel
        # order (docs/semantics.md); for every other network the order does not matter.
        ids = sorted(int(c) for c in channels)
        for start in range(0, len(ids), MAX_INPUTS):
            chunk = ids[start:start + MAX_INPUTS]
            self._expect(self._request(Request.INPUTS, struct.pack(f"<{len(chunk)}H", *chunk)),
                         Response.INPUTS)

    def step(self, count: int = 1) -> list[list[int]]:
        """Run `count` steps; each step's spike ids in arrival order (checked against its count)."""
        if not 1 <= count <= 0xFFFF:
            raise ValueError(f"count must be in 1..65535, not {count!r}")
        seq = self._request(Request.STEP, struct.pack("<H", count))
        steps: list[list[int]] = []
        ids: list[int] = []
        while len(steps) < count:
            kind, payload = self._frame(seq)
            if kind == Response.SPIKES:
                ids += struct.unpack(f"<{len(payload) // 2}H", payload)
            elif kind == Response.STEP_END:
                (spikes,) = struct.unpack("<H", payload)
                if spikes != len(ids):
                    raise LinkError(f"step {len(steps) + 1}: the board counted {spikes} spikes "
                                    f"but sent {len(ids)} ids")
                steps.append(ids)
                ids = []
            else:
                raise LinkError(f"unexpected response 0x{kind:02x} during a step")
        return steps

    def read_states(self, first: int, count: int) -> list[int]:
        values: list[int] = []
        signed = self.info.signed if self.info else True
        while count > 0:
            chunk = min(count, MAX_READ)
            payload = self._expect(self._request(Request.READ, struct.pack("<HB", first, chunk)),
                                   Response.READ)
            values += struct.unpack(f"<{chunk}{'i' if signed else 'I'}", payload)
            first += chunk
            count -= chunk
        return values

    def reset(self) -> None:
        self._expect(self._request(Request.RESET), Response.RESET)

    def load_synapses(self, words: list[int]) -> None:
        """Write synapse-table words (``synapses.hex``) into a runtime-weights board."""
        info = self.info or self.hello()
        if not info.runtime_weights:
            raise LinkError("this board's synapse tables are ROM (built without "
                            "--runtime-weights): nothing to load")
        size = info.load_word_bytes
        per_frame = MAX_PAYLOAD // size
        for start in range(0, len(words), per_frame):
            chunk = words[start:start + per_frame]
            payload = b"".join(int(w).to_bytes(size, "little") for w in chunk)
            self._expect(self._request(Request.LOAD, payload), Response.LOAD)

    def run(self, steps: int, inputs: np.ndarray | None = None, *, read_states: bool = True
            ) -> Trace:
        """Reset the board, run `steps` steps with `inputs` (T, K), read every state each step."""
        info = self.info or self.hello()
        n = info.neurons
        self.reset()
        spikes = np.zeros((steps, n), dtype=np.uint8)
        state = np.zeros((steps, n), dtype=np.int64)
        for t in range(steps):
            if inputs is not None and inputs.shape[1]:
                self.send_inputs(np.flatnonzero(inputs[t]))
            (ids,) = self.step(1)
            # A neuron with c spikes in a step (multi-spike neurons) is sent c times in a row;
            # any other repeat is a protocol error.
            runs = [i for k, i in enumerate(ids) if k == 0 or ids[k - 1] != i]
            if len(set(runs)) != len(runs) or any(i >= n for i in ids):
                raise LinkError(f"step {t + 1}: invalid spike ids {ids}")
            np.add.at(spikes[t], ids, 1)
            if read_states:
                state[t] = self.read_states(0, n)
        return Trace(spikes=spikes, state=state)
