"""A neuron group: Ng time-multiplexed neurons with their synapses, accumulators and update pipeline."""

from __future__ import annotations

from amaranth import Assert, C, Cat, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..model.network import (
    DECAY_UNITY,
    Decay,
    Overflow,
    Reset,
    StateFormat,
)
from .banked import BankedTable, dp16kd_rom_columns, dp16kd_rom_registered
from .plan import EVENT_QUEUE_DEPTH, HardwarePlan
from .queue import SMALL_QUEUE_DEPTH, EventQueue
from .update import v2_datapath

__all__ = ["EVENT_FIFO_DEPTH", "NeuronGroup", "any_of", "append_saturating_add", "current_shape",
           "event_layout", "group_spike_layout", "lattice_shape", "ordered_accumulator_layout",
           "spike_layout", "state_shape"]

# A group's event queue without kernel groups in the network (HardwarePlan.event_queue_depth).
EVENT_FIFO_DEPTH = EVENT_QUEUE_DEPTH
# A pointer table this shallow stays in LUT RAM on an ECP5 (a DP16KD ROM beyond it).
POINTER_LUT_RAM_DEPTH = 64
# Pointers fetched ahead of the address generator's register: with the two fetch stages in flight
# the fetch still streams one event per cycle while the generator takes one.
POINTER_FIFO_DEPTH = 4


def state_shape(plan: HardwarePlan) -> Shape:
    bits = plan.state_width
    return signed(bits) if plan.state_signed else unsigned(bits)


def _count_field(plan: HardwarePlan) -> dict:
    return {"count": unsigned(plan.spike_count_width)} if plan.spike_count_width else {}


def event_layout(plan: HardwarePlan) -> data.StructLayout:
    """A source id, and with multi-spike neurons the number of events it stands for."""
    return data.StructLayout({"source": unsigned(plan.source_width), **_count_field(plan)})


def spike_layout(plan: HardwarePlan) -> data.StructLayout:
    """A neuron id, and with multi-spike neurons its spike count (1..M)."""
    return data.StructLayout({"neuron": unsigned(plan.neuron_id_width), **_count_field(plan)})


def group_spike_layout(plan: HardwarePlan) -> data.StructLayout:
    """A group's spikes: with ordered events, each sweep ends with a ``last`` entry (no spike),
    so the merger knows that the group has no spike with a smaller id left."""
    if not plan.ordered_events:
        return spike_layout(plan)
    return data.StructLayout({**dict(spike_layout(plan).members), "last": unsigned(1)})


def lattice_shape(fmt: StateFormat) -> Shape:
    """The register shape of a lattice (semantics v2 gives the current its own)."""
    return signed(fmt.storage_bits) if fmt.signed else unsigned(fmt.bits)


def current_shape(plan: HardwarePlan) -> Shape | None:
    """Shape of a stored synaptic current, or None when the network has none."""
    dynamics = plan.network.dynamics
    if dynamics is None or dynamics.current is None:
        return None
    return lattice_shape(dynamics.current.state)


def any_of(signals):
    """The OR of `signals` (0 for none)."""
    result = 0
    for signal in signals:
        result = result | signal
    return result


def _pack(low: int, low_width: int, high: int, high_width: int) -> int:
    return (low & ((1 << low_width) - 1)) | ((high & ((1 << high_width) - 1)) << low_width)


