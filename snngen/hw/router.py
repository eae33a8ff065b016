"""The event-driven spike router and the spike merger (address-event representation)."""

from __future__ import annotations

from amaranth import Assert, C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .banked import dp16kd_rom_columns, dp16kd_rom_registered
from .group import POINTER_LUT_RAM_DEPTH, any_of, event_layout, group_spike_layout, spike_layout
from .plan import HardwarePlan

__all__ = ["MASK_FIFO_DEPTH", "MASK_LOGIC_BITS", "SpikeMerger", "SpikeRouter", "input_layout"]

#: Entries of the router's mask FIFO: one more than the fetches in flight (the read and the
#: output register) keeps one event entering per cycle.
MASK_FIFO_DEPTH = 4

#: Bits of a router mask table (sources × groups) up to which an ECP5 build keeps it in logic.
MASK_LOGIC_BITS = 2048


def input_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"channel": unsigned(plan.input_id_width)})


class SpikeRouter(wiring.Component):
    """Delivers each event only to the groups that hold its targets.

    Events are the previous step's spikes (neuron ids) and this step's input spikes (channel ids,
    which become source ``N + channel``). A table in block RAM holds one bit per group for every
    source; an event is offered to exactly the groups whose bit is set, each group taking it when
    its queue has room, and the next events are looked up while the current one is still being
    delivered. An event with no targets (or an input channel id ≥ K) costs one cycle and reaches no
    group.

    Throughput: one event per cycle when no targeted group queue is full. Latency: 5 cycles from an
    accepted event to the targeted group queues (the mask's read, its output register, the mask
    FIFO, the delivery register, the queue).

    Parameters
    ----------
    plan : HardwarePlan
    checks : bool
        Add simulation assertions for invariants the design relies on (the mask FIFO is never
        written while full, and `claimed` counts its entries and the fetches in flight).

    Members
    -------
    spikes : In(stream.Signature(spike_layout))
        Neuron ids that spiked in the previous step.
    inputs : In(stream.Signature(input_layout))
        Input channel ids of this step.
    enable : In(1)
        Events are taken only while high (the accumulate phase).
    busy : Out(1)
        An event is being delivered, or one is waiting while enabled.
    groups : Out(stream.Signature(event_layout)).array(G)
        One event stream per neuron group.
    """

    def __init__(self, plan: HardwarePlan, *, checks: bool = False):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        self._plan = plan
        self._checks = bool(checks)
        super().__init__({
            "spikes": In(stream.Signature(spike_layout(plan))),
            "inputs": In(stream.Signature(input_layout(plan))),
            "enable": In(1),
            "busy": Out(1),
            "groups": Out(stream.Signature(event_layout(plan))).array(plan.groups),
        })
        # On an ECP5 a mask table of more than MASK_LOGIC_BITS is a DP16KD ROM read through its
        # output register (yosys maps it to a DP16KD without one, 5.6 ns clock-to-output); a
        # smaller one stays an inferred ROM, which yosys builds from LUTs, and is not worth a
        # whole DP16KD (784-128-10 at G = 2 fits 55 DP16KD that way).
        self.mask_dp16kd = (plan.block_ram == "dp16kd" and plan.sources > POINTER_LUT_RAM_DEPTH
                            and plan.sources * plan.groups > MASK_LOGIC_BITS
                            and dp16kd_rom_columns(plan.groups, plan.sources) is not None)
        self._mask_words = [int(x) for x in plan.masks]
        self.mask_memory = None if self.mask_dp16kd else memory.Memory(
            shape=unsigned(plan.groups), depth=plan.sources, init=self._mask_words)

    def elaborate(self, platform):
        plan = self._plan
        n, k, groups = plan.network.neurons, plan.network.inputs, plan.groups
        count_width = plan.spike_count_width
        m = Module()

        # The mask fetch never stalls, like a group's pointer fetch. The mask table is read every
        # cycle at the head event and its output register always loads; a taken event's mask
        # goes into a small FIFO (with the event's source and count), and an event is taken
        # only while the FIFO has room for every fetch in flight (`claimed`). Taking an event
        # therefore depends on registers only. The delivery stage pops the FIFO's head into
        # `pending`, the groups still to serve; its "every group served" decision, which
        # gathers every group's queue-full flag from across the chip, ends in the router's
        # registers instead of in the mask block RAM's read address (the path that set the
        # clock at G = 32).
        take = Signal()
        take_spike = Signal()
        take_input = Signal()
        source = Signal(plan.source_width)
        m.d.comb += [
            source.eq(Mux(self.spikes.valid, self.spikes.payload.neuron,
                          n + self.inputs.payload.channel)),
            take_spike.eq(take & self.spikes.valid),
            take_input.eq(take & ~self.spikes.valid),
            self.spikes.ready.eq(take_spike),
            self.inputs.ready.eq(take_input),
        ]
        if self.mask_dp16kd:
            held_mask = dp16kd_rom_registered(m, "mask_memory", groups, self._mask_words,
                                              read_addr=source, read_en=C(1), output_en=C(1))
        else:
            m.submodules.mask_memory = self.mask_memory
            mask_read = self.mask_memory.read_port()
            m.d.comb += mask_read.addr.eq(source)
            held_mask = Signal(groups, reset_less=True)
            m.d.sync += held_mask.eq(mask_read.data)

        # What travels beside the mask read: whether a taken event is in the stage, its source,
        # whether that source exists (an input channel id ≥ K reaches no group) and its count.
        taken_event = Cat(source, take_spike | (self.inputs.payload.channel < k))
        if count_width:
            # An input event is one event; a spike carries its neuron's count.
            taken_event = Cat(taken_event, Mux(take_spike, self.spikes.payload.count, 1))
        fetched_valid, held_valid = Signal(), Signal()
        fetched_event = Signal(len(taken_event))
        held_event = Signal(len(taken_event))
        m.d.sync += [fetched_valid.eq(take), held_valid.eq(fetched_valid),
                     fetched_event.eq(taken_event), held_event.eq(fetched_event)]

        m.submodules.mask_fifo = mask_fifo = fifo.SyncFIFO(
            width=groups + len(held_event), depth=MASK_FIFO_DEPTH)
        # The FIFO's entries plus the fetches in flight, counted in a register of its own: the
        # sum of the FIFO's level and the two stages' flags, an adder in front of the skid
        # buffers' read enables, had set the UP5K's clock.
        claimed = Signal(range(MASK_FIFO_DEPTH + 1))
        m.d.comb += [
            take.eq(self.enable & (self.spikes.valid | self.inputs.valid)
                    & (claimed < MASK_FIFO_DEPTH)),
            mask_fifo.w_data.eq(Cat(held_mask, held_event)),
            mask_fifo.w_en.eq(held_valid),
        ]

        holding = Signal()         # delivery stage: an event not yet delivered everywhere
        held_source = Signal(plan.source_width)
        pending = Signal(groups)   # the groups still to serve
        served = Signal(groups)
        for g in range(groups):
            port = self.groups[g]
            m.d.comb += [
                port.valid.eq(holding & pending[g]),
                port.payload.source.eq(held_source),
                served[g].eq(port.valid & port.ready),
            ]
        finished = Signal()
        advance = Signal()
        head = mask_fifo.r_data
        head_mask = head[:groups]
        head_source = head[groups:groups + plan.source_width]
        head_exists = head[groups + plan.source_width]
        m.d.comb += [
            finished.eq(holding & ((pending & ~served) == 0)),
            advance.eq(mask_fifo.r_rdy & (~holding | finished)),
            mask_fifo.r_en.eq(advance),
        ]
        m.d.sync += [
            claimed.eq(claimed + take - advance),
            holding.eq(advance | (holding & ~finished)),
            pending.eq(Mux(advance, Mux(head_exists, head_mask, 0), pending & ~served)),
        ]
        with m.If(advance):
            m.d.sync += held_source.eq(head_source)
        if count_width:
            held_count = Signal(count_width)
            m.d.comb += [self.groups[g].payload.count.eq(held_count) for g in range(groups)]
            with m.If(advance):
                m.d.sync += held_count.eq(head[groups + plan.source_width + 1:])
        if self._checks:
            m.d.comb += [
                Assert(~(mask_fifo.w_en & ~mask_fifo.w_rdy), "mask FIFO overflow"),
                Assert(claimed == mask_fifo.level + fetched_valid + held_valid,
                       "claimed mask FIFO entries miscounted"),
            ]
        m.d.comb += self.busy.eq(holding | fetched_valid | held_valid | mask_fifo.r_rdy
                                 | (self.enable & (self.spikes.valid | self.inputs.valid)))
        return m


