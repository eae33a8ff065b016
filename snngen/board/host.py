"""The host side of the board link: requests, checked and retried answers, and whole runs.

The same code drives a real board (:class:`SerialTransport`, pyserial) and the simulated board
top (:class:`snngen.board.sim.SimulatedSerial`), so the end-to-end test exercises exactly what a
user runs.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import struct
import time
from typing import Protocol

import numpy as np

from ..model.golden import Trace
from .protocol import (
    ENTRY_BYTES,
    HEADER_BYTES,
    INLINE_ENTRIES,
    MAX_FETCH,
    MAX_INPUTS,
    MAX_PAYLOAD,
    MAX_READ,
    MAX_STEP_INPUTS,
    NAK,
    NAK_MESSAGES,
    PROTOCOL_VERSION,
    STEP_HEADER_BYTES,
    SYNC,
    NakCode,
    Request,
    Response,
    crc32c,
    encode_frame,
    frame_bytes,
)

__all__ = ["BoardInfo", "HostLink", "LinkError", "SerialTransport", "Transport", "pause_line"]

REQUEST_NAMES = {value: name for name, value in vars(Request).items() if name.isupper()}
HELLO_BYTES = 15
GARBAGE_LIMIT = 4 * frame_bytes(MAX_PAYLOAD)   # bytes skipped before an attempt gives up
MIN_BUDGET = 12      # the smallest answer payload asked for: 3 values, 4 spike entries


class LinkError(RuntimeError):
    """The link failed: no valid answer within the retries, or the board refused a request."""


class _Retry(Exception):
    """One attempt failed in a way a retransmission can fix; `cause` names it for the report."""

    def __init__(self, cause: str, detail: str):
        super().__init__(detail)
        self.cause = cause


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, count: int, timeout: float) -> bytes:
        """Up to `count` bytes; fewer only when `timeout` seconds pass without them."""
        ...


def pause_line(transport, seconds: float) -> None:
    """Keep the line to the board silent for `seconds`: a simulated board's own time when the
    transport can pause it, else the host's clock."""
    pause = getattr(transport, "pause", None)
    if pause is not None:
        pause(seconds)
    else:
        time.sleep(seconds)


class SerialTransport:
    """A serial port through pyserial."""

    def __init__(self, port: str, baud: int):
        try:
            import serial
        except ImportError:
            raise LinkError("pyserial is not installed: pip install pyserial") from None
        self.baud = baud
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
    max_spikes: int

    def state_range(self) -> tuple[int, int]:
        """The membrane lattice: the values a READ may return."""
        if self.signed:
            return -(1 << (self.state_bits - 1)), (1 << (self.state_bits - 1)) - 1
        return 0, (1 << self.state_bits) - 1


