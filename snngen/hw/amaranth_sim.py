"""Run the generated core in Amaranth's simulator and read back spikes and states every step."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
from amaranth.sim import Simulator

from .core import SNNCore
from .plan import HardwarePlan

__all__ = ["RtlRun", "run_amaranth"]

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
    """

    spikes: np.ndarray
    state: np.ndarray
    cycles: np.ndarray
    events: list
    end_counts: list


def run_amaranth(
    plan: HardwarePlan,
    steps: int,
    inputs: np.ndarray,
    *,
    stall_seed: int | None = None,
    stall_probability: float = 0.3,
    vcd_path: str | None = None,
    read_states: str = "peek",
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
    """
    network = plan.network
    n = network.neurons
    core = SNNCore(plan)
    rng = random.Random(stall_seed)
    stalling = stall_seed is not None
    spikes = np.zeros((steps, n), dtype=np.uint8)
    state = np.zeros((steps, n), dtype=np.int64)
    cycles = np.zeros(steps, dtype=np.int64)
    events: list[list[int]] = [[] for _ in range(steps)]
    end_counts: list[int] = []

    async def collect(ctx):
        """Output stream: record spikes and end markers, with random backpressure."""
        step = 0
        ctx.set(core.spikes.ready, 1)
        async for _, _, valid, ready, neuron, end in ctx.tick().sample(
                core.spikes.valid, core.spikes.ready, core.spikes.payload.neuron,
                core.spikes.payload.end):
            if valid and ready:
                if end:
                    end_counts.append(neuron)
                    step += 1
                elif step < steps:
                    events[step].append(neuron)
            if stalling:
                ctx.set(core.spikes.ready, rng.random() >= stall_probability)

    async def read_all_states(ctx, t):
        if read_states == "peek":
            for group in core.groups:
                g = core.groups.index(group)
                for slot in range(plan.slots):
                    neuron = slot * plan.groups + g
                    if neuron < n:
                        state[t, neuron] = ctx.get(group.state_memory.data[slot])
            return
        for neuron in range(n):
            ctx.set(core.read_request.payload.neuron, neuron)
            ctx.set(core.read_request.valid, 1)
            await ctx.tick().until(core.read_request.ready)
            ctx.set(core.read_request.valid, 0)
            ctx.set(core.read_response.ready, 1)
            (value,) = await ctx.tick().sample(core.read_response.payload.value).until(
                core.read_response.valid)
            ctx.set(core.read_response.ready, 0)
            state[t, neuron] = value

    async def drive(ctx):
        await ctx.tick().until(core.idle)
        for t in range(steps):
            for channel in np.flatnonzero(inputs[t]):
                while stalling and rng.random() < stall_probability:
                    await ctx.tick()
                ctx.set(core.inputs.payload.channel, int(channel))
                ctx.set(core.inputs.valid, 1)
                await ctx.tick().until(core.inputs.ready)
                ctx.set(core.inputs.valid, 0)
            await ctx.tick().until(core.idle)
            ctx.set(core.start, 1)
            await ctx.tick()
            ctx.set(core.start, 0)
            began = 1
            async for _, _, done in ctx.tick().sample(core.done):
                if done:
                    break
                began += 1
            cycles[t] = began
            await read_all_states(ctx, t)

    simulator = Simulator(core)
    simulator.add_clock(CLOCK_PERIOD)
    simulator.add_testbench(collect, background=True)
    simulator.add_testbench(drive)
    if vcd_path is not None:
        with simulator.write_vcd(vcd_path):
            simulator.run()
    else:
        simulator.run()
    for t, ids in enumerate(events):
        spikes[t, [i for i in ids if i < n]] = 1
    return RtlRun(spikes=spikes, state=state, cycles=cycles, events=events, end_counts=end_counts)
