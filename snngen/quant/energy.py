"""Hardware-mapping metrics: counted operations times a stated per-operation energy model.

What is *measured* here: synaptic operations (SOPs), spikes, memory reads and writes, all counted
from the integer golden model's spikes (which the RTL reproduces bit for bit); cycles come from
RTL simulation and Fmax from place and route (passed in). What is *estimated*: energy, as those
counts times the per-bit costs of :data:`ENERGY_MODEL` — a 45 nm ASIC reference, not an FPGA
power measurement (no board is attached, and the open iCE40/ECP5 flows have no power analysis).
"""

from __future__ import annotations

import numpy as np

from ..hw.plan import HardwarePlan

__all__ = ["ENERGY_MODEL", "inference_metrics"]

ENERGY_MODEL = {
    "source": "M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
              "ISSCC 2014, energy per operation at 45 nm, 0.9 V",
    # 8 KB SRAM: a 64-bit read costs 10 pJ; a write is taken to cost the same.
    "sram_access_pj_per_bit": 10.0 / 64,
    # Integer addition: 0.03 pJ at 8 bits, 0.1 pJ at 32 bits: about 0.003–0.004 pJ a bit.
    "add_pj_per_bit": 0.1 / 32,
    "scope": "dynamic energy of the core's memory accesses and additions only; no clock tree, "
             "no static power, no I/O; FPGA figures would be several times higher",
}


def inference_metrics(plan: HardwarePlan, inputs: np.ndarray, spikes: np.ndarray) -> dict:
    """Per-inference counts and the energy estimate, averaged over samples.

    Parameters
    ----------
    plan : HardwarePlan
    inputs : ndarray of 0/1, shape (samples, T, K)
        x(t) of each inference, including any trailing no-input steps.
    spikes : ndarray of 0/1, shape (samples, T, N)
        s(t) the golden model (and, bit-exactly, the RTL) produced.

    Returns
    -------
    dict
        ``sops``, ``spikes``, ``sops_per_spike``, ``memory_bits_accessed`` and the energy
        estimate ``energy_pj`` with its parts, all per inference.
    """
    network = plan.network
    samples, steps, _ = inputs.shape
    spans = network.layer_spans
    # SOPs into each layer: a spike of source j at step t is delivered at t + 1 to j's non-zero
    # synapses; inside the inference window only the spikes of steps 0..T−2 are delivered.
    delivered = spikes[:, :-1].reshape(-1, network.neurons).astype(np.int64)
    x = inputs.reshape(-1, network.inputs).astype(np.int64)
    per_layer_sops = []
    weights, input_weights = network.weight_matrices()
    for _, first, end in spans:
        fan_neurons = _fan_out(weights[first:end])
        fan_inputs = _fan_out(input_weights[first:end])
        per_layer_sops.append(float((delivered @ fan_neurons).sum() + (x @ fan_inputs).sum())
                              / samples)
    sops = sum(per_layer_sops)
    spike_count = float(spikes.sum()) / samples
    events = (float(delivered.sum()) + float(x.sum())) / samples
    groups_reached = np.array([bin(int(m)).count("1") for m in plan.masks], dtype=np.float64)
    pointer_reads = (float((delivered @ groups_reached[:network.neurons]).sum())
                     + float((x @ groups_reached[network.neurons:]).sum())) / samples

    r = ENERGY_MODEL["sram_access_pj_per_bit"]
    a = ENERGY_MODEL["add_pj_per_bit"]
    bits = network.state.bits
    # Width of the synapse entries and accumulators into each layer: its groups' (layer-pure
    # groups).
    layer_entry, layer_accumulator = [], []
    for _, first, _end in spans:
        group = plan.group_of(first)[0]
        layer_entry.append(plan.group_entry_width(group))
        layer_accumulator.append(plan.group_accumulator_width(group))
    synapse_bits = sum(s * w for s, w in zip(per_layer_sops, layer_entry, strict=True))
    accumulator_bits = sum(s * w for s, w in zip(per_layer_sops, layer_accumulator, strict=True))
    # Each SOP: read its synapse entry, read and write an accumulator, one addition.
    synaptic_pj = synapse_bits * r + accumulator_bits * (2 * r + a)
    pointer_bits = pointer_reads * (plan.synapse_address_width + plan.count_width)
    pointer_pj = pointer_bits * r
    # Each slot of each group every step (a group sweeps its own depth): state read and write,
    # bias read, accumulator read and clear, three additions (leak, bias, current).
    slots = [(g.depth, plan.group_accumulator_width(g.index)) for g in plan.group_plans]
    updates = steps * sum(depth for depth, _ in slots)
    neuron_bits = steps * sum(depth * (3 * bits + 2 * width) for depth, width in slots)
    neuron_pj = neuron_bits * r + steps * sum(depth * 3 * max(bits, width)
                                              for depth, width in slots) * a
    energy = synaptic_pj + pointer_pj + neuron_pj
    return {
        "steps": steps,
        "sops": sops,
        "sops_per_layer": per_layer_sops,
        "spikes": spike_count,
        "input_events": float(x.sum()) / samples,
        "events": events,
        "sops_per_spike": sops / spike_count if spike_count else None,
        "neuron_updates": updates,
        "memory_bits_accessed": synapse_bits + 2 * accumulator_bits + pointer_bits
        + neuron_bits,
        "energy_pj": {"synaptic": synaptic_pj, "pointers": pointer_pj, "neurons": neuron_pj,
                      "total": energy},
        "energy_per_sop_pj": energy / sops if sops else None,
        "energy_per_spike_pj": energy / spike_count if spike_count else None,
    }


def _fan_out(rows) -> np.ndarray:
    """Non-zero synapses per source (column) of a dense or sparse block of rows."""
    if isinstance(rows, np.ndarray):
        return np.count_nonzero(rows, axis=0)
    return np.asarray((rows != 0).sum(axis=0)).ravel()
