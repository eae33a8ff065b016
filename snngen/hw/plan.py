"""The hardware plan: everything the generator derives from a :class:`~snngen.model.network.Network`.

A plan fixes the partition into neuron groups, the sparse synapse tables each group stores, every
bit width, and the cycle-count model. The Amaranth components, the manifest and the testbenches all
read the plan, so none of them recomputes a width on its own.

Partition: a network without layers is one *segment*: neuron i lives in group ``i % G`` at local
address ``i // G`` (neighbouring neurons in different groups, which spreads a step's work). A
network with layers (format version 2) gets layer-pure groups: each layer ℓ is a segment with its
own G_ℓ ≥ 1 groups (the G groups shared in proportion to each layer's synapses), interleaved the
same way inside the layer, so a group's synapse table holds only its layer's weights, at the
layer's width, and its threshold is the layer's. In every case group g's slot l holds neuron
``base_g + l·stride_g``. A group's memories and sweep are as deep as its own neurons
(:attr:`GroupPlan.depth`); slot ids are as wide as the largest group's (Ng). A convolution layer
that qualifies (:func:`convolution_layers`) is one group that stores its kernel
(:class:`ConvolutionPlan`) instead of its synapse list.

Sources: an event's source id is a neuron id ``j`` (0..N−1) or ``N + c`` for input channel c.
For each group the synapses are stored by source (compressed sparse rows): ``pointers[src]`` gives
``(start, count)`` into ``synapses``, whose entries are ``(local target, weight)``. Only non-zero
synapses are stored, so weight memory follows the number of synapses, not N².
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..errors import InputError
from ..model.network import Accumulate, Decay, Network, Overflow
from ..model.structure import Conv2d, Projection, SumPool2d, _window_moves

__all__ = ["ConvolutionPlan", "GroupPlan", "HardwarePlan", "bits_for_range", "block_ram_for",
           "check_block_ram", "compose_saturating_add", "convolution_layers", "plan_hardware",
           "spike_queue_depth_for"]

MAX_GROUPS = 1024

#: On an ECP5, groups of at most this many slots keep their accumulators and membrane states in
#: LUT RAM (:attr:`HardwarePlan.lut_ram_state`): a read multiplexer of 8 LUT RAMs deep.
LUT_RAM_SLOTS = 128

#: Events a group's queue holds: deep enough that the router rarely waits on one group while
#: another drains a long fan-out list.
EVENT_QUEUE_DEPTH = 8
#: The same in a network with kernel groups, whose layers each take a comparable share of a
#: step's work: a queue this deep (still LUT RAM on an ECP5) lets the router hand a layer its
#: events while another layer's group is busy, so the layers work at once (the N-MNIST CNN's 25
#: steps: 640,784 cycles with 8 entries, 374,977 with 256).
PIPELINED_EVENT_QUEUE_DEPTH = 256

#: A group's spike queue on an iCE40 (:func:`spike_queue_depth_for`): one SB_RAM40_4K of
#: 16-bit ids. A 2,048-neuron group's spike queue would otherwise take 6 of an UP5K's 30.
ICE40_SPIKE_QUEUE_DEPTH = 256

#: The most group spike queues one merger picks among in a cycle. More groups are merged in two
#: levels (:attr:`HardwarePlan.merge_clusters`): a priority pick across 32 queues, whose ready
#: fanned back into every queue's flags, was the slowest path of a 32-group core.
MERGE_FANIN = 8


def bits_for_range(lo: int, hi: int) -> tuple[int, bool]:
    """(width, signed) of the smallest shape holding every integer in lo..hi."""
    if lo >= 0:
        return max(1, hi.bit_length()), False
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1, True


def _width(count: int) -> int:
    """Bits for an index 0..count−1 (at least 1)."""
    return max(1, (count - 1).bit_length())


@dataclasses.dataclass(frozen=True, eq=False)
class GroupPlan:
    """One neuron group's memories.

    Members
    -------
    index : int
        g.
    pointers : ndarray, shape (N + K, 2)
        ``(start, count)`` of each source's synapses in this group (count 0: none).
    synapses : ndarray, shape (S_g, 2)
        ``(local target, weight)``, sorted by source then target.
    initial_state, bias : ndarray, shape (Ng,)
        Per slot; padding slots are 0.
    members : ndarray, shape (≤ Ng,)
        The neuron of each occupied slot: ``base + slot·stride``.
    base, stride : int
        Slot l holds neuron ``base + l·stride``.
    threshold : int
        θ of every neuron of the group (its layer's); with per-neuron thresholds, the first
        member's.
    slot_thresholds : ndarray, shape (Ng,)
        θ per slot (padding slots: :attr:`threshold`); the hardware stores it when
        :attr:`HardwarePlan.per_slot_thresholds`.
    slot_fields : dict of str to ndarray, shape (Ng,)
        Semantics v2 only: the per-neuron parameters of each slot (``membrane_decay``,
        ``current_decay``, ``current_initial``, ``current_bias``, ``refractory``,
        ``bias_delay``). Padding slots take the first member's decay, refractory and delay
        values (so a uniform group stays uniform) and a zero initial current and current bias
        (so they stay at rest). The group stores a field per slot only when
        its values differ; otherwise it is a constant of the group's logic.
    dense : bool
        The table stores weights by position, without target slots: every source that reaches
        the group has one entry per occupied slot, in slot order (a missing synapse is a zero
        weight), and the address generator counts the target slot (:data:`DENSE_FILL`).
    accumulator_width : int
        Signed bits of the group's accumulator memories: what its own neurons' largest partial
        sum needs (at most :attr:`HardwarePlan.accumulator_width`, the widest group's; a
        convolution's few taps need fewer bits than the dense layer after it).
    pointer_first, pointer_depth : int
        The sources the group's pointer table (or a kernel group's position table) holds a word
        for: ``pointer_first`` .. ``pointer_first + pointer_depth − 1``, every source that
        reaches the group (a layer's group listens to the layer before it, not to every
        neuron); the table is read at the source id less ``pointer_first``.
    weight_shift : int
        Semantics v2: the left shift every weight into this group shares (its neurons' weight
        and input weight shifts are all equal). :attr:`synapses` then holds the weights
        unshifted and the group shifts them on the way to the accumulator; with shifts that
        differ, :attr:`synapses` holds each weight already shifted and this is 0.
    """

    index: int
    pointers: np.ndarray
    synapses: np.ndarray
    initial_state: np.ndarray
    bias: np.ndarray
    members: np.ndarray = None  # type: ignore[assignment]
    base: int = 0
    stride: int = 1
    threshold: int = 1
    slot_thresholds: np.ndarray = None  # type: ignore[assignment]
    slot_fields: dict = dataclasses.field(default_factory=dict)
    weight_shift: int = 0
    dense: bool = False
    convolution: ConvolutionPlan | None = None
    pointer_first: int = 0
    pointer_depth: int = 0
    accumulator_width: int = 0

    @property
    def synapse_count(self) -> int:
        return self.synapses.shape[0]

    @property
    def constants_block(self) -> int:
        """Slots that share one word of the constants memory: a kernel group whose initial
        state, bias, θ and semantics-v2 parameters are the same across each output channel's
        positions (a convolution's bias is per channel) stores them once per channel, and this
        is OH·OW; otherwise 0 (one word per slot)."""
        convolution = self.convolution
        if convolution is None or self.depth <= convolution.slot_channel:
            return 0
        block = convolution.slot_channel
        for values in (self.initial_state, self.bias, self.slot_thresholds,
                       *self.slot_fields.values()):
            runs = np.asarray(values[:self.depth]).reshape(-1, block)
            if (runs != runs[:, :1]).any():
                return 0
        return block

    @property
    def constants_depth(self) -> int:
        """Words of the group's constants memory (:attr:`constants_block`)."""
        return self.depth // self.constants_block if self.constants_block else self.depth

    @property
    def depth(self) -> int:
        """Slots the group's memories hold and its sweep visits: its own neurons (every group
        shares :attr:`HardwarePlan.slot_width`, the largest group's)."""
        return len(self.members)


@dataclasses.dataclass(frozen=True, eq=False)
class ConvolutionPlan:
    """A group that holds one convolution layer by its kernels (weight sharing).

    The group's synapse table is the layer's kernel, weights by position in the order
    ``(output channel, input channel of its convolution group, ky, kx)``, without target slots;
    slot l holds the layer's neuron l (channel-major, ``(c·OH + oy)·OW + ox``). A position table,
    read by the event's source id less :attr:`source_base`, gives each source where its window
    starts; the address generator then walks output channels, rows and columns, adding constant
    steps to the kernel address and the slot. docs/architecture.md ("Networks with convolution layers").

    Members
    -------
    source_base : int
        The first source id of the source segment (a layer's first neuron, or N for the input).
    positions : ndarray, shape (source segment size, 4)
        Per source: ``(kernel address, slot, rows − 1, columns − 1)`` of its window's first
        update (output channel 0 of its convolution group, first valid row and column); all
        −1 for a source that reaches no output (its word is 0; the router sends it no event).
    out_channels : int
        Output channels per convolution group: the channel loop's length.
    kernel_column, slot_column, kernel_row, slot_row, kernel_channel, slot_channel : int
        What one step of the column, row and channel loop adds to the kernel address and
        subtracts from (column, row) or adds to (channel) the slot.
    kernel_size, layer_size : int
        The kernel's weights and the layer's neurons: the ranges of a position word's kernel
        address and slot.
    """

    source_base: int
    positions: np.ndarray
    out_channels: int
    kernel_column: int
    slot_column: int
    kernel_row: int
    slot_row: int
    kernel_channel: int
    slot_channel: int
    kernel_size: int
    layer_size: int

    @property
    def row_width(self) -> int:
        return max(1, int(self.positions[:, 2].max(initial=0)).bit_length())

    @property
    def column_width(self) -> int:
        return max(1, int(self.positions[:, 3].max(initial=0)).bit_length())

    @property
    def source_count(self) -> int:
        return self.positions.shape[0]

    @property
    def channel_width(self) -> int:
        return max(1, (self.out_channels - 1).bit_length())

    @property
    def kernel_address_width(self) -> int:
        """Bits of a kernel address in a position word (the kernel's own, not the widest
        table's)."""
        return _width(self.kernel_size)

    @property
    def slot_address_width(self) -> int:
        """Bits of a slot in a position word (the layer's own)."""
        return _width(self.layer_size)

    @property
    def word_width(self) -> int:
        """Bits of a position-table word: kernel address, slot, rows − 1, columns − 1."""
        return (self.kernel_address_width + self.slot_address_width + self.row_width
                + self.column_width)

    def words(self) -> list[int]:
        """The position table's words, fields from the low bits up in :attr:`positions`' order."""
        words = []
        for kernel, slot, rows, columns in self.positions.tolist():
            word, offset = 0, 0
            if rows < 0:
                words.append(0)
                continue
            for value, width in ((kernel, self.kernel_address_width),
                                 (slot, self.slot_address_width),
                                 (rows, self.row_width), (columns, self.column_width)):
                word |= (value & ((1 << width) - 1)) << offset
                offset += width
            words.append(word)
        return words

    def updates(self) -> np.ndarray:
        """Per source of the segment: the updates its event makes (zero weights included)."""
        return (self.positions[:, 2] + 1) * (self.positions[:, 3] + 1) * self.out_channels


@dataclasses.dataclass(frozen=True, eq=False)
class HardwarePlan:
    """Widths, memories and the cycle model of one network on G groups.

    Members
    -------
    network : Network
    groups : int
        G.
    slots : int
        Ng = ceil(N / G), the depth of each group's state memory.
    sources : int
        N + K: event sources (neurons, then input channels).
    neuron_id_width, input_id_width, source_width, slot_width : int
        Index widths (≥ 1).
    event_width : int
        Width of the output stream's ``neuron`` field: a neuron id, or a step's spike count 0..N
        in the end-of-step marker.
    accumulator_width : int
        Signed width that holds every partial synaptic sum without overflow.
    sum_width : int
        Signed width of ``u + I + bias`` before the overflow stage.
    synapse_address_width, count_width : int
        Widths of a group's synapse-table address and per-source synapse count (the largest group's).
    group_plans : tuple of GroupPlan
    masks : ndarray of int, shape (N + K,)
        Bit g set when source has at least one synapse in group g (the router's table).
    runtime_weights : bool
        The synapse tables are RAM without initial contents, written through the core's
        ``synapse_load`` port after reset (:meth:`synapse_load_words`), instead of ROM in the
        bitstream. Lets yosys put them in iCE40 UltraPlus SPRAM, which cannot be initialised,
        and lets a board change weights without a new bitstream.
    segments : tuple of (first, end, first group, group count)
        The partition: neurons first..end−1 are interleaved over the groups first group ..
        first group + count − 1. One segment without layers, one per layer with them.
    per_slot_thresholds : bool
        Some group's neurons have different thresholds (per-neuron thresholds): every group
        stores θ per slot beside the bias and initial state, instead of one constant.
    weight_widths : tuple of int
        Per group, the narrowest signed width that holds every weight the group stores (at most
        the network's Bw; narrower when a group's synapses are smaller, for example a group holding
        only a 4-bit layer), so its synapse table is narrower too.
    bank_depth : int
        Entries per synapse-table bank (a power of two), or 0 for the natural depth of the
        entry width (:func:`natural_bank_depth`). A table longer than one bank is split into
        banks read in parallel, each with an output register, and joined by a registered
        multiplexer tree (:class:`snngen.hw.banked.BankedTable`): its read takes
        :meth:`synapse_read_latency` cycles, and the clock no longer falls with the table's size.
    block_ram : {"inferred", "dp16kd"}
        How the banks of a banked synapse table and the core's deep queues are built:
        ``inferred`` Amaranth memories (any simulator, any device), or ``dp16kd`` ECP5 block
        RAM instances with their output register on (what synthesis for an ECP5 uses;
        simulated in Verilog with ``sim/ecp5_dp16kd.v``). The cycles are the same.
    pack_bits : int
        The width of a synapse-table word when entries are packed several to a word (0: one
        entry per word). A table's word then holds :meth:`group_pack` entries, the most (a
        power of two) that fit; an iCE40 SPRAM, 16 bits wide, holds four 4-bit weights per
        word instead of one. The walker reads the word of each entry and selects the entry's
        lane; the cycles are the same.
    spike_queue_depth : int
        The most entries a group's spike queue (and the core's) holds, or 0 for room for every
        spike of a sweep (:meth:`group_spike_queue_depth`). A group with more neurons waits in
        its sweep for room in its queue (:meth:`sweep_waits_for_room`): nothing is lost, the
        sweep takes longer while the spikes are not drained.
    """

    network: Network
    groups: int
    slots: int
    sources: int
    neuron_id_width: int
    event_width: int
    input_id_width: int
    source_width: int
    slot_width: int
    accumulator_width: int
    sum_width: int
    synapse_address_width: int
    count_width: int
    group_plans: tuple[GroupPlan, ...]
    masks: np.ndarray
    runtime_weights: bool = False
    weight_widths: tuple[int, ...] = ()
    segments: tuple[tuple[int, int, int, int], ...] = ()
    per_slot_thresholds: bool = False
    bank_depth: int = 0
    block_ram: str = "inferred"
    pack_bits: int = 0
    spike_queue_depth: int = 0

    # Pipeline constants of the cycle model (checked against simulation in the tests), for a
    # synapse table of one bank; a banked table adds its extra read cycles.
    ACCUMULATE_LATENCY = 15
    SWEEP_LATENCY = 7
    STEP_OVERHEAD = 8

    @property
    def state_width(self) -> int:
        """Bits of a stored membrane value (B; B + 1 for a symmetric wrapping lattice)."""
        return self.network.state.storage_bits

    @property
    def sweep_latency(self) -> int:
        """Cycles a sweep adds to its Ng slots: the update pipeline's depth (W of the cycle
        model). Semantics v2 has more stages: two per decay, two for the current's sum and
        overflow, three for the membrane sum and one for the spike."""
        dynamics = self.network.dynamics
        if dynamics is None:
            return self.SWEEP_LATENCY
        stages = 1 + 2 + 3 + 1
        if dynamics.current is not None:
            stages += 2 + 2 * (dynamics.current.order.value == "add_then_decay")
        if self.ordered_events:
            # The bias's own saturating add, then the inputs' and the spikes' compositions.
            stages += 4
        if self.max_spikes > 1:
            # The spike count: a restoring division (one stage per quotient bit) after the
            # test against its range, the limit M applied, and the product n·θ.
            stages += self.max_spikes.bit_length() + 2
        return stages + 3

    @property
    def state_signed(self) -> bool:
        return self.network.state.signed

    @property
    def max_spikes(self) -> int:
        """The most spikes any neuron emits in one step (1 for semantics v1)."""
        dynamics = self.network.dynamics
        return 1 if dynamics is None else int(dynamics.max_spikes.max())

    @property
    def spike_count_width(self) -> int:
        """Bits of the spike count that spikes and events carry (0: one spike per step)."""
        return self.max_spikes.bit_length() if self.max_spikes > 1 else 0

    @property
    def ordered_events(self) -> bool:
        """Every event is its own saturating add into the current (Xylo's ``per_event``), so
        the result depends on the order of a step's events.

        The groups then keep, per slot and per kind of event (inputs, spikes), the composition
        of the step's saturating adds instead of a sum (:func:`compose_saturating_add`), and the
        merger emits a step's spikes in ascending neuron order, so the composition sees the
        order of docs/semantics.md (inputs by channel, then neurons by index)."""
        return _ordered_events(self.network)

    @property
    def current_span(self) -> int:
        """H − L of the current's lattice (the range of an ordered accumulator's bounds)."""
        fmt = self.network.dynamics.current.state
        return fmt.max - fmt.min

    @property
    def accumulator_word_width(self) -> int:
        """Bits of one accumulator entry: the exact sum, or with :attr:`ordered_events` two
        compositions (inputs, then spikes) of ``(sum, lower offset, upper offset)``."""
        if not self.ordered_events:
            return self.accumulator_width
        return 2 * (3 * self.current_span.bit_length() + 1)

    def group_accumulator_width(self, group: int) -> int:
        """Bits of one entry of group `group`'s accumulator memories (:attr:`GroupPlan.
        accumulator_width`; with ordered events every group's compositions are alike)."""
        if self.ordered_events:
            return self.accumulator_word_width
        return self.group_plans[group].accumulator_width or self.accumulator_width

    def group_of(self, neuron: int) -> tuple[int, int]:
        """(group, slot) of a neuron id."""
        for first, end, first_group, count in self.segments:
            if first <= neuron < end:
                slot, offset = divmod(neuron - first, count)
                return first_group + offset, slot
        raise ValueError(f"neuron must be in 0..{self.network.neurons - 1}, not {neuron!r}")

    def neuron_of(self, group: int, slot: int) -> int | None:
        """The neuron in `group`'s `slot`, or None for a padding slot."""
        members = self.group_plans[group].members
        return int(members[slot]) if slot < len(members) else None

    @property
    def group_index_width(self) -> int:
        return _width(self.groups)

    def group_weight_width(self, group: int) -> int:
        """Signed width of the weights group `group` stores (:attr:`weight_widths`)."""
        return self.weight_widths[group]

    def group_entry_width(self, group: int) -> int:
        """Bits of one entry of group `group`'s synapse table: target slot, then weight; the
        weight alone in a dense group (:attr:`GroupPlan.dense`)."""
        if self.group_plans[group].dense:
            return self.group_weight_width(group)
        return self.slot_width + self.group_weight_width(group)

    def group_pack(self, group: int) -> int:
        """Entries per word of group `group`'s synapse table (:attr:`pack_bits`): a power of
        two, 1 without packing."""
        return entries_per_word(self.group_entry_width(group), self.pack_bits)

    def synapse_table_bits(self, group: int) -> int:
        """Bits of group `group`'s synapse table: its whole words (0 without synapses)."""
        return (-(-self.group_plans[group].synapse_count // self.group_pack(group))
                * self.group_word_width(group))

    def group_word_width(self, group: int) -> int:
        """Bits of a word of group `group`'s synapse table: its packed entries."""
        return self.group_pack(group) * self.group_entry_width(group)

    def synapse_table_words(self, group: int) -> int:
        """Words of group `group`'s synapse table (≥ 1)."""
        return max(1, -(-self.group_plans[group].synapse_count // self.group_pack(group)))

    def synapse_bank_depth(self, group: int) -> int:
        """Words per bank of group `group`'s synapse table (:attr:`bank_depth`)."""
        return self.bank_depth or natural_bank_depth(self.group_word_width(group))

    def synapse_banks(self, group: int) -> int:
        """Banks of group `group`'s synapse table."""
        return -(-self.synapse_table_words(group) // self.synapse_bank_depth(group))

    def synapse_read_latency(self, group: int) -> int:
        """Cycles from a synapse-table address to its entry: 1 for one bank; for B banks, the
        address register, the bank's read, its output register and ⌈log4 B⌉ registered 4-to-1
        multiplexer levels."""
        banks = self.synapse_banks(group)
        return 1 if banks == 1 else 3 + mux_levels(banks)

    @property
    def accumulate_latency(self) -> int:
        """A of the cycle model: the accumulate pipeline's depth with the slowest table."""
        # A kernel group's address generator loads an event's window a cycle before its
        # first update.
        return self.ACCUMULATE_LATENCY - 1 + self.has_kernel_groups + max(self.synapse_read_latency(g)
                                                                for g in range(self.groups))

    @property
    def has_kernel_groups(self) -> bool:
        """Some group holds a convolution layer by its kernel (:class:`ConvolutionPlan`)."""
        return any(g.convolution is not None for g in self.group_plans)

    @property
    def event_queue_depth(self) -> int:
        """Entries of each group's event queue: :data:`PIPELINED_EVENT_QUEUE_DEPTH` when the
        network has a kernel group, :data:`EVENT_QUEUE_DEPTH` otherwise."""
        return PIPELINED_EVENT_QUEUE_DEPTH if self.has_kernel_groups else EVENT_QUEUE_DEPTH

    @property
    def merge_clusters(self) -> tuple[tuple[int, ...], ...]:
        """The groups each first-level merger takes, in order, when there are more than
        :data:`MERGE_FANIN` groups (contiguous runs of at most that many, as even as possible);
        empty when one merger takes them all. Ordered events keep one sorted merger."""
        if self.groups <= MERGE_FANIN or self.ordered_events:
            return ()
        count = -(-self.groups // MERGE_FANIN)
        bounds = [self.groups * c // count for c in range(count + 1)]
        return tuple(tuple(range(bounds[c], bounds[c + 1])) for c in range(count))

    @property
    def merge_stages(self) -> int:
        """Cycles the merge tree adds to a spike's way out: 1 with first-level mergers, else 0
        (T of the cycle model)."""
        return 1 if self.merge_clusters else 0

    @property
    def lut_ram_state(self) -> bool:
        """Whether the accumulators and the membrane memory go to LUT RAM: on an ECP5
        (``block_ram`` ``dp16kd``) while a group holds at most :data:`LUT_RAM_SLOTS` slots.
        Block RAM's 5.6 ns clock-to-output is slower than a shallow LUT RAM read there."""
        return self.block_ram == "dp16kd" and self.slots <= LUT_RAM_SLOTS

    @property
    def pointer_width(self) -> int:
        """Bits of a pointer-table word: the start address below the synapse count."""
        return self.synapse_address_width + self.count_width

    @property
    def synapse_entry_width(self) -> int:
        """The widest group's table word (its entry, or its packed entries): the width of
        ``synapse_load``'s data (a group takes the low bits it needs)."""
        return max(self.group_word_width(g) for g in range(self.groups))

    @property
    def load_address_width(self) -> int:
        """Width of a ``synapse_load`` address: group index above the group's table address."""
        return self.group_index_width + self.synapse_address_width

    def synapse_words(self, group: int) -> list[int]:
        """Group `group`'s synapse table words (the ROM contents, or what to load): each entry
        is its target slot below its weight (the weight alone in a dense group), and a word
        holds :meth:`group_pack` entries, the first in the low bits."""
        weight_mask = (1 << self.group_weight_width(group)) - 1
        if self.group_plans[group].dense:
            entries = [int(w) & weight_mask for _, w in self.group_plans[group].synapses]
        else:
            slot_mask = (1 << self.slot_width) - 1
            entries = [(int(t) & slot_mask) | ((int(w) & weight_mask) << self.slot_width)
                       for t, w in self.group_plans[group].synapses]
        pack, width = self.group_pack(group), self.group_entry_width(group)
        return [sum(entry << (lane * width)
                    for lane, entry in enumerate(entries[first:first + pack]))
                for first in range(0, len(entries), pack)]

    def synapse_load_words(self) -> np.ndarray:
        """Every ``(address, data)`` to write through ``synapse_load``, shape (S, 2).

        The address is ``group << synapse_address_width | word``; the data is the word of
        :meth:`synapse_words`. Only needed with :attr:`runtime_weights`.
        """
        rows = [(g << self.synapse_address_width | a, word)
                for g in range(self.groups) for a, word in enumerate(self.synapse_words(g))]
        return np.array(rows, dtype=np.int64).reshape(-1, 2)

    def memory_bits(self) -> dict[str, int]:
        """Bits of every memory kind, summed over the groups (what block RAM must hold)."""
        net = self.network
        depths = sum(g.depth for g in self.group_plans)
        extra = {}
        if net.dynamics is not None:
            if net.dynamics.current is not None:
                extra["current"] = depths * net.dynamics.current.state.storage_bits
            if self.refractory_width:
                extra["refractory"] = depths * self.refractory_width
        return {**extra,
            "synapses": sum(self.synapse_table_bits(g) for g in range(self.groups)),
            "pointers": sum(self.pointer_table_bits(g) for g in range(self.groups)),
            "state": depths * self.state_width,
            "accumulators": 2 * sum(g.depth * self.group_accumulator_width(g.index)
                                    for g in self.group_plans),
            "init_and_bias": sum(g.constants_depth for g in self.group_plans)
            * (3 if self.per_slot_thresholds else 2) * self.state_width,
            "router_masks": self.sources * self.groups,
            "spike_queue": sum(self._spike_queue_neurons(g) for g in range(self.groups))
            * self.neuron_id_width,
        }

    def _spike_queue_neurons(self, group: int) -> int:
        """Neuron entries of group `group`'s spike queue: one per neuron of the group (every
        spike of a sweep), at most :attr:`spike_queue_depth`."""
        depth = self.group_plans[group].depth
        return min(depth, self.spike_queue_depth) if self.spike_queue_depth else depth

    def group_spike_queue_depth(self, group: int) -> int:
        """Entries of group `group`'s spike queue memory: its neuron entries, and with ordered
        events one more for the sweep's last-entry marker."""
        return max(2, self._spike_queue_neurons(group) + self.ordered_events)

    def sweep_waits_for_room(self, group: int) -> bool:
        """Group `group` has more neurons than its spike queue holds: its sweep reads a neuron
        only while the queue has room for the spike it may make (a credit count)."""
        return self._spike_queue_neurons(group) < self.group_plans[group].depth

    def pointer_table_bits(self, group: int) -> int:
        """Bits of group `group`'s pointer table, or of its position table when it holds a
        convolution layer by its kernel (one word per source of the layer it listens to)."""
        plan = self.group_plans[group]
        if plan.convolution is None:
            return plan.pointer_depth * self.pointer_width
        return plan.pointer_depth * plan.convolution.word_width

    @property
    def multiplied_decays(self) -> tuple[str, ...]:
        """The decays that multiply (semantics v2): ``membrane_decay`` and/or
        ``current_decay``. Their factors are always stored per slot, so the products stay real
        multipliers that synthesis can put in DSP blocks."""
        dynamics = self.network.dynamics
        if dynamics is None:
            return ()
        names = ["membrane_decay"] if dynamics.membrane_decay is Decay.MULTIPLY else []
        if dynamics.current is not None and dynamics.current.decay is Decay.MULTIPLY:
            names.append("current_decay")
        return tuple(names)

    @property
    def bias_delay_width(self) -> int:
        """Bits of the core's step counter that gates delayed biases (0: no neuron delays its
        bias)."""
        dynamics = self.network.dynamics
        if dynamics is None:
            return 0
        return int(dynamics.bias_delay.max(initial=0)).bit_length()

    @property
    def refractory_width(self) -> int:
        """Bits of a refractory counter (0: no neuron has a refractory period)."""
        dynamics = self.network.dynamics
        if dynamics is None:
            return 0
        return int(dynamics.refractory.max(initial=0)).bit_length()

    def serial_step_cycles(self, previous_spikes: np.ndarray, inputs: np.ndarray,
                           spikes: np.ndarray) -> int:
        """Cycles of one step if nothing overlapped: an upper bound (docs/architecture.md).

        The core hides part of it: the previous step's spikes are accumulated during the previous
        step's sweep, so a measured step lies between :meth:`lower_bound_cycles` and this.

        Parameters
        ----------
        previous_spikes : s(t−1), shape (N,)
        inputs : x(t), shape (K,)
        spikes : s(t), shape (N,)
        """
        events, per_group = self.step_events(previous_spikes, inputs)
        accumulate = max([events, *per_group]) + self.accumulate_latency
        sweep = max(self.slots, self.merge_cycles(spikes)) + self.sweep_latency + self.merge_stages
        return accumulate + sweep + self.STEP_OVERHEAD

    def worst_step_cycles(self) -> int:
        """:meth:`serial_step_cycles` of the busiest step of binary activity: every neuron
        spiked in the previous step, every input channel carries a spike and every neuron
        spikes again. No step of such a network takes longer."""
        every_neuron = np.ones(self.network.neurons, dtype=np.int64)
        every_input = np.ones(self.network.inputs, dtype=np.int64)
        return self.serial_step_cycles(every_neuron, every_input, every_neuron)

    def merge_cycles(self, spikes: np.ndarray) -> int:
        """Cycles from a sweep's start until one-per-cycle merging has emitted its spikes.

        Every group reaches slot l in cycle l, so the spikes of slots ≥ l cannot leave before
        cycle l: the drain ends at ``max_l (l + spikes in slots ≥ l)``. That is the spike count
        when they come early, and up to Ng + G − 1 when every group fires in its last slot.
        """
        fired = np.flatnonzero(spikes)
        if not fired.size:
            return 0
        if self.ordered_events or self.max_spikes > 1:
            # Sorted merging may wait for the sweep's end, and a count of c takes c cycles to
            # the host: a looser bound.
            return self.slots + self.sweep_latency + int(np.asarray(spikes).sum()) + self.groups
        per_slot = np.bincount(self._slot_of_neuron[fired], minlength=self.slots)
        later = np.cumsum(per_slot[::-1])[::-1]
        return int((np.arange(self.slots) + later)[later > 0].max())

    @functools.cached_property
    def _incoming_counts(self) -> np.ndarray:
        """Each neuron's non-zero synapses (from neurons and inputs)."""
        return np.diff(_incoming(self.network).indptr)

    @functools.cached_property
    def _slot_of_neuron(self) -> np.ndarray:
        slots = np.zeros(self.network.neurons, dtype=np.int64)
        for group in self.group_plans:
            slots[group.members] = np.arange(len(group.members))
        return slots

    def lower_bound_cycles(self, previous_spikes: np.ndarray, inputs: np.ndarray) -> float:
        """max(N/G, synaptic events/G): the lower bound of a step (every neuron updated and
        every synaptic event applied, G at a time), without overhead."""
        _, per_group = self.step_events(previous_spikes, inputs)
        return max(self.network.neurons / self.groups, sum(per_group) / self.groups)

    def step_events(self, previous_spikes: np.ndarray, inputs: np.ndarray
                    ) -> tuple[int, list[int]]:
        """(events E, synapses each group visits S_g) of a step with s(t−1) and x(t).

        An input count c (semantics v2) is c events of its channel; a neuron's spike count n is
        one event (its synapses add n·w)."""
        counts = np.concatenate([np.asarray(previous_spikes, dtype=np.int64) > 0,
                                 np.asarray(inputs, dtype=np.int64)])
        return int(counts.sum()), [int(g.pointers[:, 1] @ counts) for g in self.group_plans]

    def describe(self) -> dict:
        """Parameters for the manifest (JSON-ready)."""
        return {
            "groups": self.groups,
            "slots_per_group": self.slots,
            "sources": self.sources,
            "neuron_id_width": self.neuron_id_width,
            "event_width": self.event_width,
            "input_id_width": self.input_id_width,
            "source_width": self.source_width,
            "slot_width": self.slot_width,
            "accumulator_width": self.accumulator_width,
            "sum_width": self.sum_width,
            "synapse_address_width": self.synapse_address_width,
            "count_width": self.count_width,
            "synapses_per_group": [g.synapse_count for g in self.group_plans],
            "runtime_weights": self.runtime_weights,
            "load_address_width": self.load_address_width,
            "synapse_entry_width": self.synapse_entry_width,
            "weight_width_per_group": [self.group_weight_width(g) for g in range(self.groups)],
            "threshold_per_group": [g.threshold for g in self.group_plans],
            "threshold_per_slot": self.per_slot_thresholds,
            "segments": [list(segment) for segment in self.segments],
            "memory_bits": self.memory_bits(),
            "dense_groups": [g.index for g in self.group_plans if g.dense],
            "kernel_groups": [g.index for g in self.group_plans if g.convolution is not None],
            "group_depths": [g.depth for g in self.group_plans],
            "accumulator_width_per_group": [self.group_accumulator_width(g)
                                            for g in range(self.groups)],
            "bank_depth": self.bank_depth,
            "pack_bits": self.pack_bits,
            "synapse_entries_per_word": [self.group_pack(g) for g in range(self.groups)],
            "block_ram": self.block_ram,
            "spike_queue_depth_per_group": [self.group_spike_queue_depth(g)
                                            for g in range(self.groups)],
            "synapse_banks_per_group": [self.synapse_banks(g) for g in range(self.groups)],
            "synapse_read_latency_per_group": [self.synapse_read_latency(g)
                                               for g in range(self.groups)],
            "synapse_storage_per_layer": self.synapse_storage_per_layer(),
        }

    def synapse_storage_per_layer(self) -> list[dict]:
        """Per layer: its groups' table layout, the table bits and the bits per non-zero
        synapse into the layer (what a dense layout saves)."""
        rows = []
        for (layer, first, end), (_, _, first_group, count) in zip(
                self.network.layer_spans, self.segments, strict=True):
            groups = range(first_group, first_group + count)
            bits = sum(self.synapse_table_bits(g) for g in groups)
            synapses = int(self._incoming_counts[first:end].sum())
            layouts = {"kernel" if self.group_plans[g].convolution is not None
                       else "dense" if self.group_plans[g].dense else "sparse" for g in groups}
            rows.append({"layer": layer.name, "storage": "/".join(sorted(layouts)),
                         "table_bits": bits, "synapses": synapses,
                         "bits_per_synapse": round(bits / synapses, 2) if synapses else None})
        return rows


def _share_groups(groups: int, work: list[int], sizes: list[int]) -> list[int]:
    """Split `groups` (len(work) ≤ groups ≤ sum(sizes)) over segments in proportion to their
    `work`: at least one each, at most one per neuron (`sizes`); ties go to the earlier segment,
    so it is deterministic."""
    count = [1] * len(work)
    total = sum(work) or 1
    for _ in range(groups - len(work)):
        # The next group goes to the segment with the most work per group that can take one.
        open_ = [i for i in range(len(work)) if count[i] < sizes[i]]
        best = max(open_, key=lambda i: (work[i] / total / count[i], -i))
        count[best] += 1
    return count


#: A group stores its table densely (:attr:`GroupPlan.dense`) when its reaching sources' synapses
#: fill at least this fraction of their (source, slot) pairs: the zero entries then cost under
#: 10 % more cycles, and the table drops its slot ids (the slot's bits per entry).
DENSE_FILL = 0.9

#: The table layouts `plan_hardware` accepts: by fill, or one for every group.
STORAGE_CHOICES = ("auto", "sparse", "dense")
#: How banked synapse tables and the core's deep queues are built
#: (:attr:`HardwarePlan.block_ram`).
BLOCK_RAM_CHOICES = ("inferred", "dp16kd")


def check_block_ram(block_ram: str) -> None:
    """Raise ValueError unless `block_ram` is one of :data:`BLOCK_RAM_CHOICES`."""
    if block_ram not in BLOCK_RAM_CHOICES:
        raise ValueError(f"block_ram must be one of {', '.join(BLOCK_RAM_CHOICES)}, "
                         f"not {block_ram!r}")


def block_ram_for(family: str) -> str:
    """The `block_ram` a build for an FPGA `family` uses: ECP5 ``DP16KD`` instances with their
    output register (yosys never turns it on), inferred memories elsewhere."""
    return "dp16kd" if family == "ecp5" else "inferred"


def spike_queue_depth_for(family: str) -> int:
    """The :attr:`HardwarePlan.spike_queue_depth` a build for an FPGA `family` uses: one block
    RAM's worth on an iCE40, whose 4-kbit block RAMs a large group's queue would fill; room
    for every spike on an ECP5 (0), whose queues of that size are one or a few of its 208."""
    return ICE40_SPIKE_QUEUE_DEPTH if family == "ice40" else 0


def plan_hardware(network: Network, groups: int | None = 1, *, runtime_weights: bool = False,
                  bank_depth: int = 0, storage: str = "auto",
                  block_ram: str = "inferred", pack_bits: int = 0,
                  share_kernels: bool = True, spike_queue_depth: int = 0) -> HardwarePlan:
    """Partition `network` over `groups` neuron groups and size every memory and datapath.

    `groups` None means one per layer (1 without layers); a layered network needs at least one
    group per layer. With `runtime_weights`, the synapse tables are loaded after reset instead
    of being ROM (see :attr:`HardwarePlan.runtime_weights`). `bank_depth` sets the entries per
    synapse-table bank (:attr:`HardwarePlan.bank_depth`; 0: one block RAM's depth).
    `storage` chooses each group's table layout: ``auto`` dense where the fill reaches
    :data:`DENSE_FILL` and that saves memory, ``sparse`` or ``dense`` for every group.
    `block_ram` builds banked tables from inferred memories or ECP5 ``DP16KD`` instances
    (:attr:`HardwarePlan.block_ram`). `pack_bits` packs table entries into words of that width
    (:attr:`HardwarePlan.pack_bits`; 0: one entry per word). With `share_kernels`, each
    layer of :func:`convolution_layers` takes one group that stores its kernel
    (:class:`ConvolutionPlan`); without, every layer's synapses are listed one by one.
    `spike_queue_depth` bounds the spike queues (:attr:`HardwarePlan.spike_queue_depth`; 0:
    room for every spike of a sweep).
    """
    if not isinstance(share_kernels, bool):
        raise TypeError(f"share_kernels must be a bool, not {share_kernels!r}")
    if not isinstance(runtime_weights, bool):
        raise TypeError(f"runtime_weights must be a bool, not {runtime_weights!r}")
    if storage not in STORAGE_CHOICES:
        raise ValueError(f"storage must be one of {', '.join(STORAGE_CHOICES)}, not {storage!r}")
    check_block_ram(block_ram)
    if isinstance(bank_depth, bool) or not isinstance(bank_depth, int) or bank_depth < 0 \
            or bank_depth & (bank_depth - 1):
        raise ValueError(f"bank_depth must be 0 (natural) or a power of two, not {bank_depth!r}")
    if isinstance(pack_bits, bool) or not isinstance(pack_bits, int) or not 0 <= pack_bits <= 64:
        raise ValueError(f"pack_bits must be an integer in 0..64, not {pack_bits!r}")
    if isinstance(spike_queue_depth, bool) or not isinstance(spike_queue_depth, int) \
            or spike_queue_depth < 0:
        raise ValueError(f"spike_queue_depth must be 0 (room for every spike) or a positive "
                         f"integer, not {spike_queue_depth!r}")
    # A convolution layer that qualifies keeps its kernel; every other synapse is listed.
    kernel_layers = {name: _convolution_plan(network, *found)
                     for name, found in convolution_layers(network).items()} \
        if share_kernels else {}
    n, k = network.neurons, network.inputs
    spans = network.layer_spans
    if groups is None:
        groups = len(spans)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise InputError(f"groups must be an integer, not {groups!r}")
    if not 1 <= groups <= min(n, MAX_GROUPS):
        raise InputError(f"groups must be in 1..{min(n, MAX_GROUPS)} for {n} neurons, not {groups}")
    if groups < len(spans):
        raise InputError(f"groups must be at least {len(spans)} (one per layer) for a network "
                         f"with {len(spans)} layers, not {groups}")
    sources = n + k
    # Row i of `incoming` (sparse, neurons × sources) is neuron i's synapses: from neurons
    # first, then from input channels. With semantics v2 the tables hold each weight already
    # shifted by its target's weight shift. A network with projections is never written out
    # as dense matrices here, so a convolutional network of any size can be planned.
    dynamics = network.dynamics
    incoming = _incoming(network)
    input_count = 1 if dynamics is None else dynamics.input_max_count
    weight_limit = _weight_limit(network, incoming)

    # A kernel layer is one group: its slots are its neurons in order, as the kernel's
    # addressing counts them.
    sizes = [1 if layer.name in kernel_layers else end - first for layer, first, end in spans]
    if groups > sum(sizes):
        raise InputError(f"groups must be at most {sum(sizes)} for this network, not {groups}: "
                         f"each convolution layer kept by its kernel "
                         f"({', '.join(kernel_layers)}) is one group")
    per_segment = _share_groups(groups, [
        max(int(incoming.indptr[end] - incoming.indptr[first]), end - first)
        for _, first, end in spans], sizes)
    segments, layouts, first_group = [], [], 0
    for (_, first, end), count in zip(spans, per_segment, strict=True):
        segments.append((first, end, first_group, count))
        for offset in range(count):
            layouts.append((first + offset, count, np.arange(first + offset, end, count)))
        first_group += count
    thresholds = np.broadcast_to(np.asarray(network.thresholds, dtype=np.int64), (n,))
    slots = max(len(members) for _, _, members in layouts)

    # Exact accumulator: the largest |partial sum| of each neuron's incoming synapses (an input
    # channel may carry up to `input_count` events a step).
    scale = np.full(sources, input_count, dtype=np.int64)
    scale[:n] = 1 if dynamics is None else dynamics.max_spikes
    reach = abs(incoming) @ scale

    group_plans = []
    masks = np.zeros(sources, dtype=object)
    per_slot = False
    ordered = _ordered_events(network)
    layer_of_group = [layer.name for (layer, _, _), count in zip(spans, per_segment, strict=True)
                      for _ in range(count)]
    for g, (base, stride, members) in enumerate(layouts):
        members.setflags(write=False)
        kernel = kernel_layers.get(layer_of_group[g])
        threshold = int(thresholds[members[0]])
        slot_thresholds = np.full(slots, threshold, dtype=np.int64)
        slot_thresholds[:len(members)] = thresholds[members]
        per_slot |= bool((slot_thresholds != threshold).any())
        block = incoming[members].tocsc()  # (members, sources)
        group_shift = _uniform_shift(dynamics, members)
        if kernel is not None and dynamics is not None:
            # The kernel is stored unshifted: the group shifts by its one source's shift.
            group_shift = int((dynamics.input_weight_shift if kernel[0].source_base == n
                               else dynamics.weight_shift)[members[0]])
        if group_shift:
            # Every weight into the group shifts alike: the table stores the unshifted
            # weights and the group shifts them as it reads them (wiring, no memory).
            block.data = block.data >> group_shift
        reaches = np.diff(block.indptr) > 0
        dense = storage == "dense" or (storage == "auto" and _fills(
            block.data, int(reaches.sum()), len(members), _width(slots), weight_limit,
            pack_bits))
        pointers = np.zeros((sources, 2), dtype=np.int64)
        entries = []
        if kernel is not None:
            convolution, weights_flat = kernel
            dense = True
            for source in np.flatnonzero(reaches):
                masks[source] |= 1 << g
            segment = slice(convolution.source_base,
                            convolution.source_base + convolution.source_count)
            pointers[segment, 1] = np.where(reaches[segment], convolution.updates(), 0)
            if (pointers[segment, 1][reaches[segment]] <= 0).any() or reaches[:segment.start].any() \
                    or reaches[segment.stop:].any():
                raise AssertionError("a kernel layer's reach and its position table disagree")
            entries = [(0, int(w)) for w in weights_flat]
        # Sources with the same synapses into the group share one list (the inputs of one
        # pooling window all reach the next layer alike). Ordered events keep the lists in
        # source order: the group tells an input's synapses from a neuron's by address.
        shared: dict[bytes, tuple[int, int]] = {}
        column = np.zeros(len(members), dtype=np.int64)
        for source in range(sources if kernel is None else 0):
            if not reaches[source]:
                pointers[source] = (len(entries), 0)
                continue
            masks[source] |= 1 << g
            rows = block.indices[block.indptr[source]:block.indptr[source + 1]]
            column[:] = 0
            column[rows] = block.data[block.indptr[source]:block.indptr[source + 1]]
            key = column.tobytes()
            if key in shared and not ordered:
                pointers[source] = shared[key]
                continue
            targets = np.arange(len(members)) if dense else np.flatnonzero(column)
            pointers[source] = shared[key] = (len(entries), len(targets))
            entries.extend((int(t), int(column[t])) for t in targets)
        synapses = np.array(entries, dtype=np.int64).reshape(-1, 2)
        initial_state = np.zeros(slots, dtype=np.int64)
        bias = np.zeros(slots, dtype=np.int64)
        initial_state[:len(members)] = network.initial_state[members]
        bias[:len(members)] = network.bias[members]
        for array in (pointers, synapses, initial_state, bias, slot_thresholds):
            array.setflags(write=False)
        if kernel is not None:
            pointer_first, pointer_depth = kernel[0].source_base, kernel[0].source_count
        elif reaches.any():
            reaching = np.flatnonzero(reaches)
            pointer_first = int(reaching[0])
            pointer_depth = int(reaching[-1]) + 1 - pointer_first
        else:
            pointer_first, pointer_depth = 0, 1
        group_plans.append(GroupPlan(g, pointers, synapses, initial_state, bias, members,
                                     base, stride, threshold, slot_thresholds,
                                     _slot_fields(network, members, slots), group_shift,
                                     dense, None if kernel is None else kernel[0],
                                     pointer_first, pointer_depth,
                                     _accumulator_width(int(reach[members].max()))))

    largest = int(reach.max()) if reach.size else 0
    accumulator_width = _accumulator_width(largest)
    state = network.state
    sum_lo = state.min + (-largest) + state.min
    sum_hi = state.max + largest + state.max
    sum_width, _ = bits_for_range(min(sum_lo, -1), max(sum_hi, 1))
    max_synapses = max(g.synapse_count for g in group_plans)
    max_count = max(int(g.pointers[:, 1].max()) if sources else 0 for g in group_plans)
    masks_array = np.array([int(m) for m in masks], dtype=object)
    return HardwarePlan(
        network=network,
        groups=groups,
        slots=slots,
        sources=sources,
        neuron_id_width=_width(n),
        event_width=max(_width(n), (n * (1 if dynamics is None
                                         else int(dynamics.max_spikes.max()))).bit_length()),
        input_id_width=_width(max(k, 1)),
        source_width=_width(sources),
        slot_width=_width(slots),
        accumulator_width=accumulator_width,
        sum_width=sum_width,
        synapse_address_width=_width(max(max_synapses, 1)),
        count_width=max(1, max_count.bit_length()),
        group_plans=tuple(group_plans),
        masks=masks_array,
        runtime_weights=runtime_weights,
        weight_widths=tuple(_weight_width(g.synapses, weight_limit) for g in group_plans),
        segments=tuple(segments),
        per_slot_thresholds=per_slot,
        bank_depth=bank_depth,
        block_ram=block_ram,
        pack_bits=pack_bits,
        spike_queue_depth=spike_queue_depth,
    )


# Entries of one ECP5 DP16KD at each data width it offers (1, 2, 4, 9, 18, 36 bits); an iCE40
# SB_RAM40_4K holds a quarter, so a bank is four of them there, still one short multiplexer.
_DP16KD_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))


def natural_bank_depth(width: int) -> int:
    """Entries of a `width`-bit table that one block RAM holds: one bank of a synapse table.
    Wider entries than 36 bits take several block RAMs side by side, 512 entries deep."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    return next((depth for bits, depth in _DP16KD_SHAPES if width <= bits), 512)


def mux_levels(inputs: int) -> int:
    """Levels of 4-to-1 multiplexers that select one of `inputs`."""
    levels = 0
    while inputs > 1:
        inputs = -(-inputs // 4)
        levels += 1
    return levels


def entries_per_word(width: int, pack_bits: int) -> int:
    """Entries of `width` bits a table word of `pack_bits` holds: the most, a power of two, that
    fit (1 without packing, or when one entry is wider)."""
    pack = 1
    while pack_bits and 2 * pack * width <= pack_bits:
        pack *= 2
    return pack


def _fills(weights: np.ndarray, reaching: int, members: int, slot_width: int,
           weight_limit: int, pack_bits: int = 0) -> bool:
    """Whether a group's incoming synapses (their non-zero `weights`, from `reaching` sources
    into `members` slots) are dense enough for position-addressed storage: the dense table
    (weights only, zeros included) is smaller than the sparse one, and either the synapses fill
    :data:`DENSE_FILL` of the reaching sources' slots or the dense table takes at most half the
    memory (then the walk over the absent synapses' zero weights is worth the memory). Memory
    counts whole words of `pack_bits` when entries are packed."""
    weights = weights[weights != 0]
    synapses = int(weights.size)
    positions = reaching * members
    if positions == 0:
        return False
    weight_width = _weight_width(np.column_stack([np.zeros_like(weights), weights]), weight_limit)

    def bits(entries: int, width: int) -> int:
        if not pack_bits:
            return entries * width
        return -(-entries // entries_per_word(width, pack_bits)) * max(pack_bits, width)

    dense_bits = bits(positions, weight_width)
    sparse_bits = bits(synapses, slot_width + weight_width)
    if synapses >= DENSE_FILL * positions:
        return dense_bits < sparse_bits
    return 2 * dense_bits <= sparse_bits


def _weight_width(synapses: np.ndarray, limit: int) -> int:
    """The narrowest signed width (≥ 1, ≤ `limit`) holding every weight of `synapses`."""
    if not len(synapses):
        return 1
    lo, hi = int(synapses[:, 1].min()), int(synapses[:, 1].max())
    width, _ = bits_for_range(min(lo, -1), max(hi, 0))
    return min(width, limit)


def _weight_limit(network: Network, incoming) -> int:
    """The widest a stored weight can be: Bw (wider where a network with projections sums paths
    into one synapse), plus the largest weight shift (semantics v2)."""
    bits = network.weight_bits
    if network.structured and incoming.nnz:
        # As Network.expanded() widens a layer: the signed width of the summed weights.
        low, high = int(incoming.data.min()), int(incoming.data.max())
        bits = max(bits, bits_for_range(min(low, -1), max(high, 0))[0])
    dynamics = network.dynamics
    if dynamics is None:
        return bits
    return bits + int(max(dynamics.weight_shift.max(initial=0),
                          dynamics.input_weight_shift.max(initial=0)))


def _ordered_events(network: Network) -> bool:
    """Whether every event of `network` is its own saturating add into the current
    (:attr:`HardwarePlan.ordered_events`)."""
    dynamics = network.dynamics
    return (dynamics is not None and dynamics.accumulate is Accumulate.PER_EVENT
            and dynamics.current.state.overflow is Overflow.SATURATE)


def _accumulator_width(largest: int) -> int:
    """Signed bits (≥ 2) of an accumulator that holds every sum within ±`largest`."""
    return max(bits_for_range(-largest, largest)[0], 2)


def _incoming(network: Network):
    """Every neuron's synapses as a sparse CSR array (neurons × (neurons + inputs), int64, no
    explicit zeros), each weight shifted by its target's weight shift under semantics v2."""
    from scipy import sparse

    weights, input_weights = network.weight_matrices()
    incoming = sparse.hstack([sparse.csr_array(np.asarray(weights, dtype=np.int64))
                              if not sparse.issparse(weights) else weights,
                              sparse.csr_array(np.asarray(input_weights, dtype=np.int64))
                              if not sparse.issparse(input_weights) else input_weights],
                             format="csr").astype(np.int64)
    incoming.eliminate_zeros()
    incoming.sort_indices()
    dynamics = network.dynamics
    if dynamics is not None:
        rows = np.repeat(np.arange(network.neurons), np.diff(incoming.indptr))
        from_input = incoming.indices >= network.neurons
        shift = np.where(from_input, dynamics.input_weight_shift[rows],
                         dynamics.weight_shift[rows])
        incoming.data = incoming.data << shift
    return incoming


def _slot_fields(network: Network, members: np.ndarray, slots: int) -> dict:
    """The semantics-v2 parameters of a group's slots (:attr:`GroupPlan.slot_fields`)."""
    dynamics = network.dynamics
    if dynamics is None:
        return {}
    per_neuron = {"membrane_decay": dynamics.membrane_decay_parameter,
                  "refractory": dynamics.refractory, "bias_delay": dynamics.bias_delay,
                  "max_spikes": dynamics.max_spikes}
    current = dynamics.current
    if current is not None:
        per_neuron["current_decay"] = current.decay_parameter
        per_neuron["current_initial"] = current.initial
        per_neuron["current_bias"] = current.bias
    fields = {}
    for name, values in per_neuron.items():
        padding = 0 if name in ("current_initial", "current_bias") \
            else int(values[members[0]])
        column = np.full(slots, padding, dtype=np.int64)
        column[:len(members)] = values[members]
        column.setflags(write=False)
        fields[name] = column
    return fields


def compose_saturating_add(total: int, low: int, high: int, weight: int, span: int
                           ) -> tuple[int, int, int]:
    """One more saturating add appended to a composition of them (reference arithmetic).

    A sequence of adds ``x ← clamp(x + w_k, L, H)`` on x ∈ [L, H] composes to
    ``x ↦ clamp(x + total, L + low, H − high)``, with ``0 ≤ low, high ≤ H − L``; the empty
    sequence is (0, 0, 0). Appending w gives ``(total + w, clamp(low + w, 0, span),
    clamp(high − w, 0, span))`` (a clamp of a clamp is one clamp with clamped bounds). So a
    group can fold a step's events into three numbers per slot as they arrive, before the
    current they act on is known, and apply them during the sweep in two comparisons. A total
    beyond ±span maps every x to one bound, as ±span does, so it is kept clamped to ±span.
    """
    return (min(max(total + weight, -span), span), min(max(low + weight, 0), span),
            min(max(high - weight, 0), span))


def _uniform_shift(dynamics, members: np.ndarray) -> int:
    """The weight shift every synapse into `members` shares, or 0 (semantics v1, or shifts that
    differ between the members or between recurrent and input weights)."""
    if dynamics is None:
        return 0
    shifts = np.concatenate([dynamics.weight_shift[members], dynamics.input_weight_shift[members]])
    return int(shifts[0]) if (shifts == shifts[0]).all() else 0


def _axis_taps(op, axis: int, size: int, out: int) -> list[list[tuple[int, int]]]:
    """Along one axis of `op` (a pool or a convolution), for each input position 0..size − 1:
    the (tap, output) pairs it reaches, by the same rule as the golden model's fan-out
    (:func:`~snngen.model.structure.projection_fanout`)."""
    dilation = op.dilation[axis] if isinstance(op, Conv2d) else 1
    moves = _window_moves(size, out, op.kernel[axis], op.stride[axis], op.padding[axis],
                          dilation, np.arange(size))
    return [[(tap, int(outputs[p])) for tap, hit, outputs in moves if hit[p]]
            for p in range(size)]


def _axis_window(hits: list[tuple[int, int]], stride: int, dilation: int
                 ) -> tuple[int, int, int, int, int] | None:
    """A convolution's (tap, output) `hits` for one input position along one axis as
    (first tap, first output, count, tap step, output step), or None for none.

    The taps that reach an output are every ``stride / gcd(stride, dilation)``-th, their
    outputs fall by ``dilation / gcd`` each (checked here, so the address generator's constant
    steps hold)."""
    if not hits:
        return None
    common = math.gcd(stride, dilation)
    tap_step, out_step = stride // common, dilation // common
    for index, (k, o) in enumerate(hits):
        if k != hits[0][0] + index * tap_step or o != hits[0][1] - index * out_step:
            raise AssertionError("a convolution window's taps are not evenly spaced")
    return hits[0][0], hits[0][1], len(hits), tap_step, out_step


def convolution_layers(network: Network) -> dict[str, tuple[Projection, tuple[int, ...]]]:
    """The layers of `network` a group can hold by their kernels: ``{name: (projection, source
    shape)}``. A layer qualifies when one projection reaches it, made of non-overlapping pools
    (stride ≥ kernel) and then a ``conv2d``, so each source position meets each kernel tap at
    most once; where semantics v2 shifts weights, every weight into the layer shifts alike; and
    events are not ordered saturating adds (those keep their order in the synapse tables)."""
    if not network.structured:
        return {}
    if _ordered_events(network):
        return {}
    dynamics = network.dynamics
    spans = {layer.name: (layer, first, end) for layer, first, end in network.layer_spans}
    reaching: dict[str, list[Projection]] = {}
    for projection in network.projections:
        reaching.setdefault(projection.target, []).append(projection)
    chosen = {}
    for name, projections in reaching.items():
        if len(projections) != 1:
            continue
        projection = projections[0]
        *pools, weighted = projection.ops
        if not isinstance(weighted, Conv2d) or not all(
                isinstance(op, SumPool2d) and all(s >= k for s, k in zip(op.stride, op.kernel,
                                                                            strict=True))
                for op in pools):
            continue
        _, first, end = spans[name]
        if dynamics is not None:
            shifts = (dynamics.input_weight_shift if projection.source == "input"
                      else dynamics.weight_shift)[first:end]
            if (shifts != shifts[0]).any():
                continue
        if projection.source == "input":
            shape = network.input_shape
        else:
            layer = spans[projection.source][0]
            shape = layer.shape or (layer.size,)
        chosen[name] = (projection, tuple(shape))
    return chosen


def _convolution_plan(network: Network, projection: Projection, source_shape: tuple[int, ...],
                      ) -> tuple[ConvolutionPlan, np.ndarray]:
    """A layer's :class:`ConvolutionPlan` and its kernel (flat, in table order)."""
    shapes = projection.shapes(source_shape)
    *pools, conv = projection.ops
    channels, height, width = shapes[0]
    out_channels, out_height, out_width = shapes[-1]
    in_per_group = conv.weight.shape[1]
    out_per_group = out_channels // conv.groups
    kernel_height, kernel_width = conv.kernel
    layer_kernel = kernel_height * kernel_width
    source_base = network.neurons if projection.source == "input" else next(
        first for layer, first, _ in network.layer_spans if layer.name == projection.source)
    positions = np.full((channels * height * width, 4), -1, dtype=np.int64)
    rows = [None] * height
    columns = [None] * width
    steps = {}
    for axis, size, table in ((0, height, rows), (1, width, columns)):
        # Each position through the pools (non-overlapping: at most one output each), then
        # into the convolution's window.
        where = list(range(size))
        for op, before, after in zip(pools, shapes[:-2], shapes[1:-1], strict=True):
            pooled = _axis_taps(op, axis, before[1 + axis], after[1 + axis])
            where = [None if w is None or not pooled[w] else pooled[w][0][1] for w in where]
        windows = _axis_taps(conv, axis, shapes[-2][1 + axis], shapes[-1][1 + axis])
        for position, w in enumerate(where):
            if w is None:
                continue
            table[position] = _axis_window(windows[w], conv.stride[axis], conv.dilation[axis])
            if table[position] is not None:
                steps[axis] = table[position][3:]
    for channel in range(channels):
        group, local = divmod(channel, in_per_group)
        first_out = group * out_per_group
        for y in range(height):
            if rows[y] is None:
                continue
            ky, oy, row_count, _, _ = rows[y]
            for x in range(width):
                if columns[x] is None:
                    continue
                kx, ox, column_count, _, _ = columns[x]
                positions[(channel * height + y) * width + x] = (
                    ((first_out * in_per_group + local) * kernel_height + ky) * kernel_width + kx,
                    (first_out * out_height + oy) * out_width + ox,
                    row_count - 1, column_count - 1)
    positions.setflags(write=False)
    tap_row, out_row = steps.get(0, (1, 1))
    tap_column, out_column = steps.get(1, (1, 1))
    plan = ConvolutionPlan(
        source_base=source_base, positions=positions, out_channels=out_per_group,
        kernel_column=tap_column, slot_column=out_column,
        kernel_row=tap_row * kernel_width, slot_row=out_row * out_width,
        kernel_channel=in_per_group * layer_kernel, slot_channel=out_height * out_width,
        kernel_size=int(conv.weight.size), layer_size=out_channels * out_height * out_width)
    return plan, np.asarray(conv.weight, dtype=np.int64).reshape(-1)