class SpikeMerger(wiring.Component):
    """Merges the spike queues of G groups into one stream, one spike per cycle.

    Fixed priority (lowest group first): every queue is drained before a step ends, so fairness
    does not matter; the output is registered so its payload is stable while it waits.

    With ordered events (:attr:`HardwarePlan.ordered_events`) it merges in ascending neuron
    order instead: each group's spikes already ascend and end with a ``last`` entry, so the
    merger emits the smallest id among the queue heads once every queue has a head, and drops
    the ``last`` entries together when only they are left.

    With more than :data:`~snngen.hw.plan.MERGE_FANIN` groups (and no ordered events) it merges
    in two levels (:attr:`HardwarePlan.merge_clusters`): each run of at most that many groups
    feeds a first-level pick into a two-entry register FIFO, and the output picks among the
    FIFOs, so no pick spans more than a cluster and no group queue's ready depends on the
    output's handshake.

    Throughput: one spike per cycle (sorted: one per cycle once every group has a head).
    Latency: 1 cycle; 2 with first-level mergers.

    Parameters
    ----------
    plan : HardwarePlan

    Members
    -------
    groups : In(stream.Signature(spike_layout)).array(G)
    merged : Out(stream.Signature(spike_layout))
    busy : Out(1)
        A spike is waiting in the output register or a first-level FIFO.
    """

    def __init__(self, plan: HardwarePlan):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        self._plan = plan
        super().__init__({
            "groups": In(stream.Signature(group_spike_layout(plan))).array(plan.groups),
            "merged": Out(stream.Signature(spike_layout(plan))),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        can_load = Signal()
        m.d.comb += can_load.eq(~self.merged.valid | self.merged.ready)
        with m.If(self.merged.ready):
            m.d.sync += self.merged.valid.eq(0)
        if self._plan.ordered_events:
            self._elaborate_sorted(m, can_load)
            m.d.comb += self.busy.eq(self.merged.valid)
            return m
        width = spike_layout(self._plan).size
        # Each source: (valid, payload as bits, its ready to drive).
        sources = [(port.valid, port.payload.as_value()[:width], port.ready)
                   for port in self.groups]
        clusters = []
        for index, members in enumerate(self._plan.merge_clusters):
            # A first-level merger writes into a two-entry register FIFO whose ready is a
            # register: the pick among its groups no longer waits on the output's handshake,
            # and the top pick sees one FIFO per cluster instead of every group.
            cluster = fifo.SyncFIFO(width=width, depth=2)
            m.submodules[f"cluster{index}"] = cluster
            self._pick(m, [sources[g] for g in members], cluster.w_rdy,
                       lambda payload, cluster=cluster: [cluster.w_en.eq(1),
                                                         cluster.w_data.eq(payload)],
                       sync=False)
            clusters.append(cluster)
        if clusters:
            sources = [(cluster.r_rdy, cluster.r_data, cluster.r_en) for cluster in clusters]
        self._pick(m, sources, can_load,
                   lambda payload: [self.merged.valid.eq(1), self.merged.payload.eq(payload)],
                   sync=True)
        m.d.comb += self.busy.eq(any_of([self.merged.valid,
                                         *(cluster.level != 0 for cluster in clusters)]))
        return m

    @staticmethod
    def _pick(m: Module, sources, can_load, load, *, sync: bool) -> None:
        """Take the lowest-numbered valid source when `can_load`: its ready, and `load(payload)`
        in the sync (registered output) or comb (FIFO write) domain."""
        domain = m.d.sync if sync else m.d.comb
        for index, (valid, payload, ready) in enumerate(sources):
            branch = m.If(valid) if index == 0 else m.Elif(valid)
            with branch:
                m.d.comb += ready.eq(can_load)
                with m.If(can_load):
                    domain += load(payload)

    def _elaborate_sorted(self, m: Module, can_load: Signal) -> None:
        plan = self._plan
        every_head = Signal()
        m.d.comb += every_head.eq(_all(port.valid for port in self.groups))
        # A `last` entry sorts after every id; a linear chain picks the smallest head.
        keys = [Cat(port.payload.neuron, port.payload.last) for port in self.groups]
        best = Signal(range(plan.groups))
        best_key = keys[0]
        for index in range(1, plan.groups):
            smaller = keys[index] < best_key
            best_key = Mux(smaller, keys[index], best_key)
            best = Mux(smaller, index, best)
        chosen = Signal(range(plan.groups))
        only_last = Signal()
        m.d.comb += [chosen.eq(best), only_last.eq(best_key[-1])]
        with m.If(every_head & can_load):
            with m.If(only_last):
                m.d.comb += [port.ready.eq(1) for port in self.groups]
            with m.Else():
                with m.Switch(chosen):
                    for index, port in enumerate(self.groups):
                        with m.Case(index):
                            m.d.comb += port.ready.eq(1)
                            m.d.sync += [self.merged.valid.eq(1),
                                         self.merged.payload.neuron.eq(port.payload.neuron)]
                            if plan.spike_count_width:
                                m.d.sync += self.merged.payload.count.eq(port.payload.count)


def _all(signals):
    result = 1
    for signal in signals:
        result = signal & result
    return result
