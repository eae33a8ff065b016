"""Per-component tests: the plan, constant division, the router, the merger, a group."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from rtl_cases import random_case

from snngen.errors import InputError
from snngen.hw.core import reciprocal
from snngen.hw.group import NeuronGroup
from snngen.hw.plan import bits_for_range, plan_hardware
from snngen.hw.router import SpikeMerger, SpikeRouter
from snngen.model.generate import random_network

# ---- plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize("groups", [1, 2, 3, 5, 13])
def test_plan_stores_exactly_the_nonzero_synapses(groups):
    network = random_network(neurons=13, inputs=4, density=0.3, seed=groups)
    plan = plan_hardware(network, groups)
    incoming = np.concatenate([network.weights, network.input_weights], axis=1)
    rebuilt = np.zeros_like(incoming)
    for group in plan.group_plans:
        for source, (start, count) in enumerate(group.pointers):
            for slot, weight in group.synapses[start:start + count]:
                rebuilt[slot * groups + group.index, source] = weight
        # Sources with identical synapses into the group share one list.
        lists = {(int(s), int(c)) for s, c in group.pointers if c}
        assert group.synapse_count == sum(c for _, c in lists)
        assert sorted(s for s, _ in lists) == sorted({s for s, _ in lists})
        assert (group.synapses[:, 1] != 0).all()
    assert_array_equal(rebuilt, incoming)
    assert sum(g.synapse_count for g in plan.group_plans) <= network.synapses
    for source in range(plan.sources):
        expected = sum(1 << g.index for g in plan.group_plans if g.pointers[source, 1])
        assert plan.masks[source] == expected


@given(st.integers(-(2**40), 2**40), st.integers(0, 2**40))
def test_bits_for_range(a, span):
    lo, hi = a, a + span
    width, signed = bits_for_range(lo, hi)
    if signed:
        assert -(1 << (width - 1)) <= lo and hi < (1 << (width - 1))
        assert not (-(1 << (width - 2)) <= lo and hi < (1 << (width - 2))) or width == 1
    else:
        assert lo >= 0 and hi < (1 << width)
        assert width == 1 or hi >= (1 << (width - 1))


def test_accumulator_holds_the_extreme_sums():
    network = random_case(0, 16, "signed", "saturate", "none", neurons=5, weight_bits=16)
    extreme = np.full((5, 5), -(1 << 15))
    network = network.replace(weights=extreme, input_weights=np.full((5, 3), -(1 << 15)))
    plan = plan_hardware(network, 1)
    assert -(1 << (plan.accumulator_width - 1)) <= -(8 << 15)


@pytest.mark.parametrize("bad", [0, 14, -1])
def test_plan_rejects_bad_group_counts(bad):
    network = random_network(neurons=13, seed=1)
    with pytest.raises(InputError, match=r"groups must be in 1\.\.13 for 13 neurons"):
        plan_hardware(network, bad)


@pytest.mark.parametrize("divisor", [1, 2, 3, 5, 6, 7, 10, 12, 100, 127, 130])
def test_reciprocal_division_is_exact(divisor):
    count = 4096
    multiplier, shift = reciprocal(divisor, count)
    values = np.arange(count, dtype=object)
    assert all((x * multiplier) >> shift == x // divisor for x in values)


# ---- router ----------------------------------------------------------------------------------


def test_router_delivers_each_event_to_exactly_its_groups():
    network = random_network(neurons=10, inputs=3, density=0.25, seed=3)
    plan = plan_hardware(network, 4)
    router = SpikeRouter(plan, checks=True)
    spikes_sent = [0, 3, 7, 9, 4]
    inputs_sent = [0, 2, 3, 1]  # channel 3 ≥ K: ignored (the id field is 2 bits wide)
    received = {g: [] for g in range(4)}

    async def send(ctx):
        ctx.set(router.enable, 1)
        for neuron in spikes_sent:
            ctx.set(router.spikes.payload.neuron, neuron)
            ctx.set(router.spikes.valid, 1)
            await ctx.tick().until(router.spikes.ready)
        ctx.set(router.spikes.valid, 0)
        for channel in inputs_sent:
            ctx.set(router.inputs.payload.channel, channel)
            ctx.set(router.inputs.valid, 1)
            await ctx.tick().until(router.inputs.ready)
        ctx.set(router.inputs.valid, 0)
        await ctx.tick().until(~router.busy)

    async def receive(ctx):
        rng = np.random.default_rng(0)
        async for sample in ctx.tick().sample(*[p.valid for p in router.groups],
                                               *[p.ready for p in router.groups],
                                               *[p.payload.source for p in router.groups]):
            valid, ready, source = sample[2:6], sample[6:10], sample[10:14]
            for g in range(4):
                if valid[g] and ready[g]:
                    received[g].append(source[g])
                ctx.set(router.groups[g].ready, int(rng.random() < 0.6))

    simulator = Simulator(router)
    simulator.add_clock(1e-8)
    simulator.add_testbench(receive, background=True)
    simulator.add_testbench(send)
    simulator.run()
    sources = spikes_sent + [network.neurons + c for c in inputs_sent if c < network.inputs]
    for g in range(4):
        expected = [s for s in sources if plan.group_plans[g].pointers[s, 1] > 0]
        assert received[g] == expected


@pytest.mark.parametrize("groups", [3, 20])
def test_merger_emits_every_spike_once(groups):
    """One merger, and (20 groups) a first level of three mergers into a second."""
    network = random_network(neurons=40, seed=1)
    plan = plan_hardware(network, groups)
    assert len(plan.merge_clusters) == (0 if groups == 3 else 3)
    merger = SpikeMerger(plan)
    rng = np.random.default_rng(groups)
    queued = {g: [int(n) for n in plan.group_plans[g].members
                  if rng.random() < 0.7] for g in range(groups)}
    out = []

    async def feed(ctx, g):
        for neuron in queued[g]:
            ctx.set(merger.groups[g].payload.neuron, neuron)
            ctx.set(merger.groups[g].valid, 1)
            await ctx.tick().until(merger.groups[g].ready)
        ctx.set(merger.groups[g].valid, 0)

    async def drain(ctx):
        rng = np.random.default_rng(1)
        async for _, _, valid, ready, neuron in ctx.tick().sample(
                merger.merged.valid, merger.merged.ready, merger.merged.payload.neuron):
            if valid and ready:
                out.append(neuron)
            ctx.set(merger.merged.ready, int(rng.random() < 0.5))

    async def main(ctx):
        await ctx.tick().repeat(200)
        assert not ctx.get(merger.busy)

    simulator = Simulator(merger)
    simulator.add_clock(1e-8)
    for g in range(groups):
        async def feeder(ctx, g=g):
            await feed(ctx, g)
        simulator.add_testbench(feeder, background=True)
    simulator.add_testbench(drain, background=True)
    simulator.add_testbench(main)
    simulator.run()
    assert sorted(out) == sorted(n for ids in queued.values() for n in ids)
    assert len(out) > groups


def test_group_accumulates_and_sweeps():
    """One group alone: events in, one sweep, spikes and states out, against the golden model."""
    network = random_case(4, 8, "signed", "saturate", "subtract", neurons=6, inputs=2)
    plan = plan_hardware(network, 1)
    group = NeuronGroup(plan, 0, checks=True)
    previous = np.ones(6, dtype=np.uint8)
    # Step 2 of a run where every neuron spiked at step 1: build the equivalent one-step network.
    sources = [*range(6), 6]
    spikes = []
    states = []

    async def bench(ctx):
        ctx.set(group.init, 1)
        await ctx.tick()
        ctx.set(group.init, 0)
        await ctx.tick().until(~group.sweeping)
        for source in sources:
            ctx.set(group.events.payload.source, source)
            ctx.set(group.events.valid, 1)
            await ctx.tick().until(group.events.ready)
        ctx.set(group.events.valid, 0)
        await ctx.tick().until(~group.accumulating)
        ctx.set(group.sweep, 1)
        await ctx.tick()
        ctx.set(group.sweep, 0)
        ctx.set(group.spikes.ready, 1)
        async for _, _, valid, neuron, sweeping in ctx.tick().sample(
                group.spikes.valid, group.spikes.payload.neuron, group.sweeping):
            if valid:
                spikes.append(neuron)
            if not sweeping:
                break
        states.extend(ctx.get(group.state_memory.data[slot]) for slot in range(6))

    simulator = Simulator(group)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    # The golden step from v(0) with s(0) = all ones and x(1) = channel 0.
    from snngen.model.golden import neuron_update, synaptic_current
    current = synaptic_current(network, previous, np.array([1, 0]))
    after, fired = neuron_update(network, network.initial_state, current)
    assert sorted(spikes) == list(np.flatnonzero(fired))
    assert_array_equal(states, after)


@pytest.mark.parametrize("registered", [False, True], ids=["plain", "registered"])
@pytest.mark.parametrize(("depth", "seed"), [(2, 0), (3, 1), (5, 2), (16, 3)])
def test_event_queue_is_a_lossless_fifo(depth, seed, registered):
    """Random valid/ready on both sides: every entry comes out once, in order; flags agree."""
    from snngen.hw.queue import EventQueue
    queue = EventQueue(8, depth, registered_output=registered)
    sent = list(range(1, 120))
    received = []

    async def producer(ctx):
        rng = np.random.default_rng(seed)
        for value in sent:
            while rng.random() < 0.3:
                await ctx.tick()
            ctx.set(queue.w.payload, value)
            ctx.set(queue.w.valid, 1)
            await ctx.tick().until(queue.w.ready)
            ctx.set(queue.w.valid, 0)

    async def consumer(ctx):
        rng = np.random.default_rng(seed + 100)
        occupancy = 0
        async for _, _, w_valid, w_ready, r_valid, r_ready, payload, busy in ctx.tick().sample(
                queue.w.valid, queue.w.ready, queue.r.valid, queue.r.ready, queue.r.payload,
                queue.busy):
            assert busy == (occupancy > 0)
            assert occupancy <= depth + 1 + registered
            occupancy += (w_valid and w_ready) - (r_valid and r_ready)
            if r_valid and r_ready:
                received.append(payload)
            ctx.set(queue.r.ready, int(rng.random() < 0.5))
            if len(received) == len(sent):
                return

    simulator = Simulator(queue)
    simulator.add_clock(1e-8)
    simulator.add_testbench(producer, background=True)
    simulator.add_testbench(consumer)
    simulator.run()
    assert received == sent


@pytest.mark.parametrize("registered", [False, True], ids=["plain", "registered"])
def test_event_queue_passes_one_entry_per_cycle(registered):
    """Always valid, always ready: one entry per cycle after the latency, one cycle more with
    the registered output."""
    from snngen.hw.queue import EventQueue
    queue = EventQueue(8, 4, registered_output=registered)
    arrivals = []

    async def testbench(ctx):
        ctx.set(queue.r.ready, 1)
        ctx.set(queue.w.valid, 1)
        for cycle in range(40):
            ctx.set(queue.w.payload, cycle + 1)
            _, _, r_valid, payload = await ctx.tick().sample(queue.r.valid, queue.r.payload)
            if r_valid:
                arrivals.append((cycle, payload))

    simulator = Simulator(queue)
    simulator.add_clock(1e-8)
    simulator.add_testbench(testbench)
    simulator.run()
    first = arrivals[0][0]
    assert first == 2 + registered
    assert arrivals == [(first + i, i + 1) for i in range(len(arrivals))]


def test_deep_queues_are_left_to_block_ram():
    """On an ECP5 a shallow queue is LUT RAM; a deep one (a convolutional network's spike queue)
    is left to block RAM, where yosys had spent thousands of LUT RAMs on it."""
    from amaranth.hdl import Fragment

    from snngen.hw.queue import SMALL_QUEUE_DEPTH, EventQueue

    queues = [EventQueue(12, SMALL_QUEUE_DEPTH, block_ram="dp16kd"),
              EventQueue(14, 8970, block_ram="dp16kd"), EventQueue(12, 16, block_ram="inferred")]
    assert [queue.storage.attrs for queue in queues] == [{"ram_style": "distributed"}, {}, {}]
    for queue in queues:
        # Elaborated, so that Amaranth does not warn that they went unused.
        Fragment.get(queue, None)