class NeuronGroup(wiring.Component):
    """Ng neurons of one group: sparse synapse tables, accumulators, membrane states, two pipelines.

    **Accumulate pipeline** (one synapse per cycle once filled): an event's source id is looked up
    in the pointer table (start, count); an address generator walks the ``count`` synapses of that
    source in this group and moves to the next event without a bubble; each synapse
    ``(slot, weight)`` is added to ``accumulator[slot]`` by a read-modify-write over three cycles
    after the read (the sum is registered before it is written back), forwarding the sums of the
    three synapses before it when they went to the same slot, so back-to-back updates of one slot
    need no stall. There
    are two accumulator buffers (``accumulate_buffer`` selects the one written): while a sweep
    reads this step's sums from one, the next step's synapses already go into the other.
    Latency from an accepted event to its last accumulator write: count + 9 cycles.
    A *kernel group* (``plan.group_plans[index].convolution``) reads a position table instead of
    the pointer table and walks its event's window over the kernel (:meth:`_kernel_walker`):
    the same one update per cycle, one cycle more from idle.

    **Sweep pipeline** (one neuron per cycle): reads state, accumulator and bias of slot l (clearing
    the accumulator), then ``u + bias``, ``+ I``, overflow and threshold, and reset with the state
    write-back and the spike, one stage each. depth + 7 cycles for the whole group (its own
    neurons), when its spike queue holds every spike of a sweep; a smaller queue
    (:meth:`~snngen.hw.plan.HardwarePlan.sweep_waits_for_room`) makes the sweep wait, a neuron
    read only while the queue has room for the spike it may make.
    An *init* sweep instead writes every slot's initial state and clears its accumulator.

    Parameters
    ----------
    plan : HardwarePlan
    index : int
        The group number g; slot l holds neuron ``l·G + g``.
    checks : bool
        Add simulation assertions for invariants the design relies on (a spike queue that
        never overflows). Off for Verilog output, which stays plain synthesizable Verilog.

    Members
    -------
    events : In(stream.Signature(event_layout))
        Source ids whose synapses reach this group. Backpressure when the event queue is full.
    spikes : Out(stream.Signature(spike_layout))
        Neuron ids that spiked during the last sweep (a queue of Ng entries, never full; or of
        :meth:`~snngen.hw.plan.HardwarePlan.group_spike_queue_depth` entries, the sweep waiting
        for room).
    sweep, init : In(1)
        One-cycle pulses that start an update sweep or an init sweep (only while idle).
    accumulate_buffer, sweep_buffer : In(1)
        The accumulator buffer that synapses are added to, and the one a sweep reads and clears.
        Must differ while a sweep runs; ``accumulate_buffer`` may change only while no synapse is
        in flight.
    accumulating, sweeping : Out(1)
        Whether either pipeline still holds work.
    read_addr, read_en, read_data : port of the state memory, for the host, while idle
        ``read_data`` is valid two cycles after ``read_en``: the memory's output is registered
        in the group, beside its block RAM, before it crosses the chip to the host port.
    write_addr, write_data, write_en : port of the state memory, for the host, while idle
    load_addr, load_data, load_en : write port of the synapse table (``plan.runtime_weights`` only)
        Shares the table's one address with the synapse fetch (so yosys can map it to a
        single-port SPRAM): write only while no event is in flight.
    """

    def __init__(self, plan: HardwarePlan, index: int, *, checks: bool = False):
        if not isinstance(plan, HardwarePlan):
            raise TypeError(f"plan must be a HardwarePlan, not {plan!r}")
        if not 0 <= index < plan.groups:
            raise ValueError(f"index must be in 0..{plan.groups - 1}, not {index!r}")
        self._plan = plan
        self._index = index
        self._checks = bool(checks)
        slot = unsigned(plan.slot_width)
        load_ports = {}
        if plan.runtime_weights:
            load_ports = {
                "load_addr": In(plan.synapse_address_width),
                "load_data": In(plan.synapse_entry_width),
                "load_en": In(1),
            }
        super().__init__({
            **load_ports,
            "events": In(stream.Signature(event_layout(plan))),
            "spikes": Out(stream.Signature(group_spike_layout(plan))),
            "sweep": In(1),
            "init": In(1),
            "accumulate_buffer": In(1),
            "sweep_buffer": In(1),
            "accumulating": Out(1),
            "sweeping": Out(1),
            "read_addr": In(slot),
            "read_en": In(1),
            "read_data": Out(state_shape(plan)),
            "write_addr": In(slot),
            "write_data": In(state_shape(plan)),
            "write_en": In(1),
            **({} if current_shape(plan) is None else {"read_current": Out(current_shape(plan))}),
            **({"steps_done": In(plan.bias_delay_width)} if plan.bias_delay_width else {}),
        })
        group = plan.group_plans[index]
        bits = plan.state_width
        # Each group's memories hold its own neurons: a small layer's group is not padded to
        # the largest one's.
        depth = self._depth = group.depth
        self.state_memory = memory.Memory(
            shape=state_shape(plan), depth=depth,
            init=[int(v) for v in group.initial_state[:depth]])
        # Two accumulator buffers: while a sweep reads and clears one (this step's sums), the
        # other already collects the next step's synapses from the spikes the sweep emits.
        # `no_rw_check`: a read of the slot being written in the same cycle is never used (the
        # forwarding below takes the newer sum instead), so yosys need not build the bypass
        # that would emulate old-data reads on block RAM, which sat on the UP5K's slowest path.
        self.accumulator_memories = [
            memory.Memory(shape=unsigned(plan.accumulator_word_width) if plan.ordered_events
                          else signed(plan.group_accumulator_width(index)), depth=depth, init=[],
                          attrs={"no_rw_check": 1})
            for _ in range(2)
        ]
        # Initial state and bias per slot, and θ above them with per-neuron thresholds.
        constants = [_pack(int(v), bits, int(b), bits)
                     for v, b in zip(group.initial_state[:depth], group.bias[:depth], strict=True)]
        if plan.per_slot_thresholds:
            constants = [c | ((int(t) & ((1 << bits) - 1)) << (2 * bits))
                         for c, t in zip(constants, group.slot_thresholds[:depth], strict=True)]
        constants_width = (3 if plan.per_slot_thresholds else 2) * bits
        # Semantics v2: each per-neuron parameter that differs between the group's slots is
        # stored above the others; a uniform one is a constant of the logic (`_v2_constant`),
        # except a multiplicative decay's factor: as a constant yosys builds the product from
        # LUTs (the Loihi preset: 1,762 LUTs at 35.6 MHz on the UP5K) instead of SB_MAC16.
        self._v2_stored: dict[str, tuple[int, Shape]] = {}
        self._v2_constant: dict[str, int] = {}
        for name, values in _v2_parameters(plan, group).items():
            values = [int(v) for v in values[:depth]]
            if len(set(values)) == 1 and name not in plan.multiplied_decays:
                self._v2_constant[name] = values[0]
                continue
            shape = _v2_field_shape(plan, name, values)
            self._v2_stored[name] = (constants_width, shape)
            constants = [c | ((v & ((1 << shape.width) - 1)) << constants_width)
                         for c, v in zip(constants, values, strict=True)]
            constants_width += shape.width
        # A kernel group whose constants are the same across each output channel's positions
        # (a convolution's bias is per channel) stores them once per channel.
        self._constants_per_channel = block = group.constants_block
        if block:
            runs = [constants[first:first + block] for first in range(0, depth, block)]
            if any(len(set(run)) != 1 for run in runs):
                raise AssertionError("a kernel group's constants differ within a channel")
            constants = [run[0] for run in runs]
        self.constants_memory = memory.Memory(
            shape=unsigned(constants_width), depth=len(constants), init=constants)
        if current_shape(plan) is not None:
            self.current_memory = memory.Memory(
                shape=current_shape(plan), depth=depth,
                init=[int(v) for v in group.slot_fields["current_initial"][:depth]])
        if plan.refractory_width:
            self.refractory_memory = memory.Memory(
                shape=unsigned(plan.refractory_width), depth=depth, init=[])
        # A kernel group reads a position table instead, over the sources of its one layer.
        self._convolution = convolution = group.convolution
        self._pointer_first, self._pointer_depth = group.pointer_first, group.pointer_depth
        if convolution is None:
            span = group.pointers[self._pointer_first:self._pointer_first + self._pointer_depth]
            self._pointer_words = [_pack(int(s), plan.synapse_address_width, int(c),
                                         plan.count_width) for s, c in span]
            self._pointer_width = plan.pointer_width
        else:
            self._pointer_words = convolution.words()
            self._pointer_width = convolution.word_width
        # On an ECP5 a pointer table deeper than a few LUT RAMs is a DP16KD ROM read through its
        # output register, which takes the place of the fabric pointer register: the block RAM's
        # clock-to-output into that register had become the critical path (7.5 ns at G = 8).
        self.pointer_dp16kd = (plan.block_ram == "dp16kd"
                               and self._pointer_depth > POINTER_LUT_RAM_DEPTH
                               and dp16kd_rom_columns(self._pointer_width, self._pointer_depth)
                               is not None)
        self.pointer_memory = None if self.pointer_dp16kd else memory.Memory(
            shape=unsigned(self._pointer_width), depth=self._pointer_depth,
            init=self._pointer_words)
        # Runtime weights: no initial contents (SPRAM has none); the host loads the table.
        self.synapse_table = BankedTable(
            plan.group_word_width(index), plan.synapse_table_words(index),
            plan.synapse_bank_depth(index),
            init=None if plan.runtime_weights else plan.synapse_words(index),
            writable=plan.runtime_weights, name="synapse_memory", block_ram=plan.block_ram)

    def elaborate(self, platform):
        plan, net = self._plan, self._plan.network
        m = Module()
        m.submodules.state_memory = self.state_memory
        m.submodules.accumulator_memory0 = self.accumulator_memories[0]
        m.submodules.accumulator_memory1 = self.accumulator_memories[1]
        m.submodules.constants_memory = self.constants_memory
        if self.pointer_memory is not None:
            m.submodules.pointer_memory = self.pointer_memory
        m.submodules.synapse_table = synapse_table = self.synapse_table

        state_write = self.state_memory.write_port()
        state_read = self.state_memory.read_port()
        # In LUT RAM the host reads through a port of its own, for the same reason as the
        # accumulators' second port below: the sweep's read address then needs no multiplexer
        # (it had become the default network's critical path on an ECP5).
        host_read = self.state_memory.read_port() if plan.lut_ram_state else state_read
        acc_writes = [mem.write_port() for mem in self.accumulator_memories]
        acc_sweep_reads = [mem.read_port() for mem in self.accumulator_memories]
        # In LUT RAM a second read port costs a copy of the RAM but takes the multiplexer
        # between the sweep's and the synapses' addresses off the read-modify-write's path
        # (the default network's critical path on an ECP5). In block RAM the port is shared.
        acc_synapse_reads = ([mem.read_port() for mem in self.accumulator_memories]
                             if plan.lut_ram_state else acc_sweep_reads)
        constants_read = self.constants_memory.read_port()

        # ---- accumulate pipeline -------------------------------------------------------------
        count_width = plan.spike_count_width
        # A deep queue is LUT RAM on an ECP5 (its block RAM's clock-to-output would start the
        # pointer fetch's address path); the shallow one is left as it always was.
        deep_queue = plan.event_queue_depth > EVENT_QUEUE_DEPTH
        m.submodules.event_queue = event_queue = EventQueue(
            plan.source_width + count_width, plan.event_queue_depth,
            block_ram=plan.block_ram if deep_queue else "inferred")
        m.d.comb += [
            event_queue.w.payload.eq(self.events.payload.as_value() if count_width
                                     else self.events.payload.source),
            event_queue.w.valid.eq(self.events.valid),
            self.events.ready.eq(event_queue.w.ready),
        ]
        event_source = event_queue.r.payload[:plan.source_width] if count_width \
            else event_queue.r.payload

        address_width = plan.synapse_address_width
        # The pointer fetch never stalls. The pointer ROM is read every cycle at the event
        # queue's head (`fetched_valid` marks a read of a taken event) and its output register
        # always loads (`held_valid`; on an ECP5 the DP16KD's own, REGMODE OUTREG), so no stall
        # signal has to reach the block RAM's clock enables, which may sit far across the chip
        # (that route was the 1,024-neuron network's critical path). Every fetched pointer goes
        # into a small FIFO beside the address generator; an event is taken only while the FIFO
        # has room for every fetch in flight (credits), so nothing is dropped. The FIFO's head
        # moves into a register (`pointer_valid`, `pointer_start`, `pointer_count`) so that the
        # generator's adders start at a flip-flop, not at the FIFO's LUT RAM read. The stages
        # prefetch: the generator moves from one event's last synapse to the next event's first
        # without a bubble.
        fetched_valid = Signal()
        held_valid = Signal()
        pointer_valid = Signal()
        pointer_start = Signal(address_width)
        pointer_count = Signal(plan.count_width)
        consume_pointer = Signal()
        advance_pointer = Signal()
        take_event = Signal()
        m.d.sync += [fetched_valid.eq(take_event), held_valid.eq(fetched_valid)]
        convolution = self._convolution
        pointer_address = event_source
        if self._pointer_first or self._pointer_depth < plan.sources:
            # The table holds the sources that reach this group, from its first one.
            pointer_address = Signal(max(1, (self._pointer_depth - 1).bit_length()))
            m.d.comb += pointer_address.eq(event_source - self._pointer_first)
        if self.pointer_dp16kd:
            held_pointer = dp16kd_rom_registered(
                m, "pointer_memory", self._pointer_width, self._pointer_words,
                read_addr=pointer_address, read_en=C(1), output_en=C(1))
        else:
            pointer_read = self.pointer_memory.read_port()
            m.d.comb += pointer_read.addr.eq(pointer_address)
            held_pointer = Signal(self._pointer_width, reset_less=True)
            m.d.sync += held_pointer.eq(pointer_read.data)
        held_word = held_pointer
        if count_width:
            # A multi-spike event's count travels with its synapses: each adds count × weight.
            fetched_multiplicity = Signal(count_width)
            held_multiplicity = Signal(count_width)
            pointer_multiplicity = Signal(count_width)
            walk_multiplicity = Signal(count_width)
            issue_multiplicity = Signal(count_width)
            m.d.sync += [fetched_multiplicity.eq(event_queue.r.payload[plan.source_width:]),
                         held_multiplicity.eq(fetched_multiplicity)]
            held_word = Cat(held_pointer, held_multiplicity)
        m.submodules.pointer_fifo = pointer_fifo = fifo.SyncFIFO(
            width=len(held_word), depth=POINTER_FIFO_DEPTH)
        in_flight_fetches = pointer_fifo.level + fetched_valid + held_valid
        m.d.comb += [
            take_event.eq(event_queue.r.valid & (in_flight_fetches < POINTER_FIFO_DEPTH)),
            event_queue.r.ready.eq(take_event),
            pointer_fifo.w_data.eq(held_word),
            pointer_fifo.w_en.eq(held_valid),
            advance_pointer.eq(pointer_fifo.r_rdy & (~pointer_valid | consume_pointer)),
            pointer_fifo.r_en.eq(advance_pointer),
        ]
        m.d.sync += pointer_valid.eq(advance_pointer | (pointer_valid & ~consume_pointer))
        head = pointer_fifo.r_data
        dense = plan.group_plans[self._index].dense
        walking = Signal()
        issue_target = Signal(plan.slot_width)
        issue = Signal()
        issue_address = Signal(address_width)
        if convolution is None:
            with m.If(advance_pointer):
                m.d.sync += [pointer_start.eq(head[:address_width]),
                             pointer_count.eq(head[address_width:plan.pointer_width])]
                if count_width:
                    m.d.sync += pointer_multiplicity.eq(head[plan.pointer_width:])
            if count_width:
                with m.If(consume_pointer):
                    m.d.sync += walk_multiplicity.eq(pointer_multiplicity)

            next_address = Signal(address_width)
            # A dense table's entries are in slot order: the walker counts the target slot.
            next_target = Signal(plan.slot_width)
            remaining = Signal(plan.count_width)
            # `last`: remaining == 1, kept as a register so the hand-over to the next event does not
            # wait for a comparison.
            last = Signal()
            with m.If(walking):
                m.d.comb += [issue.eq(1), issue_address.eq(next_address),
                             issue_target.eq(next_target)]
                if count_width:
                    m.d.comb += issue_multiplicity.eq(walk_multiplicity)
                with m.If(last):
                    with m.If(pointer_valid):
                        m.d.comb += consume_pointer.eq(1)
                        m.d.sync += [next_address.eq(pointer_start), remaining.eq(pointer_count),
                                     last.eq(pointer_count == 1), next_target.eq(0)]
                    with m.Else():
                        m.d.sync += walking.eq(0)
                with m.Else():
                    m.d.sync += [next_address.eq(next_address + 1), remaining.eq(remaining - 1),
                                 last.eq(remaining == 2), next_target.eq(next_target + 1)]
            with m.Elif(pointer_valid):
                m.d.comb += [issue.eq(1), issue_address.eq(pointer_start), consume_pointer.eq(1),
                             issue_target.eq(0)]
                if count_width:
                    m.d.comb += issue_multiplicity.eq(pointer_multiplicity)
                m.d.sync += [
                    next_address.eq(pointer_start + 1),
                    remaining.eq(pointer_count - 1),
                    walking.eq(pointer_count > 1),
                    last.eq(pointer_count == 2),
                    next_target.eq(1),
                ]

        else:
            self._kernel_walker(m, head, pointer_valid, advance_pointer, consume_pointer, walking,
                                issue, issue_address, issue_target,
                                (pointer_multiplicity, walk_multiplicity, issue_multiplicity)
                                if count_width else None)

        # Packed entries: the word holding the entry, and the entry's lane in it.
        lane_bits = (plan.group_pack(self._index) - 1).bit_length()
        issue_word = issue_address[lane_bits:]
        if plan.runtime_weights:
            # One address for the read and the write port: a single-port RAM (SPRAM) for yosys.
            shared_address = Signal(len(synapse_table.read_addr))
            m.d.comb += [
                shared_address.eq(Mux(self.load_en, self.load_addr, issue_word)),
                synapse_table.read_addr.eq(shared_address),
                synapse_table.write_addr.eq(shared_address),
                # This group's words are the low bits of the load word.
                synapse_table.write_data.eq(
                    self.load_data[:plan.group_word_width(self._index)]),
                synapse_table.write_en.eq(self.load_en),
                # No read during a write: SPRAM has no defined read-during-write behaviour.
                synapse_table.read_en.eq(~self.load_en),
            ]
        else:
            m.d.comb += [synapse_table.read_addr.eq(issue_word), synapse_table.read_en.eq(1)]
        # What travels beside a synapse-table read, delayed by the table's read latency (a
        # banked table's output registers and multiplexer levels).
        read_latency = synapse_table.latency
        in_flight = []

        def beside_read(value, name):
            for stage in range(read_latency):
                delayed = Signal.like(value, name=f"synapse_{name}" if stage == read_latency - 1
                                      else f"table_{name}{stage}")
                m.d.sync += delayed.eq(value)
                value = delayed
                if name == "valid":
                    in_flight.append(delayed)
            return value

        synapse_valid = beside_read(issue, "valid")
        synapse_buffer = beside_read(self.accumulate_buffer, "buffer")
        # Beside each synapse on its way: its event's count, and with ordered events whether it
        # is an input's (the table holds the neurons' synapses first, then the inputs').
        carried = {}
        if lane_bits:
            carried["lane"] = issue_address[:lane_bits]
        if dense:
            carried["target"] = issue_target
        if count_width:
            carried["multiplicity"] = issue_multiplicity
        if plan.ordered_events:
            first_input_entry = int(
                plan.group_plans[self._index].pointers[:net.neurons, 1].sum())
            carried["from_input"] = issue_address >= first_input_entry
        synapse_side = {name: beside_read(value, name) for name, value in carried.items()}
        # The synapse is registered before it addresses the accumulator: block-RAM output
        # straight into the accumulator's address and bypass compare was the slowest path.
        entry = synapse_table.read_data
        if lane_bits:
            entry = entry.word_select(synapse_side["lane"], plan.group_entry_width(self._index))
        stored_weight = entry if dense else entry[plan.slot_width:]
        fetch_valid = Signal()
        fetch_buffer = Signal()
        target = Signal(plan.slot_width)
        shift = plan.group_plans[self._index].weight_shift
        weight_width = plan.group_weight_width(self._index) + shift
        weight = Signal(signed(weight_width))
        m.d.sync += [
            fetch_valid.eq(synapse_valid),
            fetch_buffer.eq(synapse_buffer),
            target.eq(synapse_side["target"] if dense else entry[:plan.slot_width]),
            weight.eq(stored_weight.as_signed() << shift if shift else stored_weight.as_signed()),
        ]
        fetch_side = {name: Signal.like(value, name=f"fetch_{name}")
                      for name, value in synapse_side.items()}
        m.d.sync += [fetch_side[name].eq(synapse_side[name]) for name in synapse_side]

        add_valid = Signal()
        add_buffer = Signal()
        add_slot = Signal(plan.slot_width)
        added = weight
        if count_width:
            # c equal events are one add of c·w (exact; and saturating, c adds of one sign
            # saturate as their sum does).
            weight_width += count_width + 1
            added = weight * fetch_side["multiplicity"]
        add_weight = Signal(signed(weight_width))
        m.d.sync += [
            add_valid.eq(fetch_valid),
            add_buffer.eq(fetch_buffer),
            add_slot.eq(target),
            add_weight.eq(added),
        ]
        add_from_input = Signal()
        if plan.ordered_events:
            m.d.sync += add_from_input.eq(fetch_side["from_input"])

        # ---- sweep pipeline -------------------------------------------------------------------
        sweep_active = Signal()
        sweep_init = Signal()
        sweep_slot = Signal(plan.slot_width)
        layout = plan.group_plans[self._index]
        id_width = max(plan.neuron_id_width,
                       (layout.base + (self._depth - 1) * layout.stride).bit_length())
        sweep_id = Signal(id_width)
        # `sweep_go`: the sweep reads slot `sweep_slot` this cycle. Always while active, unless
        # the group's spike queue is smaller than its neurons: then only while the queue has
        # room for every spike the slots read so far may still make (see below).
        sweep_go = sweep_active
        waits_for_room = plan.sweep_waits_for_room(self._index)
        if waits_for_room:
            sweep_go = Signal()
            room = Signal()
            m.d.comb += sweep_go.eq(sweep_active & room)
        with m.If((self.sweep | self.init) & ~sweep_active):
            m.d.sync += [
                sweep_active.eq(1),
                sweep_init.eq(self.init),
                sweep_slot.eq(0),
                sweep_id.eq(layout.base),
            ]
        with m.Elif(sweep_go):
            m.d.sync += [sweep_slot.eq(sweep_slot + 1), sweep_id.eq(sweep_id + layout.stride)]
            with m.If(sweep_slot == self._depth - 1):
                m.d.sync += sweep_active.eq(0)

        stage1_valid, stage1_init = Signal(), Signal()
        stage1_slot = Signal(plan.slot_width)
        stage1_id = Signal(id_width)
        m.d.sync += [
            stage1_valid.eq(sweep_go),
            stage1_init.eq(sweep_init),
            stage1_slot.eq(sweep_slot),
            stage1_id.eq(sweep_id),
        ]
        # Constants stored per output channel: the sweep counts the channel beside the slot.
        constants_slot, stage1_constants_slot = sweep_slot, stage1_slot
        if self._constants_per_channel:
            block = self._constants_per_channel
            sweep_channel = Signal(range(self.constants_memory.depth))
            sweep_position = Signal(range(block))
            constants_slot, stage1_constants_slot = sweep_channel, Signal.like(sweep_channel)
            m.d.sync += stage1_constants_slot.eq(sweep_channel)
            with m.If((self.sweep | self.init) & ~sweep_active):
                m.d.sync += [sweep_channel.eq(0), sweep_position.eq(0)]
            with m.Elif(sweep_go):
                with m.If(sweep_position == block - 1):
                    m.d.sync += [sweep_position.eq(0), sweep_channel.eq(sweep_channel + 1)]
                with m.Else():
                    m.d.sync += sweep_position.eq(sweep_position + 1)

        # Accumulator ports. The sweep reads and clears its buffer (an init sweep clears both);
        # the other buffer takes the synapses' read-modify-writes. The core never lets the two
        # use the same buffer at once.
        sweep_uses = sweep_active | stage1_valid
        # The read-modify-write takes three cycles after the read: the block RAM's output is
        # registered first (`loaded`), then added into a register (`last_sum`), then written
        # back. The write-back register keeps the adder's carry chain away from the RAM's
        # write data: adder, clear multiplexer and LUT RAM write in one cycle had set the
        # default network's clock on an ECP5. A read does not see the writes of the three
        # synapses just before it (one is written in the cycle of the read, two later), so the
        # adder takes their sums instead when they went to the same slot: the newest one first.
        # With that forwarding the read ports need no transparency, whose bypass comparator
        # sat on the slowest path.
        word_shape = unsigned(plan.accumulator_word_width) if plan.ordered_events \
            else signed(plan.accumulator_width)
        loaded = Signal(word_shape)
        write_valid, write_buffer = Signal(), Signal()
        write_slot = Signal(plan.slot_width)
        write_weight = Signal(signed(weight_width))
        m.d.sync += [
            loaded.eq(Mux(add_buffer, acc_synapse_reads[1].data, acc_synapse_reads[0].data)),
            write_valid.eq(add_valid),
            write_buffer.eq(add_buffer),
            write_slot.eq(add_slot),
            write_weight.eq(add_weight),
        ]
        # The entries one, two and three cycles ahead of the sum stage: `last` is being written
        # to the RAM, `older` and `oldest` were written in the two cycles before.
        last_valid, last_buffer, older_valid, older_buffer = Signal(), Signal(), Signal(), Signal()
        last_slot, older_slot = Signal(plan.slot_width), Signal(plan.slot_width)
        last_sum, older_sum, oldest_sum = (Signal(word_shape), Signal(word_shape),
                                           Signal(word_shape))
        new_sum = Signal(word_shape)
        # Which sum the adder takes (0 the RAM's, 1 the oldest, 2 the older, 3 the last),
        # decided a cycle early from the entries then in the pipeline, so the comparisons are
        # off the adder's path and it sees one 4-to-1 multiplexer.
        forward = Signal(2)

        def same_target(valid, buffer, slot):
            return valid & (slot == add_slot) & (buffer == add_buffer)

        m.d.sync += [
            forward.eq(Mux(same_target(write_valid, write_buffer, write_slot), 3,
                           Mux(same_target(last_valid, last_buffer, last_slot), 2,
                               Mux(same_target(older_valid, older_buffer, older_slot), 1, 0)))),
            last_valid.eq(write_valid),
            last_buffer.eq(write_buffer),
            last_slot.eq(write_slot),
            last_sum.eq(new_sum),
            older_valid.eq(last_valid),
            older_buffer.eq(last_buffer),
            older_slot.eq(last_slot),
            older_sum.eq(last_sum),
            oldest_sum.eq(older_sum),
        ]
        operand = Mux(forward[1], Mux(forward[0], last_sum, older_sum),
                      Mux(forward[0], oldest_sum, loaded))
        if plan.ordered_events:
            write_from_input = Signal()
            m.d.sync += write_from_input.eq(add_from_input)
            m.d.comb += new_sum.eq(append_saturating_add(plan, operand, write_weight,
                                                         write_from_input))
        else:
            m.d.comb += new_sum.eq(operand + write_weight)
        for b, acc_write in enumerate(acc_writes):
            sweep_read, synapse_read = acc_sweep_reads[b], acc_synapse_reads[b]
            if plan.lut_ram_state:
                m.d.comb += [sweep_read.addr.eq(sweep_slot), sweep_read.en.eq(1),
                             synapse_read.addr.eq(target), synapse_read.en.eq(1)]
            else:
                with m.If(sweep_uses & (self.sweep_buffer == b)):
                    m.d.comb += [sweep_read.addr.eq(sweep_slot), sweep_read.en.eq(1)]
                with m.Else():
                    m.d.comb += [sweep_read.addr.eq(target), sweep_read.en.eq(1)]
            # Which write each buffer takes, decided a cycle ahead so that only the write
            # enable's address decode lies between a register and the RAM (the buffer compare
            # there had set the default network's clock on an ECP5). The sweep buffer holds
            # still from the sweep's first slot until its pipeline drains.
            clear_buffer, synapse_write = Signal(name=f"clear_buffer{b}"), \
                Signal(name=f"synapse_write{b}")
            m.d.sync += [
                clear_buffer.eq(sweep_go & ((self.sweep_buffer == b) | sweep_init)),
                synapse_write.eq(write_valid & (write_buffer == b)),
            ]
            with m.If(clear_buffer):
                m.d.comb += [acc_write.addr.eq(stage1_slot), acc_write.data.eq(0),
                             acc_write.en.eq(1)]
            with m.Else():
                m.d.comb += [
                    acc_write.addr.eq(last_slot),
                    acc_write.data.eq(last_sum),
                    acc_write.en.eq(synapse_write),
                ]
        swept_sum = Mux(self.sweep_buffer, acc_sweep_reads[1].data, acc_sweep_reads[0].data)
        # On an ECP5 with small groups the constants are a ROM in logic (LUTs and multiplexers,
        # four levels for 128 slots). Read a cycle later, from the stage-1 copy of the slot, its
        # registered output takes the place of the stage-1b registers: the ROM's logic then
        # starts at a plain register, not behind the sweep counter's adder (with the ROM placed
        # far from the counter that was the 1,024-neuron network's critical path, 9.1 ns).
        late_constants = net.dynamics is None and plan.lut_ram_state
        m.d.comb += [constants_read.addr.eq(stage1_constants_slot if late_constants
                                            else constants_slot),
                     constants_read.en.eq(1)]

        stage1 = (stage1_valid, stage1_init, stage1_slot, stage1_id)
        if net.dynamics is None:
            update = self._update_v1(m, stage1, id_width, state_read, constants_read, swept_sum,
                                     late_constants=late_constants)
        else:
            update = self._update_v2(m, stage1, state_read, constants_read, swept_sum,
                                     sweep_active, sweep_slot)
        (out_valid, out_init, out_slot, out_id, after_reset, fired, spike_count,
         update_stages) = update
        # State port: the sweep owns it while active; the host reads and writes it while idle.
        if host_read is not state_read:
            m.d.comb += [state_read.addr.eq(sweep_slot), state_read.en.eq(1),
                         host_read.addr.eq(self.read_addr), host_read.en.eq(self.read_en)]
        else:
            with m.If(sweep_active):
                m.d.comb += [state_read.addr.eq(sweep_slot), state_read.en.eq(1)]
            with m.Else():
                m.d.comb += [state_read.addr.eq(self.read_addr), state_read.en.eq(self.read_en)]
        m.d.sync += self.read_data.eq(host_read.data)
        with m.If(out_valid):
            m.d.comb += [
                state_write.addr.eq(out_slot),
                state_write.data.eq(after_reset),
                state_write.en.eq(1),
            ]
        with m.Else():
            m.d.comb += [
                state_write.addr.eq(self.write_addr),
                state_write.data.eq(self.write_data),
                state_write.en.eq(self.write_en),
            ]

        # A sweep queues at most Ng spikes (and with ordered events its `last` entry), one per
        # cycle, into a queue the core has drained before the sweep began; the queue holds
        # Ng + 1 (Ng + 2), so it is never full here: no spike is ever lost, with no
        # backpressure needed on the sweep. A queue of fewer entries than Ng
        # (HardwarePlan.spike_queue_depth) is kept from overflowing by the sweep instead: it
        # counts the entries it has promised (slots read and not yet resolved, and spikes in
        # the queue) and reads a slot only while fewer than the queue's depth are promised.
        queue_depth = plan.group_spike_queue_depth(self._index)
        spike_fields = group_spike_layout(plan)
        # On an ECP5 a queue deeper than LUT RAM is block RAM: its output is registered before
        # the merger (its clock-to-output into the merger and the output skid had set a
        # 4,096-neuron group's clock at 77 MHz).
        spike_queue_options = {}
        if plan.block_ram == "dp16kd" and self._depth > SMALL_QUEUE_DEPTH:
            spike_queue_options = {"registered_output": True, "block_ram": plan.block_ram}
        if len(spike_fields.members) == 1:
            m.submodules.spike_queue = spike_queue = EventQueue(
                plan.neuron_id_width, queue_depth, **spike_queue_options)
            m.d.comb += [
                spike_queue.w.payload.eq(out_id),
                spike_queue.w.valid.eq(out_valid & fired),
                self.spikes.payload.neuron.eq(spike_queue.r.payload),
            ]
        else:
            m.submodules.spike_queue = spike_queue = EventQueue(
                spike_fields.size, queue_depth, **spike_queue_options)
            entry = Signal(spike_fields)
            m.d.comb += [entry.neuron.eq(out_id), spike_queue.w.valid.eq(out_valid & fired)]
            if plan.spike_count_width:
                m.d.comb += entry.count.eq(spike_count)
            if plan.ordered_events:
                # The entry after a sweep's last slot: this group has nothing smaller left.
                last_due = Signal()
                m.d.sync += last_due.eq(out_valid & ~out_init & (out_slot == self._depth - 1))
                with m.If(last_due):
                    m.d.comb += [entry.neuron.eq(0), entry.last.eq(1),
                                 spike_queue.w.valid.eq(1)]
            m.d.comb += [
                spike_queue.w.payload.eq(entry.as_value()),
                self.spikes.payload.eq(spike_queue.r.payload),
            ]
        if self._checks:
            m.d.comb += [
                Assert(~(spike_queue.w.valid & ~spike_queue.w.ready), "spike queue overflow"),
                Assert(~(pointer_fifo.w_en & ~pointer_fifo.w_rdy), "pointer FIFO overflow"),
            ]
        m.d.comb += [
            self.spikes.valid.eq(spike_queue.r.valid),
            spike_queue.r.ready.eq(self.spikes.ready),
        ]
        if waits_for_room:
            # The `last` marker of ordered events has its own entry (queue_depth counts it),
            # so only neuron entries are promised. A promise is returned when its slot made no
            # spike or its spike left the queue, a cycle late (registered, so that neither the
            # merger's ready nor the update's spike lies on the counter's path; the count only
            # overstates what is promised, never understates it). Room is a comparison of a
            # register with a constant: one promise at most is added per cycle.
            promise_limit = queue_depth - plan.ordered_events
            promised = Signal(range(promise_limit + 1))
            returned = Signal(range(3))
            popped = spike_queue.r.valid & spike_queue.r.ready
            if plan.ordered_events:
                popped = popped & ~data.View(spike_fields, spike_queue.r.payload).last
            m.d.comb += room.eq(promised < promise_limit)
            m.d.sync += [returned.eq((out_valid & ~fired) + popped),
                         promised.eq(promised + sweep_go - returned)]

        sweep_busy = sweep_active | stage1_valid
        for stage_valid in update_stages:
            sweep_busy = sweep_busy | stage_valid
        m.d.comb += [
            self.accumulating.eq(event_queue.busy | fetched_valid | held_valid | pointer_fifo.r_rdy
                                 | pointer_valid | walking | any_of(in_flight) | fetch_valid
                                 | add_valid | write_valid | last_valid),
            self.sweeping.eq(sweep_busy | spike_queue.busy),
        ]
        return m

    def _kernel_walker(self, m, head, pointer_valid, advance_pointer, consume_pointer, walking,
                       issue, issue_address, issue_target, multiplicity):
        """The address generator of a kernel group: each event's window, one update a cycle.

        The position word of the event's source gives the kernel address and slot of its
        window's first update and its rows and columns; the walk goes over output channels,
        rows and columns, adding :class:`~snngen.hw.plan.ConvolutionPlan`'s constant steps to
        registers (one adder deep per cycle). An event's last update hands over to the next
        event's position word, loaded a cycle earlier, without a bubble; from idle the load
        takes one cycle.
        """
        plan, convolution = self._plan, self._convolution
        address_width, slot_width = plan.synapse_address_width, plan.slot_width
        row_width, column_width = convolution.row_width, convolution.column_width
        start_kernel = Signal(convolution.kernel_address_width)
        start_slot = Signal(convolution.slot_address_width)
        start_rows = Signal(row_width)
        start_columns = Signal(column_width)
        with m.If(advance_pointer):
            fields = [start_kernel, start_slot, start_rows, start_columns]
            m.d.sync += Cat(*fields).eq(head[:sum(len(f) for f in fields)])
            if multiplicity is not None:
                m.d.sync += multiplicity[0].eq(head[self._pointer_width:])
        if multiplicity is not None:
            with m.If(consume_pointer):
                m.d.sync += multiplicity[1].eq(multiplicity[0])
            m.d.comb += multiplicity[2].eq(multiplicity[1])

        kernel_address, kernel_row, kernel_channel = (Signal(address_width, name=n) for n in (
            "kernel_address", "kernel_row", "kernel_channel"))
        slot, slot_row, slot_channel = (Signal(slot_width, name=n) for n in (
            "kernel_slot", "kernel_slot_row", "kernel_slot_channel"))
        column, last_column = Signal(column_width), Signal(column_width)
        row, last_row = Signal(row_width), Signal(row_width)
        channel = Signal(convolution.channel_width)
        column_done = column == last_column
        row_done = row == last_row
        channel_done = channel == convolution.out_channels - 1
        m.d.comb += [issue.eq(walking), issue_address.eq(kernel_address), issue_target.eq(slot)]

        def wrapped(value, width):
            return value[:width]

        with m.If(~walking | (column_done & row_done & channel_done)):
            with m.If(pointer_valid):
                m.d.comb += consume_pointer.eq(1)
                m.d.sync += [walking.eq(1),
                             kernel_address.eq(start_kernel), kernel_row.eq(start_kernel),
                             kernel_channel.eq(start_kernel),
                             slot.eq(start_slot), slot_row.eq(start_slot),
                             slot_channel.eq(start_slot),
                             column.eq(0), row.eq(0), channel.eq(0),
                             last_column.eq(start_columns), last_row.eq(start_rows)]
            with m.Else():
                m.d.sync += walking.eq(0)
        with m.Elif(~column_done):
            m.d.sync += [
                kernel_address.eq(wrapped(kernel_address + convolution.kernel_column,
                                          address_width)),
                slot.eq(wrapped(slot - convolution.slot_column, slot_width)),
                column.eq(column + 1),
            ]
        with m.Elif(~row_done):
            next_kernel = wrapped(kernel_row + convolution.kernel_row, address_width)
            next_slot = wrapped(slot_row - convolution.slot_row, slot_width)
            m.d.sync += [kernel_address.eq(next_kernel), kernel_row.eq(next_kernel),
                         slot.eq(next_slot), slot_row.eq(next_slot),
                         column.eq(0), row.eq(row + 1)]
        with m.Else():
            next_kernel = wrapped(kernel_channel + convolution.kernel_channel, address_width)
            next_slot = wrapped(slot_channel + convolution.slot_channel, slot_width)
            m.d.sync += [kernel_address.eq(next_kernel), kernel_row.eq(next_kernel),
                         kernel_channel.eq(next_kernel),
                         slot.eq(next_slot), slot_row.eq(next_slot), slot_channel.eq(next_slot),
                         column.eq(0), row.eq(0), channel.eq(channel + 1)]

    def _update_v1(self, m, stage1, id_width, state_read, constants_read, swept_sum, *,
                   late_constants: bool):
        """The semantics-v1 update after the reads: returns the write-back stage's (valid, slot,
        neuron id), the new state, the spike, and the stages' valid flags. With
        `late_constants` the constants were read a cycle after the others, so their read port's
        output is already the stage-1b value."""
        plan, net = self._plan, self._plan.network
        stage1_valid, stage1_init, stage1_slot, stage1_id = stage1
        bits = plan.state_width
        shape = state_shape(plan)
        previous = state_read.data
        leak = net.neuron.leak_shift
        initial_value = constants_read.data[:bits]
        bias = constants_read.data[bits:2 * bits]
        if plan.state_signed:
            initial_value, bias = initial_value.as_signed(), bias.as_signed()
        # Stages after the reads, one adder or comparison deep each, for Fmax:
        #   stage 1b: the memory outputs, registered;
        #   stage 2: u + bias (the leak's subtractor and one adder); the accumulator is carried;
        #   stage 3: + I;  stage 4: overflow, and the threshold compared on the sum itself
        #   (for saturate, clamp(x) ≥ θ ⟺ x ≥ θ because L < 1 ≤ θ ≤ H; wrap is a bit slice);
        #   stage 5: reset, state write-back and spike.
        partial = Signal(signed(plan.sum_width))
        carried = Signal(signed(plan.accumulator_width))
        total = Signal(signed(plan.sum_width))
        # The three block-RAM outputs are registered before any arithmetic (stage 1b).
        raw_previous = Signal.like(previous)
        raw_initial = Signal.like(initial_value)
        raw_bias = Signal.like(bias)
        raw_sum = Signal(signed(plan.accumulator_width))
        m.d.sync += [raw_previous.eq(previous), raw_sum.eq(swept_sum)]
        constants_domain = m.d.comb if late_constants else m.d.sync
        constants_domain += [raw_initial.eq(initial_value), raw_bias.eq(bias)]
        leaked = raw_previous if leak is None else raw_previous - (raw_previous >> leak)
        stages = [(stage1_valid, stage1_init, stage1_slot, stage1_id)]
        for _ in range(4):
            valid, init, slot, ident = (Signal(), Signal(), Signal(plan.slot_width),
                                        Signal(id_width))
            previous_stage = stages[-1]
            m.d.sync += [valid.eq(previous_stage[0]), init.eq(previous_stage[1]),
                         slot.eq(previous_stage[2]), ident.eq(previous_stage[3])]
            stages.append((valid, init, slot, ident))
        (stage1b_valid, stage1b_init, _, _), (stage2_valid, _, _, _) = stages[1:3]
        (stage3_valid, stage3_init, _, _), (stage4_valid, stage4_init, stage4_slot,
                                            stage4_id) = stages[3:5]
        m.d.sync += [
            partial.eq(Mux(stage1b_init, raw_initial, leaked + raw_bias)),
            carried.eq(Mux(stage1b_init, 0, raw_sum)),
            total.eq(partial + carried),
        ]

        lo, hi = net.state.min, net.state.max
        if plan.per_slot_thresholds:
            # θ read with the other constants, delayed to meet the sum (stage 3) for the
            # comparison, and the bounded value (stage 4) for a subtractive reset.
            raw_threshold = Signal(shape)
            threshold_stage2, threshold_total, threshold_bounded = (
                Signal(shape), Signal(shape), Signal(shape))
            constants_domain += raw_threshold.eq(constants_read.data[2 * bits:])
            m.d.sync += [threshold_stage2.eq(raw_threshold),
                         threshold_total.eq(threshold_stage2),
                         threshold_bounded.eq(threshold_total)]
            threshold, reset_threshold = threshold_total, threshold_bounded
        else:
            threshold = reset_threshold = plan.group_plans[self._index].threshold
        bounded = Signal(shape)
        fired = Signal()
        if net.state.overflow is Overflow.SATURATE:
            with m.If(total < lo):
                m.d.sync += bounded.eq(lo)
            with m.Elif(total > hi):
                m.d.sync += bounded.eq(hi)
            with m.Else():
                m.d.sync += bounded.eq(total[:bits])
            m.d.sync += fired.eq((total >= threshold) & ~stage3_init)
        else:
            wrapped = total[:bits].as_signed() if plan.state_signed else total[:bits]
            m.d.sync += [bounded.eq(wrapped), fired.eq((wrapped >= threshold) & ~stage3_init)]
        after_reset = Signal(shape)
        if net.neuron.reset is Reset.ZERO:
            m.d.comb += after_reset.eq(Mux(fired, net.neuron.reset_value, bounded))
        elif net.neuron.reset is Reset.SUBTRACT:
            m.d.comb += after_reset.eq(Mux(fired, bounded - reset_threshold, bounded))
        else:
            m.d.comb += after_reset.eq(bounded)

        return (stage4_valid, stage4_init, stage4_slot, stage4_id, after_reset, fired, fired,
                [stage1b_valid, stage2_valid, stage3_valid, stage4_valid])


    def _update_v2(self, m, stage1, state_read, constants_read, swept_sum, sweep_active,
                   sweep_slot):
        """The semantics-v2 update after the reads (docs/semantics.md, "Semantics v2").

        One adder, comparison, multiplier or shifter deep per stage: the raw reads registered;
        the decays' shift or product; their subtraction or rounding; the current's sum and
        overflow (and, add-then-decay, its decay after them); the membrane's three sums; the
        compare. The last stage writes v, I and the refractory counter back and queues the spike.
        """
        plan, net = self._plan, self._plan.network
        dynamics = net.dynamics
        current = dynamics.current
        stage1_valid, stage1_init, stage1_slot, stage1_id = stage1
        bits = plan.state_width
        constants = constants_read.data
        initial_value, bias = constants[:bits], constants[bits:2 * bits]
        if plan.state_signed:
            initial_value, bias = initial_value.as_signed(), bias.as_signed()

        def parameter(name):
            if name in self._v2_constant:
                return self._v2_constant[name]
            offset, shape = self._v2_stored[name]
            field = constants[offset:offset + shape.width]
            return field.as_signed() if shape.signed else field

        values = {"valid": stage1_valid, "init": stage1_init, "slot": stage1_slot,
                  "id": stage1_id, "v": state_read.data, "initial_v": initial_value,
                  "bias": bias}
        if plan.ordered_events:
            layout = ordered_accumulator_layout(plan)
            word = data.View(layout, swept_sum)
            values.update({name: word[name] for name, _ in layout})
        else:
            values["acc"] = swept_sum
        if plan.per_slot_thresholds:
            values["theta"] = constants[2 * bits:3 * bits].as_signed() if plan.state_signed \
                else constants[2 * bits:3 * bits]
        stored = {name: parameter(name) for name in self._v2_stored}
        values.update(stored)

        # The current's and the refractory counter's memories: the sweep reads slot l with v and
        # writes it back in the last stage; the host reads the current while idle.
        current_write = refractory_write = None
        if current is not None:
            m.submodules.current_memory = self.current_memory
            current_read = self.current_memory.read_port()
            current_write = self.current_memory.write_port()
            with m.If(sweep_active):
                m.d.comb += [current_read.addr.eq(sweep_slot), current_read.en.eq(1)]
            with m.Else():
                m.d.comb += [current_read.addr.eq(self.read_addr), current_read.en.eq(self.read_en)]
            m.d.sync += self.read_current.eq(current_read.data)
            values["i"] = current_read.data
        if plan.refractory_width:
            m.submodules.refractory_memory = self.refractory_memory
            refractory_read = self.refractory_memory.read_port()
            refractory_write = self.refractory_memory.write_port()
            m.d.comb += [refractory_read.addr.eq(sweep_slot), refractory_read.en.eq(1)]
            values["r"] = refractory_read.data

        steps_done = self.steps_done if plan.bias_delay_width else None
        out = v2_datapath(m, plan, self._index, values, self._v2_constant, set(stored),
                          steps_done)
        after_reset, fired, pipe = out["v"], out["fire"], out["stages"]
        if plan.sweep_latency != len(pipe.valids) + 3:
            raise AssertionError("the v2 update pipeline and HardwarePlan.sweep_latency disagree")
        valid, slot = pipe["valid"], pipe["slot"]
        if current_write is not None:
            m.d.comb += [current_write.addr.eq(slot), current_write.data.eq(out["i"]),
                         current_write.en.eq(valid)]
        if refractory_write is not None:
            m.d.comb += [refractory_write.addr.eq(slot), refractory_write.data.eq(out["r"]),
                         refractory_write.en.eq(valid)]
        return (valid, pipe["init"], slot, pipe["id"], after_reset, fired, out["count"],
                pipe.valids)


