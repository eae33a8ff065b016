"""Runs of any length in bounded memory: the golden model in chunks, traces streamed to disk.

A run is taken in chunks of :data:`CHUNK_BYTES` of trace by a :class:`~.golden.Stepper`; each
chunk goes to a sink (a :class:`TraceFolder` on disk, a :class:`TraceCollector` in memory, or
nowhere) and to a :class:`RunSummary`, which keeps the spike count, the neurons that spiked and
the orbit search. Nothing grows with the number of steps but the files.

The trace folder (docs/network-format.md, "Streamed traces")::

    TRACE/spikes.npy    uint8 [T, N]          --record spikes or state
    TRACE/state.npy     int [T, N]            --record state; the smallest integer dtype of the lattice
    TRACE/current.npy   int [T, N]            --record state, networks with a synaptic current
    TRACE/summary.json  the run's summary     always

Each ``.npy`` is a plain NumPy file: ``numpy.load(path, mmap_mode="r")`` opens it without reading it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from typing import Literal

import numpy as np

from ..errors import InputError
from .golden import Orbit, Stepper, Trace
from .network import Network, StateFormat

__all__ = [
    "CHUNK_BYTES",
    "RECORDS",
    "OrbitSearch",
    "RunSummary",
    "TraceCollector",
    "TraceFolder",
    "lattice_arrays",
    "lattice_dtype",
    "recorded_arrays",
    "run_chunked",
    "shift_input_row",
    "trace_bytes",
]

#: The trace memory one chunk takes (all arrays of its steps, int64 while stepping).
CHUNK_BYTES = 8 << 20
#: What a run can record: spikes and states (and currents), spikes only, or nothing.
RECORDS = ("state", "spikes", "none")
#: Bytes of state keys the exact orbit search may hold before it turns to the bounded search.
EXACT_SEARCH_BYTES = 64 << 20

Record = Literal["state", "spikes", "none"]


def lattice_dtype(fmt: StateFormat) -> np.dtype:
    """The smallest NumPy integer dtype that holds every value of the lattice `fmt`."""
    for dtype in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= fmt.min and fmt.max <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def recorded_arrays(network: Network, record: Record) -> dict[str, np.dtype]:
    """The arrays a run of `network` records, with their dtypes on disk."""
    dynamics = network.dynamics
    current = None if dynamics is None or dynamics.current is None else dynamics.current.state
    return lattice_arrays(record, network.state, current)


def lattice_arrays(record: Record, state: StateFormat, current: StateFormat | None = None
                   ) -> dict[str, np.dtype]:
    """The arrays `record` keeps of a run whose membrane (and synaptic current) have these
    lattices, with their dtypes on disk: for a network, or for a board known by its HELLO."""
    if record == "none":
        return {}
    arrays = {"spikes": np.dtype(np.uint8)}
    if record == "state":
        arrays["state"] = lattice_dtype(state)
        if current is not None:
            arrays["current"] = lattice_dtype(current)
    return arrays


def trace_bytes(network: Network, steps: int, record: Record) -> int:
    """The bytes of the ``.npy`` files a run of `steps` steps records (headers aside)."""
    per_step = sum(d.itemsize for d in recorded_arrays(network, record).values()) * network.neurons
    return per_step * steps


def chunk_steps(network: Network) -> int:
    """Steps per chunk, so that one chunk's arrays take about :data:`CHUNK_BYTES`."""
    per_step = network.neurons * (1 + 8 + 8 + 8)
    return max(1, CHUNK_BYTES // per_step)


def _state_rows(network: Network, trace: Trace, hidden: np.ndarray | None) -> np.ndarray:
    """The whole state of the map after each step of `trace`, one row of bytes per step."""
    steps = trace.steps
    parts = [np.ascontiguousarray(trace.state, dtype=np.int64).view(np.uint8).reshape(steps, -1),
             np.ascontiguousarray(trace.spikes, dtype=np.uint8)]
    if trace.current is not None:
        parts.append(np.ascontiguousarray(trace.current, dtype=np.int64).view(np.uint8)
                     .reshape(steps, -1))
    if hidden is not None:
        parts.append(np.ascontiguousarray(hidden, dtype=np.int64).view(np.uint8)
                     .reshape(steps, -1))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _initial_row(network: Network, stepper: Stepper) -> np.ndarray:
    """The state row of step 0: v(0), s(0) = 0, I(0), hidden counters 0."""
    n = network.neurons
    dynamics = network.dynamics
    current = None
    if dynamics is not None and dynamics.current is not None:
        current = dynamics.current.initial.astype(np.int64)[None, :]
    first = Trace(spikes=np.zeros((1, n), np.uint8),
                  state=network.initial_state.astype(np.int64)[None, :], current=current)
    hidden = None
    if dynamics is not None:
        columns = (n if dynamics.refractory.any() else 0) + (1 if dynamics.bias_delay.any() else 0)
        hidden = np.zeros((1, columns), np.int64) if columns else None
    return _state_rows(network, first, hidden)[0]


class OrbitSearch:
    """Finds the first revisit of the whole state of an autonomous run, in bounded memory.

    While the states seen fit in :data:`EXACT_SEARCH_BYTES`, every state is kept (a dict of raw
    bytes: exact, the first revisit is found at the step it happens). Past that, the search turns
    to Nivasch's stack algorithm (2004): O(log t) states, and a cycle is found at the latest
    λ steps after the step its smallest state is first seen, so an orbit with transient μ and
    period λ is found when max(μ, T₀) + 2λ ≤ T (T₀ the step of the switch). The transient of an
    orbit found by the stack is then measured exactly by running the network again.

    Parameters
    ----------
    initial : ndarray of uint8
        The state row of step 0.
    exact_bytes : int
        The budget of the exact search.

    Members
    -------
    found : tuple of (int, int) or None
        (step first seen, step seen again) once a revisit is found.
    exhaustive_through : int or None
        The last step of the exact search, once it gave way to the stack search (None while exact).
    """

    def __init__(self, initial: np.ndarray, exact_bytes: int = EXACT_SEARCH_BYTES) -> None:
        self.width = initial.size
        self.limit = max(1, exact_bytes // (self.width + 100))  # 100: a dict entry's own bytes
        self.first_seen: dict[bytes, int] | None = {initial.tobytes(): 0}
        self.stack: list[tuple[bytes, int]] = []
        self.found: tuple[int, int] | None = None
        self.exhaustive_through: int | None = None

    def feed(self, rows: np.ndarray, first_step: int) -> None:
        """The state rows of steps ``first_step``, ``first_step + 1``, …"""
        if self.found is not None:
            return
        data = rows.tobytes()
        width = self.width
        for index in range(rows.shape[0]):
            key = data[index * width:(index + 1) * width]
            step = first_step + index
            if self.first_seen is not None:
                seen = self.first_seen.get(key)
                if seen is not None:
                    self.found = (seen, step)
                    return
                if len(self.first_seen) < self.limit:
                    self.first_seen[key] = step
                    continue
                self.first_seen = None
                self.exhaustive_through = step - 1
            stack = self.stack
            while stack and stack[-1][0] > key:
                stack.pop()
            if stack and stack[-1][0] == key:
                self.found = (stack[-1][1], step)
                return
            stack.append((key, step))

    def orbit(self, measure_transient: Callable[[int], int]) -> Orbit | None:
        """The orbit found, if any; `measure_transient(period)` gives μ for a stack find."""
        if self.found is None:
            return None
        seen, again = self.found
        period = again - seen
        if self.first_seen is not None:
            return Orbit(transient=seen, period=period)
        return Orbit(transient=measure_transient(period), period=period)


def measure_transient(network: Network, period: int, method: str) -> int:
    """μ of an autonomous run whose period is `period`: the first t with x(t) = x(t + period),
    by two runs `period` steps apart, compared a block at a time (blocks doubling from 64 steps
    to a chunk, so a short transient costs little)."""
    largest = chunk_steps(network)
    k = network.inputs

    def rows():
        stepper = Stepper(network, method)
        yield _initial_row(network, stepper)[None, :]
        size = 64
        while True:
            trace = stepper.advance(np.zeros((size, k), dtype=np.uint8))
            yield _state_rows(network, trace, stepper.hidden_state())
            size = min(2 * size, largest)

    def aligned(offset: int):
        """Rows of x(offset), x(offset + 1), … in blocks of 64, 128, … rows."""
        pending: list[np.ndarray] = []
        held = 0
        skip = offset
        size = 64
        for block in rows():
            if skip:
                dropped = min(skip, block.shape[0])
                block, skip = block[dropped:], skip - dropped
            pending.append(block)
            held += block.shape[0]
            while held >= size:
                joined = np.concatenate(pending)
                yield joined[:size]
                pending, held = [joined[size:]], held - size
                size = min(2 * size, largest)

    start = 0
    for early, late in zip(aligned(0), aligned(period), strict=False):
        equal = np.flatnonzero((early == late).all(axis=1))
        if equal.size:
            return start + int(equal[0])
        start += early.shape[0]
    raise AssertionError("unreachable: the streams are endless")


class RunSummary:
    """The summary of a run, accumulated chunk by chunk: spikes, active neurons, orbit.

    Parameters
    ----------
    network : Network
    search_orbit : bool
        Search for a revisit of the whole state (only meaningful without input spikes).
    exact_bytes : int
        The budget of the exact orbit search (:class:`OrbitSearch`).
    """

    def __init__(self, network: Network, stepper: Stepper, *, search_orbit: bool,
                 exact_bytes: int = EXACT_SEARCH_BYTES) -> None:
        self.network = network
        self.steps = 0
        self.spikes = 0
        self.active = np.zeros(network.neurons, dtype=bool)
        self.driven = not search_orbit
        self.search = OrbitSearch(_initial_row(network, stepper), exact_bytes) \
            if search_orbit else None

    def add(self, trace: Trace, hidden: np.ndarray | None) -> None:
        """Take in the next chunk's trace (and the stepper's hidden state of it)."""
        self.spikes += int(trace.spikes.sum(dtype=np.int64))
        self.active |= trace.spikes.any(axis=0)
        if self.search is not None and self.search.found is None:
            self.search.feed(_state_rows(self.network, trace, hidden), self.steps + 1)
        self.steps += trace.steps

    def as_dict(self, method: str) -> dict:
        """The summary as JSON-ready values (the orbit's transient may take a second run)."""
        network = self.network
        orbit = None
        search = "none"
        if self.search is not None:
            orbit = self.search.orbit(lambda period: measure_transient(network, period, method))
            search = "exact" if self.search.exhaustive_through is None else "bounded"
        cells = self.steps * network.neurons
        return {
            "steps": self.steps,
            "neurons": network.neurons,
            "spikes": self.spikes,
            "firing_rate": self.spikes / cells if cells else 0.0,
            "active_neurons": int(np.count_nonzero(self.active)),
            "driven": self.driven,
            "orbit_searched": self.search is not None,
            "orbit_search": search,
            "orbit_exhaustive_through": (self.steps if search == "exact" else
                                         None if self.search is None
                                         else self.search.exhaustive_through),
            "orbit": None if orbit is None else {"transient": orbit.transient,
                                                 "period": orbit.period},
        }


class TraceCollector:
    """A sink that keeps the recorded arrays in memory (for TRACE.npz)."""

    def __init__(self, arrays: dict[str, np.dtype]) -> None:
        self.names = list(arrays)
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in self.names}

    def write(self, trace: Trace) -> None:
        for name in self.names:
            self.parts[name].append(getattr(trace, name))

    def arrays(self) -> dict[str, np.ndarray]:
        """The recorded arrays: spikes uint8, state and current int64 (as TRACE.npz holds)."""
        dtypes = {"spikes": np.uint8, "state": np.int64, "current": np.int64}
        return {name: np.concatenate(parts).astype(dtypes[name])
                for name, parts in self.parts.items()}


def _write_npy_header(file, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": shape}
    np.lib.format.write_array_header_2_0(file, header)


def is_trace_folder(path: str) -> bool:
    """True for a folder this module wrote (it holds summary.json and nothing else unknown)."""
    if not os.path.isdir(path):
        return False
    known = {"summary.json", "spikes.npy", "state.npy", "current.npy"}
    entries = set(os.listdir(path))
    return not entries or ("summary.json" in entries and entries <= known)


class TraceFolder:
    """A sink that streams the recorded arrays to ``.npy`` files in a folder, chunk by chunk.

    The folder is built as ``PATH.partial`` and renamed into place by :meth:`finish`; an earlier
    trace folder at PATH is replaced then, and any other file or folder there is refused before
    the run. :meth:`abort` (or leaving a ``with`` block by an exception) removes the partial
    folder, so an interrupted run leaves nothing behind.

    Parameters
    ----------
    path : str
    neurons : int
        N: the column count of every array.
    steps : int
        T: the row count written into each header before the first chunk.
    arrays : dict of str to dtype
        The arrays to write (:func:`recorded_arrays`), named as :class:`~.golden.Trace` fields.
    """

    def __init__(self, path: str, neurons: int, steps: int, arrays: dict[str, np.dtype]
                 ) -> None:
        self.path = os.path.normpath(path)
        if os.path.exists(self.path) and not is_trace_folder(self.path):
            raise InputError(f"--out {path} exists and is not a trace folder; "
                             "choose a new name or remove it")
        self.partial = self.path + ".partial"
        if os.path.isdir(self.partial):
            shutil.rmtree(self.partial)
        elif os.path.lexists(self.partial):
            os.unlink(self.partial)
        os.mkdir(self.partial)
        self.dtypes = dict(arrays)
        self.files = {}
        try:
            for name, dtype in self.dtypes.items():
                file = open(os.path.join(self.partial, f"{name}.npy"), "wb")  # noqa: SIM115
                self.files[name] = file
                _write_npy_header(file, dtype, (steps, neurons))
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> TraceFolder:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.abort()

    def write(self, trace: Trace) -> None:
        for name, file in self.files.items():
            file.write(np.ascontiguousarray(getattr(trace, name), dtype=self.dtypes[name])
                       .tobytes())

    def finish(self, summary: dict) -> None:
        """Write summary.json, close the files and move the folder into place."""
        for file in self.files.values():
            file.close()
        with open(os.path.join(self.partial, "summary.json"), "w") as file:
            json.dump(summary, file, sort_keys=True, indent=1)
            file.write("\n")
        replaced = None
        if os.path.isdir(self.path):
            replaced = self.path + ".replaced"
            if os.path.isdir(replaced):
                shutil.rmtree(replaced)
            os.rename(self.path, replaced)
        os.rename(self.partial, self.path)
        if replaced is not None:
            shutil.rmtree(replaced)

    def abort(self) -> None:
        for file in self.files.values():
            file.close()
        shutil.rmtree(self.partial, ignore_errors=True)


def run_chunked(
    network: Network,
    steps: int,
    inputs: np.ndarray | None,
    *,
    method: str = "auto",
    sinks: tuple = (),
    progress: Callable[[int, int], None] | None = None,
    exact_bytes: int = EXACT_SEARCH_BYTES,
    input_label: str | None = None,
) -> dict:
    """Run `network` for `steps` steps a chunk at a time; returns the summary dict.

    Parameters
    ----------
    inputs : array-like of shape (≥T, K), or None
        x(t) in row t − 1; may be a memory-mapped ``.npy`` (read a chunk at a time, each chunk
        validated as :func:`~.golden.check_inputs` does). None: no input spikes.
    sinks : tuple
        Objects with ``write(trace)``, given every chunk in order.
    progress : callable, optional
        ``progress(done, total)`` after every chunk.
    exact_bytes : int
        The budget of the exact orbit search (:class:`OrbitSearch`).
    input_label : str, optional
        Names the inputs in an error about their values (``--input STIM.npy``).
    """
    from .golden import check_inputs

    stepper = Stepper(network, method)
    chunk = chunk_steps(network)
    driven = inputs is not None and _any_input(inputs, steps, chunk)
    summary = RunSummary(network, stepper, search_orbit=not driven, exact_bytes=exact_bytes)
    zeros = np.zeros((chunk, network.inputs), dtype=np.uint8)
    for start in range(0, steps, chunk):
        count = min(chunk, steps - start)
        if inputs is None:
            x = zeros[:count]
        else:
            try:
                x = check_inputs(network, count, np.asarray(inputs[start:start + count]))
            except InputError as error:
                message = shift_input_row(str(error), start)
                if input_label is not None:
                    message = f"{input_label}: {message}"
                raise type(error)(message) from None
        trace = stepper.advance(x)
        for sink in sinks:
            sink.write(trace)
        summary.add(trace, stepper.hidden_state())
        if progress is not None:
            progress(start + count, steps)
    return summary.as_dict(stepper.method)


def _any_input(inputs, steps: int, chunk: int) -> bool:
    return any(np.asarray(inputs[start:start + chunk]).any()
               for start in range(0, min(steps, len(inputs)), chunk))


def shift_input_row(message: str, offset: int) -> str:
    """An error about a block of inputs starting at row `offset`, naming rows of the whole
    array (``inputs[t][c]``)."""
    return re.sub(r"inputs\[(\d+)\]", lambda m: f"inputs[{int(m.group(1)) + offset}]", message,
                  count=1)
