"""Run the generated core in Amaranth's simulator and read back spikes and states every step."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
from amaranth import ClockDomain, Fragment, Module
from amaranth.sim import Simulator

from ..hw.core import SNNCore
from ..hw.plan import HardwarePlan

__all__ = ["RtlRun", "input_events", "run_amaranth"]

CLOCK_PERIOD = 1e-8


@dataclasses.dataclass(frozen=True, eq=False)
class RtlRun:
    """What the RTL produced.

    Members
    -------
    spikes : ndarray of uint8, shape (T, N)
    state : ndarray of int64, shape (T, N)
    cycles : ndarray of int64, shape (T,)
        Clock cycles from ``start`` to ``done`` of each step.
    events : list of list of int
        The neuron ids of every step in the order the output stream delivered them.
    end_counts : list of int
        The spike count each end-of-step marker carried.
    before_reset : RtlRun or None
        With ``reset_after``: the partial run before the reset.
    current : ndarray of int64, shape (T, N), or None
        The synaptic current of every neuron after every step (semantics v2 with a current).
    """

    spikes: np.ndarray
    state: np.ndarray
    cycles: np.ndarray
    events: list
    end_counts: list
    before_reset: RtlRun | None = None
    current: np.ndarray | None = None


def run_amaranth(
    plan: HardwarePlan,
    steps: int,
    inputs: np.ndarray,
    *,
    stall_seed: int | None = None,
    stall_probability: float = 0.3,
    vcd_path: str | None = None,
    read_states: str = "peek",
    reset_after: int | None = None,
    reset_delay: int = 5,
    load_weights: bool = True,
) -> RtlRun:
    """Simulate `steps` steps of the core for `plan` with input spikes `inputs` [T, K].

    Parameters
    ----------
    stall_seed : int, optional
        When given, the testbench withholds ``ready`` on the output stream and ``valid`` on the
        input stream at random (seeded), to check that backpressure loses nothing.
    vcd_path : str, optional
        Write a waveform.
    read_states : {"peek", "port"}
        ``peek`` reads the state memories directly through the simulator (no cycles);
        ``port`` reads every neuron through the core's ``read_request``/``read_response`` port.
    reset_after : int, optional
        Run this many steps, start one more, assert the reset `reset_delay` cycles into it,
        then run all `steps` again from the start: the rerun must be clean (the core reloads its
        initial state and empties its queues after a reset).
    load_weights : bool
        With runtime weights: load the synapse tables after reset (off only to show that the
        tables start empty).
    """
    network = plan.network
    n = network.neurons
    core = SNNCore(plan, checks=True)
    if not core.simulable:
        # Elaborated, so that Amaranth does not warn (an error under PYTHONWARNINGS=error, at
        # whatever later moment the garbage collector takes it) that the core went unused.
        Fragment.get(core, None)
        raise ValueError(f"block_ram must be 'inferred' for Amaranth's simulator when the core "
                         f"has vendor block RAM instances (they simulate in Icarus or "
                         f"Verilator), not {plan.block_ram!r}")
    rng = random.Random(stall_seed)
    stalling = stall_seed is not None
    has_current = network.dynamics is not None and network.dynamics.current is not None
    runs = [_Recording(reset_after, n, has_current)] if reset_after is not None else []
    runs.append(_Recording(steps, n, has_current))
    current = {"run": runs[0]}

    async def collect(ctx):
        """Output stream: record spikes and end markers, with random backpressure."""
        ctx.set(core.spikes.ready, 1)
        async for _, reset, valid, ready, neuron, end in ctx.tick().sample(
                core.spikes.valid, core.spikes.ready, core.spikes.payload.neuron,
                core.spikes.payload.end):
            record = current["run"]
            if valid and ready and not reset:
                if end:
                    record.end_counts.append(neuron)
                elif len(record.end_counts) < len(record.events):
                    record.events[len(record.end_counts)].append(neuron)
            if stalling:
                ctx.set(core.spikes.ready, rng.random() >= stall_probability)

    async def read_all_states(ctx, record, t):
        if read_states == "peek":
            for g, group in enumerate(core.groups):
                for slot in range(plan.slots):
                    neuron = plan.neuron_of(g, slot)
                    if neuron is not None:
                        record.state[t, neuron] = ctx.get(group.state_memory.data[slot])
                        if has_current:
                            record.current[t, neuron] = ctx.get(group.current_memory.data[slot])
            return
        for neuron in range(n):
            ctx.set(core.read_request.payload.neuron, neuron)
            ctx.set(core.read_request.valid, 1)
            await ctx.tick().until(core.read_request.ready)
            ctx.set(core.read_request.valid, 0)
            ctx.set(core.read_response.ready, 1)
            (payload,) = await ctx.tick().sample(core.read_response.payload).until(
                core.read_response.valid)
            ctx.set(core.read_response.ready, 0)
            record.state[t, neuron] = payload.value
            if has_current:
                record.current[t, neuron] = payload.current

    async def send(ctx, port, payloads):
        """Transfer each payload on input stream `port`, with the random stalls."""
        for payload in payloads:
            while stalling and rng.random() < stall_probability:
                await ctx.tick()
            ctx.set(port.payload, payload)
            ctx.set(port.valid, 1)
            await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)

    async def drive(ctx):
        for index, record in enumerate(runs):
            if index:
                # A reset in the middle of a step: the rerun must start from a clean state.
                ctx.set(core.start, 1)
                await ctx.tick()
                ctx.set(core.start, 0)
                for _ in range(reset_delay):
                    await ctx.tick()
                ctx.set(domain.rst, 1)
                for _ in range(3):
                    await ctx.tick()
                current["run"] = record
                ctx.set(domain.rst, 0)
            await ctx.tick().until(core.idle)
            if plan.runtime_weights and load_weights and index == 0:
                # Synapse tables survive a reset (memory is not reset), so load them once.
                await send(ctx, core.synapse_load,
                           [{"address": int(a), "data": int(d)}
                            for a, d in plan.synapse_load_words()])
            for t in range(record.steps):
                # An input count of c (semantics v2) is the channel sent c times.
                await send(ctx, core.inputs,
                           [{"channel": int(c)} for c in input_events(inputs[t])])
                await ctx.tick().until(core.idle)
                ctx.set(core.start, 1)
                await ctx.tick()
                ctx.set(core.start, 0)
                began = 1
                async for _, _, done in ctx.tick().sample(core.done):
                    if done:
                        break
                    began += 1
                record.cycles[t] = began
                await read_all_states(ctx, record, t)

    top = Module()
    top.domains.sync = domain = ClockDomain("sync")
    top.submodules.core = core
    simulator = Simulator(top)
    simulator.add_clock(CLOCK_PERIOD)
    simulator.add_testbench(collect, background=True)
    simulator.add_testbench(drive)
    if vcd_path is not None:
        with simulator.write_vcd(vcd_path):
            simulator.run()
    else:
        simulator.run()
    results = [record.result() for record in runs]
    if reset_after is not None:
        return dataclasses.replace(results[1], before_reset=results[0])
    return results[0]


def input_events(counts: np.ndarray) -> np.ndarray:
    """The channel ids to send for one step's input counts: channel c, counts[c] times."""
    counts = np.asarray(counts, dtype=np.int64)
    return np.repeat(np.arange(len(counts)), counts)


class _Recording:
    def __init__(self, steps: int, neurons: int, has_current: bool = False):
        self.steps = steps
        self.neurons = neurons
        self.state = np.zeros((steps, neurons), dtype=np.int64)
        self.current = np.zeros((steps, neurons), dtype=np.int64) if has_current else None
        self.cycles = np.zeros(steps, dtype=np.int64)
        self.events: list[list[int]] = [[] for _ in range(steps)]
        self.end_counts: list[int] = []

    def result(self) -> RtlRun:
        spikes = np.zeros((self.steps, self.neurons), dtype=np.uint8)
        for t, ids in enumerate(self.events):
            # A neuron with c spikes in a step is sent c times in a row.
            np.add.at(spikes[t], [i for i in ids if i < self.neurons], 1)
        return RtlRun(spikes=spikes, state=self.state, cycles=self.cycles, events=self.events,
                      end_counts=self.end_counts, current=self.current)