def ordered_accumulator_layout(plan: HardwarePlan) -> data.StructLayout:
    """An accumulator entry with ordered events: the compositions of a step's saturating adds
    (:func:`~snngen.hw.plan.compose_saturating_add`), the inputs' and the spikes' apart."""
    bound = unsigned(plan.current_span.bit_length())
    total = signed(plan.current_span.bit_length() + 1)
    fields = {}
    for kind in ("inputs", "spikes"):
        fields.update({f"{kind}_total": total, f"{kind}_low": bound, f"{kind}_high": bound})
    return data.StructLayout(fields)


def append_saturating_add(plan: HardwarePlan, word, weight, from_input):
    """The accumulator entry `word` with one more saturating add of `weight` to the inputs'
    (`from_input`) or the spikes' composition."""
    span = plan.current_span
    before = data.View(ordered_accumulator_layout(plan), word)
    fields = []
    for kind, chosen in (("inputs", from_input), ("spikes", ~from_input)):
        total, low, high = (before[f"{kind}_{name}"] for name in ("total", "low", "high"))
        raised, lowered, summed = low + weight, high - weight, total + weight
        # A total beyond ±(H − L) pins every x of the lattice to one bound, as ±(H − L) does:
        # clamped there it needs log2(H − L) + 1 bits, not the exact sum's width.
        fields += [
            Mux(chosen, Mux(summed < -span, -span, Mux(summed > span, span, summed)),
                total)[:len(total)],
            Mux(chosen, Mux(raised < 0, 0, Mux(raised > span, span, raised)), low)[:len(low)],
            Mux(chosen, Mux(lowered < 0, 0, Mux(lowered > span, span, lowered)),
                high)[:len(high)],
        ]
    return Cat(*fields)


