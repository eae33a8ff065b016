"""A scalar, pure-Python reference of the integer semantics, written from docs/semantics.md alone.

It shares no code with snngen.model.golden on purpose: Python integers (unbounded, so no overflow can hide),
one neuron and one synapse at a time, the spec's formulas spelled out literally.
"""


def lattice(bits, representation):
    if representation == "signed":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def overflow(value, bits, representation, mode):
    low, high = lattice(bits, representation)
    if mode == "saturate":
        return min(max(value, low), high)
    # wrap: the unique lattice element congruent to value modulo 2**bits
    return low + (value - low) % (2**bits)


def floor_shift(value, k):
    # arithmetic right shift == floor division by 2**k, also for negative values
    return value // (2**k)


def update_neuron(v, current, bits, representation, mode, leak_shift, threshold, reset, reset_value):
    """One neuron: returns (new state, spiked)."""
    u = v if leak_shift is None else v - floor_shift(v, leak_shift)
    v_pre = overflow(u + current, bits, representation, mode)
    spiked = v_pre >= threshold
    if spiked and reset == "zero":
        return reset_value, True
    if spiked and reset == "subtract":
        return v_pre - threshold, True
    return v_pre, spiked


def run(doc, steps, inputs=None):
    """Run a network given as a network.json dict. Returns (spikes, states) as lists of lists."""
    n, k = doc["neurons"], doc["inputs"]
    w, win = doc["weights"], doc["input_weights"]
    bias = doc.get("bias") or [0] * n
    v = list(doc.get("initial_state") or [0] * n)
    s = [0] * n
    # Version 2: each layer's neurons use its threshold (null: the network's).
    thresholds = []
    for layer in doc.get("layers") or [{"neurons": n, "threshold": None}]:
        own = layer.get("threshold")
        thresholds += [doc["threshold"] if own is None else own] * layer["neurons"]
    if doc.get("neuron_thresholds") is not None:
        thresholds = list(doc["neuron_thresholds"])
    spikes_out, states_out = [], []
    for t in range(steps):
        x = inputs[t] if inputs is not None else [0] * k
        new_v, new_s = [], []
        for i in range(n):
            current = bias[i]
            for j in range(n):
                current += w[i][j] * s[j]
            for c in range(k):
                current += win[i][c] * x[c]
            vi, si = update_neuron(
                v[i], current, doc["state_bits"], doc["representation"], doc["overflow"],
                doc["leak_shift"], thresholds[i], doc["reset"], doc.get("reset_value", 0),
            )
            new_v.append(vi)
            new_s.append(1 if si else 0)
        v, s = new_v, new_s
        spikes_out.append(s)
        states_out.append(v)
    return spikes_out, states_out
