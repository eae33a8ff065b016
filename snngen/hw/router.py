"""The event-driven spike router and the spike merger (address-event representation)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .group import any_of, event_layout, group_spike_layout, spike_layout
from .plan import HardwarePlan

__all__ = ["SpikeMerger", "SpikeRouter", "input_layout"]


def input_layout(plan: HardwarePlan) -> data.StructLayout:
    return data.StructLayout({"channel": unsigned(plan.input_id_width)})


class SpikeRouter(wiring.Component):
    """Delivers each event only to the groups that hold its targets.

    Events are the previous step's spikes (neuron ids) and this step's input spikes (channel ids,
    which become source ``N + channel``). A table in block RAM holds one bit per group for every
    source; an event is offered to exactly the groups whose bit is set, each group taking it when
    its queue has room, and the next event is looked up while the current one is still being
    delivered. An event with no targets (or an input channel id ≥ K) costs one cycle and reaches no
    group.

    Throughput: one event per cycle when no targeted group queue is full. Latency: 3 cycles from an
    accepted event to the targeted group queues (the mask's read, its register, the queue).

    Parameters
    ----------
    plan : HardwarePlan

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

    def __init__(self, plan: HardwarePlan):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        self._plan = plan
        super().__init__({
            "spikes": In(stream.Signature(spike_layout(plan))),
            "inputs": In(stream.Signature(input_layout(plan))),
            "enable": In(1),
            "busy": Out(1),
            "groups": Out(stream.Signature(event_layout(plan))).array(plan.groups),
        })
        self.mask_memory = memory.Memory(
            shape=unsigned(plan.groups), depth=plan.sources, init=[int(x) for x in plan.masks])

    def elaborate(self, platform):
        plan = self._plan
        n, k, groups = plan.network.neurons, plan.network.inputs, plan.groups
        m = Module()
        m.submodules.mask_memory = self.mask_memory
        mask_read = self.mask_memory.read_port()

        # Two stages. *Lookup* holds a taken event while its mask is read; *delivery* offers the
        # event to the groups its registered mask names. The mask's block RAM output only goes
        # into a register: reading it straight into the groups' handshakes, whose queue-full
        # flags decided the next read address, made a loop through every group that set the
        # clock from G = 9 on (17 ns on an ECP5).
        looking = Signal()         # lookup stage: an event whose mask is being read
        looked_source = Signal(plan.source_width)
        looked_valid_source = Signal()
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
        transfer = Signal()
        m.d.comb += [
            finished.eq(holding & ((pending & ~served) == 0)),
            transfer.eq(looking & (~holding | finished)),
        ]

        can_take = Signal()
        take_spike = Signal()
        take_input = Signal()
        source = Signal(plan.source_width)
        m.d.comb += [
            can_take.eq(self.enable & (~looking | transfer)),
            take_spike.eq(can_take & self.spikes.valid),
            take_input.eq(can_take & ~self.spikes.valid & self.inputs.valid),
            self.spikes.ready.eq(take_spike),
            self.inputs.ready.eq(take_input),
            source.eq(Mux(take_spike, self.spikes.payload.neuron,
                          n + self.inputs.payload.channel)),
            mask_read.addr.eq(source),
            # Read only when an event is taken: the output holds while the event waits.
            mask_read.en.eq(take_spike | take_input),
        ]
        taken = take_spike | take_input
        m.d.sync += [
            looking.eq(taken | (looking & ~transfer)),
            holding.eq(transfer | (holding & ~finished)),
            pending.eq(Mux(transfer, Mux(looked_valid_source, mask_read.data, 0),
                           pending & ~served)),
        ]
        with m.If(taken):
            m.d.sync += [
                looked_source.eq(source),
                looked_valid_source.eq(take_spike | (self.inputs.payload.channel < k)),
            ]
        with m.If(transfer):
            m.d.sync += held_source.eq(looked_source)
        if plan.spike_count_width:
            looked_count = Signal(plan.spike_count_width)
            held_count = Signal(plan.spike_count_width)
            m.d.comb += [self.groups[g].payload.count.eq(held_count) for g in range(groups)]
            with m.If(taken):
                # An input event is one event; a spike carries its neuron's count.
                m.d.sync += looked_count.eq(Mux(take_spike, self.spikes.payload.count, 1))
            with m.If(transfer):
                m.d.sync += held_count.eq(looked_count)
        m.d.comb += self.busy.eq(holding | looking
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