class HostLink:
    """Requests to a board over a transport, one at a time, every answer checked and retried.

    A request whose answer is lost, garbled (CRC-32C), refused for a bad CRC, out of sequence
    or holding a value outside the network's range is sent again (the same sequence number,
    so the board does not run an INPUTS or STEP twice), up to `retries` times with a growing
    pause; :attr:`retries` counts what each retry was for.

    Parameters
    ----------
    transport : Transport
    timeout : float
        Seconds of silence after which an attempt is given up, on top of the line time of the
        request and its longest answer at the transport's baud rate (its ``baud`` attribute).
    retries : int
        Retransmissions of one request before :class:`LinkError`.
    """

    def __init__(self, transport: Transport, timeout: float = 0.25, retries: int = 8):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a non-negative integer, not {retries!r}")
        self.transport = transport
        self.timeout = float(timeout)
        self.max_retries = retries
        # A random first number: a board still holding the last request of an earlier host
        # must not take this host's first STEP for a retransmission of it.
        self._seq = os.urandom(1)[0]
        self._buffer = bytearray()
        self._received_any = False
        self.retries: collections.Counter[str] = collections.Counter()
        self.discarded_bytes = 0
        self._budget = MAX_PAYLOAD      # answer bytes asked for (see _transact)
        self.info: BoardInfo | None = None
        self.steps_done = 0

    # ---- frames -------------------------------------------------------------------------
    def _line_time(self, byte_count: int) -> float:
        baud = getattr(self.transport, "baud", None)
        return 10 * byte_count / baud if baud else 0.0

    def _fill(self, need: int, timeout: float) -> None:
        missing = need - len(self._buffer)
        if missing <= 0:
            return
        data = self.transport.read(missing, timeout)
        if data:
            self._received_any = True
        self._buffer += data
        if len(data) < missing:
            raise _Retry("timeout", f"{len(data)} of {missing} awaited bytes came within "
                                    f"{timeout:.3g} s")

    def _next_frame(self, timeout: float) -> tuple[int, int, bytes]:
        """The next frame with a valid header and CRC; garbage before it is skipped."""
        skipped_before = self.discarded_bytes
        while True:
            if self.discarded_bytes - skipped_before > GARBAGE_LIMIT:
                raise _Retry("garbage", f"{GARBAGE_LIMIT} bytes without a valid frame")
            start = self._buffer.find(SYNC)
            if start < 0:
                self.discarded_bytes += len(self._buffer)
                self._buffer.clear()
                self._fill(1, timeout)
                continue
            self.discarded_bytes += start
            del self._buffer[:start]
            self._fill(HEADER_BYTES, timeout)
            _, kind, seq, length, check = self._buffer[:HEADER_BYTES]
            if length > MAX_PAYLOAD or check != length ^ 0xFF:
                self._reject_old_board(timeout)
                del self._buffer[0]     # not a frame start: hunt for the next SYNC byte
                self.discarded_bytes += 1
                continue
            size = frame_bytes(length)
            self._fill(size, timeout)
            body = bytes(self._buffer[1:HEADER_BYTES + length])
            crc = int.from_bytes(self._buffer[HEADER_BYTES + length:size], "little")
            if crc != crc32c(body):
                del self._buffer[0]
                self.discarded_bytes += 1
                raise _Retry("crc", "an answer with a bad CRC (a garbled or lost byte)")
            del self._buffer[:size]
            return kind, seq, body[4:]

    def _reject_old_board(self, timeout: float) -> None:
        # Protocol v1 framed with a CRC-8 and no length complement: its HELLO answer
        # (A5 81 seq 0E "SNN" 01 ...) is recognisable, so say what it is rather than time out.
        if self._buffer[1] != Response.HELLO or self._buffer[3] != 14:
            return
        try:
            self._fill(8, timeout)
        except _Retry:
            return
        head = bytes(self._buffer[:8])
        if len(head) == 8 and head[1] == Response.HELLO and head[3] == 14 \
                and head[4:7] == b"SNN" and head[7] != PROTOCOL_VERSION:
            raise LinkError(f"the board speaks host protocol v{head[7]} (built by an older "
                            f"snngen), this snngen speaks v{PROTOCOL_VERSION}: rebuild and "
                            "flash its bitstream (snngen board build, snngen board flash)")

    def _transact(self, kind: int, payload, expect: int, answer_bytes: int = 0,
                  check=None) -> bytes:
        """Send a request until a valid answer of type `expect` comes back; its payload.

        `payload` is the request's bytes, or ``payload(budget) -> (bytes, answer bytes)`` for
        a request whose answer may be made smaller: each failed attempt halves the budget (the
        answer bytes asked for), so a noisy line gets short frames that pass, and a clean one
        long frames. Every attempt keeps the request's sequence number.
        """
        self._seq = (self._seq + 1) & 0xFF
        seq = self._seq
        name = REQUEST_NAMES.get(kind, f"0x{kind:02x}")
        seen: collections.Counter[str] = collections.Counter()
        last = last_cause = ""
        budget = self._budget
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.retries[last_cause] += 1
                budget = max(MIN_BUDGET, budget // 2)
                self._pause(min(0.2, 0.005 * 2 ** attempt))
            body_bytes, answer = payload(budget) if callable(payload) else (payload,
                                                                               answer_bytes)
            frame = encode_frame(kind, seq, body_bytes)
            timeout = self.timeout + 2 * self._line_time(len(frame) + frame_bytes(answer))
            self.transport.write(frame)
            try:
                while True:
                    got, got_seq, body = self._next_frame(timeout)
                    if got_seq != seq:
                        continue    # an answer to an earlier attempt or request
                    if got == NAK:
                        code = body[0] if body else 0
                        if code == NakCode.CRC:
                            raise _Retry("nak", "the board received the request garbled")
                        raise LinkError(f"the board refused {name}: "
                                        f"{NAK_MESSAGES.get(code, f'error {code}')}")
                    if got != expect:
                        raise _Retry("sequence", f"an answer of type 0x{got:02x} to {name}")
                    if check is not None:
                        check(body)
                    if callable(payload):
                        # Grow again slowly after a clean answer; keep what worked otherwise.
                        self._budget = (min(MAX_PAYLOAD, budget + budget // 4 + 1) if not attempt
                                        else budget)
                    return body
            except _Retry as failure:
                last_cause, last = failure.cause, str(failure)
                if failure.cause == "timeout":
                    # What came is the head of an answer that will never be whole: the next
                    # attempt's answer must not be read as its tail.
                    self.discarded_bytes += len(self._buffer)
                    self._buffer.clear()
                seen[failure.cause] += 1
        if not self._received_any:
            raise LinkError(f"the port is silent: no byte came back in {attempt + 1} attempts "
                            f"of {timeout:.3g} s: is the board programmed with an snngen "
                            "bitstream (snngen board flash), the port and baud rate right?")
        causes = ", ".join(f"{count} {cause}" for cause, count in sorted(seen.items()))
        raise LinkError(f"no valid answer to {name} in {attempt + 1} attempts ({causes}; "
                        f"last: {last})")

    def _pause(self, seconds: float) -> None:
        # A silent line before a retry: it also lets a board whose receiver locked onto a false
        # frame start (a SYNC byte inside a garbled frame) give that frame up after its gap
        # limit, so an identical retransmission cannot meet the same misalignment again.
        pause_line(self.transport, seconds)

    def retry_summary(self) -> str:
        """One line: the retries this link needed, by cause."""
        total = sum(self.retries.values())
        if not total:
            return "no retries"
        causes = ", ".join(f"{count} {cause}" for cause, count in sorted(self.retries.items()))
        return f"{total} retr{'y' if total == 1 else 'ies'} ({causes})"

    # ---- checks of what the board says ---------------------------------------------------
    def _impossible(self, what: str):
        # CRC-32C let a corruption through, or the board runs another network: either way
        # this answer must not be used; asking again settles which.
        raise _Retry("range", f"impossible {what}")

    def _check_entries(self, body: bytes, count: int) -> list[tuple[int, int]]:
        info = self.info
        if len(body) != ENTRY_BYTES * count:
            self._impossible(f"length {len(body)} for {count} spike entries")
        pairs = []
        for k in range(count):
            neuron, spikes = struct.unpack_from("<HB", body, ENTRY_BYTES * k)
            if neuron >= info.neurons or not 1 <= spikes <= info.max_spikes:
                self._impossible(f"spike entry (neuron {neuron}, {spikes} spikes) for "
                                 f"{info.neurons} neurons and at most {info.max_spikes} spikes")
            pairs.append((neuron, spikes))
        return pairs

    # ---- requests -------------------------------------------------------------------------
    def hello(self) -> BoardInfo:
        def check(payload):
            if len(payload) < 4 or payload[:3] != b"SNN":
                raise LinkError(f"the device answered HELLO with {payload!r}, not an snngen "
                                "board")
            if payload[3] != PROTOCOL_VERSION:
                raise LinkError(f"the board speaks host protocol v{payload[3]}, this snngen "
                                f"speaks v{PROTOCOL_VERSION}: rebuild and flash its bitstream "
                                "with this snngen (snngen board build, snngen board flash)")
            if len(payload) < HELLO_BYTES:
                self._impossible(f"HELLO answer of {len(payload)} bytes")

        payload = self._transact(Request.HELLO, b"", Response.HELLO, HELLO_BYTES, check)
        self.info = BoardInfo(
            version=payload[3], neurons=payload[4] | payload[5] << 8,
            inputs=payload[6] | payload[7] << 8, state_bits=payload[8],
            signed=bool(payload[9] & 1), runtime_weights=bool(payload[9] & 2),
            groups=payload[10] | payload[11] << 8, load_word_bytes=payload[12],
            value_bytes=payload[13], max_spikes=payload[14])
        return self.info

    def _board(self) -> BoardInfo:
        return self.info or self.hello()

    def send_inputs(self, channels) -> None:
        """Queue input events for the next step (ascending channel order, INPUTS frames)."""
        self._board()
        ids = sorted(int(c) for c in channels)
        for start in range(0, len(ids), MAX_INPUTS):
            chunk = ids[start:start + MAX_INPUTS]
            self._transact(Request.INPUTS, struct.pack(f"<{len(chunk)}H", *chunk),
                           Response.INPUTS, 0)

    def step(self, count: int = 1, inputs=()) -> list[list[int]]:
        """Run `count` steps, the first with input events `inputs`; each step's spike ids.

        A neuron that spikes n times in a step (multi-spike neurons) appears n times in a row.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, not {count!r}")
        steps = []
        for k in range(count):
            pairs = self._step_once(inputs if k == 0 else ())
            steps.append([neuron for neuron, spikes in pairs for _ in range(spikes)])
        return steps

    def _step_once(self, inputs) -> list[tuple[int, int]]:
        info = self._board()
        # Ascending: with per-event saturation (Xylo) a step's input events apply in channel
        # order (docs/semantics.md); the lowest ids go first, in INPUTS frames if they
        # overflow the STEP frame.
        ids = sorted(int(c) for c in inputs)
        ahead = len(ids) - MAX_STEP_INPUTS
        if ahead > 0:
            self.send_inputs(ids[:ahead])
            ids = ids[ahead:]
        expected_step = (self.steps_done + 1) & 0xFFFFFFFF
        header = {}
        ids_bytes = struct.pack(f"<{len(ids)}H", *ids)
        limit = [INLINE_ENTRIES]

        def request(budget):
            limit[0] = min(INLINE_ENTRIES, budget // ENTRY_BYTES)
            return (bytes([limit[0]]) + ids_bytes,
                    STEP_HEADER_BYTES + ENTRY_BYTES * min(limit[0], info.neurons))

        def check(body):
            if len(body) < STEP_HEADER_BYTES:
                self._impossible(f"STEP answer of {len(body)} bytes")
            step, entries, spikes = struct.unpack_from("<IHH", body)
            if step != expected_step:
                self._impossible(f"step number {step} (expected {expected_step})")
            if entries > info.neurons or spikes > entries * info.max_spikes \
                    or spikes < entries:
                self._impossible(f"spike count {spikes} in {entries} entries")
            inline = min(entries, limit[0])
            header.update(entries=entries, spikes=spikes,
                          pairs=self._check_entries(body[STEP_HEADER_BYTES:], inline))

        self._transact(Request.STEP, request, Response.STEP, check=check)
        self.steps_done = expected_step
        pairs = header["pairs"]
        while len(pairs) < header["entries"]:
            first = len(pairs)
            left = header["entries"] - first
            asked = [0]
            fetched = []

            def fetch(budget, first=first, left=left, asked=asked):
                asked[0] = min(left, MAX_FETCH, max(1, budget // ENTRY_BYTES))
                return struct.pack("<HB", first, asked[0]), ENTRY_BYTES * asked[0]

            def check_fetch(body, asked=asked, fetched=fetched):
                fetched[:] = self._check_entries(body, asked[0])

            self._transact(Request.FETCH, fetch, Response.FETCH, check=check_fetch)
            pairs += fetched
        neurons = [neuron for neuron, _ in pairs]
        if len(set(neurons)) != len(neurons) or sum(s for _, s in pairs) != header["spikes"]:
            raise LinkError(f"step {expected_step}: the board's spike entries {pairs} repeat a "
                            f"neuron or do not add up to its count {header['spikes']}")
        return pairs

    def read_states(self, first: int, count: int) -> list[int]:
        info = self._board()
        low, high = info.state_range()
        values: list[int] = []
        while count > 0:
            asked = [0]
            decoded = []

            def request(budget, first=first, count=count, asked=asked):
                asked[0] = min(count, MAX_READ, max(1, budget // 4))
                return struct.pack("<HB", first, asked[0]), 4 * asked[0]

            def check(body, first=first, asked=asked, decoded=decoded):
                chunk = asked[0]
                if len(body) != 4 * chunk:
                    self._impossible(f"READ answer of {len(body)} bytes for {chunk} values")
                got = struct.unpack(f"<{chunk}{'i' if info.signed else 'I'}", body)
                for k, value in enumerate(got):
                    expected = (low, high) if first + k < info.neurons else (0, 0)
                    if not expected[0] <= value <= expected[1]:
                        self._impossible(f"state {value} of neuron {first + k} (the lattice "
                                         f"is {low}..{high})")
                decoded[:] = got

            self._transact(Request.READ, request, Response.READ, check=check)
            values += decoded
            first += len(decoded)
            count -= len(decoded)
        return values

    def reset(self) -> None:
        self._transact(Request.RESET, b"", Response.RESET, 0)
        self.steps_done = 0

    def load_synapses(self, words: list[int]) -> None:
        """Write synapse-table words (``synapses.hex``) into a runtime-weights board."""
        info = self._board()
        if not info.runtime_weights:
            raise LinkError("this board's synapse tables are ROM (built without "
                            "--runtime-weights): nothing to load")
        size = info.load_word_bytes
        per_frame = MAX_PAYLOAD // size
        for start in range(0, len(words), per_frame):
            chunk = words[start:start + per_frame]
            payload = b"".join(int(w).to_bytes(size, "little") for w in chunk)
            self._transact(Request.LOAD, payload, Response.LOAD, 0)

    def run(self, steps: int, inputs: np.ndarray | None = None, *, read_states: bool = True,
            progress=None) -> Trace:
        """Reset the board, run `steps` steps with `inputs` (T, K), read every state each step.

        `progress`, if given, is called with the number of steps done after each step. Without
        `read_states` the trace's states are 0.
        """
        parts = list(self.run_chunks(steps, inputs, read_states=read_states, progress=progress))
        return Trace(spikes=np.concatenate([p.spikes for p in parts]),
                     state=np.concatenate([p.state for p in parts]))

    def run_chunks(self, steps: int, inputs=None, *, read_states: bool = True, progress=None,
                   chunk: int = 4096):
        """:meth:`run` as a generator of traces of `chunk` steps each, for runs of any length.

        `inputs` may be memory-mapped: it is read `chunk` rows at a time.
        """
        info = self._board()
        n = info.neurons
        self.reset()
        for start in range(0, steps, chunk):
            count = min(chunk, steps - start)
            spikes = np.zeros((count, n), dtype=np.uint8)
            state = np.zeros((count, n), dtype=np.int64)
            rows = None if inputs is None or not inputs.shape[1] else \
                np.asarray(inputs[start:start + count])
            for t in range(count):
                channels = np.flatnonzero(rows[t]) if rows is not None else ()
                for neuron, spike_count in self._step_once(channels):
                    spikes[t, neuron] = spike_count
                if read_states:
                    state[t] = self.read_states(0, n)
                if progress is not None:
                    progress(start + t + 1)
            yield Trace(spikes=spikes, state=state)