def _v2_parameters(plan: HardwarePlan, group) -> dict[str, list[int]]:
    """A group's semantics-v2 parameters per slot, as the update logic uses them: a decay's k,
    or for a multiplicative decay the factor 4096 − d."""
    dynamics = plan.network.dynamics
    if dynamics is None:
        return {}
    fields = group.slot_fields
    result = {}
    modes = {"membrane_decay": dynamics.membrane_decay}
    if dynamics.current is not None:
        modes["current_decay"] = dynamics.current.decay
        result["current_initial"] = list(fields["current_initial"])
        if dynamics.current.bias.any():
            result["current_bias"] = list(fields["current_bias"])
    for name, mode in modes.items():
        if mode is Decay.MULTIPLY:
            result[name] = [DECAY_UNITY - int(d) for d in fields[name]]
        elif mode is not Decay.NONE:
            result[name] = list(fields[name])
    if plan.refractory_width:
        result["refractory"] = list(fields["refractory"])
    if plan.max_spikes > 1:
        result["max_spikes"] = list(fields["max_spikes"])
    if plan.bias_delay_width:
        result["bias_delay"] = list(fields["bias_delay"])
    return result


def _v2_field_shape(plan: HardwarePlan, name: str, values: list[int]) -> Shape:
    if name in ("current_initial", "current_bias"):
        return current_shape(plan)
    return unsigned(max(1, max(values).bit_length()))

