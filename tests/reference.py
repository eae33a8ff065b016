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


# ---------------------------------------------------------------------------------------------
# Semantics v2 (format version 3): written from docs/semantics.md's "Semantics v2" section alone.


def lattice_v2(bits, representation, overflow_mode, rail):
    if representation == "unsigned":
        return 0, 2**bits - 1
    if rail == "symmetric":
        top = 2 ** (bits - 1) - 1
        return -top, (top + 1 if overflow_mode == "wrap" else top)
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def ovf_v2(value, fmt):
    low, high = lattice_v2(*fmt)
    if fmt[2] == "saturate":
        return min(max(value, low), high)
    return low + (value - low) % (2 ** fmt[0])


def decay_v2(mode, x, parameter):
    if mode == "none":
        return x
    if mode == "multiply":
        p = x * (4096 - parameter)
        magnitude = abs(p) // 4096
        return magnitude if p >= 0 else -magnitude
    step = x // (2**parameter)
    if mode == "shift_min1" and step == 0 and x != 0:
        step = 1 if x > 0 else -1
    return x - step


def per_neuron(value, n):
    return list(value) if isinstance(value, list) else [value] * n


def run_v2(doc, steps, inputs=None):
    """Run a version-3 network dict: returns (spikes, states, currents), lists of lists."""
    n, k = doc["neurons"], doc["inputs"]
    dyn = doc["dynamics"]
    w, win = doc["weights"], doc["input_weights"]
    plain_bias = doc.get("bias") or [0] * n
    theta = list(doc["neuron_thresholds"]) if doc.get("neuron_thresholds") else [doc["threshold"]] * n
    vfmt = (doc["state_bits"], doc["representation"], doc["overflow"], doc.get("rail", "full"))
    cur = dyn["current"]
    ifmt = None if cur is None else (cur["state_bits"], cur["representation"], cur["overflow"],
                                     cur["rail"])
    cpar = None if cur is None else per_neuron(cur["decay_parameter"], n)
    mpar = per_neuron(dyn["membrane_decay_parameter"], n)
    max_spikes = per_neuron(dyn["max_spikes"], n)
    refractory = per_neuron(dyn["refractory"], n)
    ws = per_neuron(dyn["weight_shift"], n)
    wsin = per_neuron(dyn["input_weight_shift"], n)
    v = list(doc.get("initial_state") or [0] * n)
    current = None if cur is None else per_neuron(cur["initial"], n)
    current_bias = None if cur is None else per_neuron(cur.get("bias", 0), n)
    bias_delay = per_neuron(dyn.get("bias_delay", 0), n)
    s = [0] * n
    frozen = [0] * n
    out_s, out_v, out_i = [], [], []
    for t in range(steps):
        x = inputs[t] if inputs is not None else [0] * k
        new_v, new_s, new_i = [], [], []
        for i in range(n):
            # the step's events, in the order the spec fixes: inputs by channel, then neurons
            events = []
            for c in range(k):
                events += [win[i][c] * 2 ** wsin[i]] * x[c]
            for j in range(n):
                events += [w[i][j] * 2 ** ws[i]] * s[j]
            # Steps 1..bias_delay (t + 1 ≤ bias_delay) run without either bias.
            biased = t + 1 > bias_delay[i]
            bias_i = plain_bias[i] if biased else 0
            if cur is not None:
                value = current[i]
                if cur["order"] == "decay_then_add":
                    value = decay_v2(cur["decay"], value, cpar[i])
                b_current = current_bias[i] if biased else 0
                if dyn["accumulate"] == "exact":
                    value = ovf_v2(value + sum(events) + b_current, ifmt)
                else:
                    value = ovf_v2(value + b_current, ifmt)
                    for e in events:
                        value = ovf_v2(value + e, ifmt)
                if cur["order"] == "add_then_decay":
                    value = decay_v2(cur["decay"], value, cpar[i])
                new_i.append(value)
                drive = value
            else:
                drive = sum(events)
            u = decay_v2(dyn["membrane_decay"], v[i], mpar[i])
            if dyn["membrane_sum"] == "exact":
                vp = ovf_v2(u + drive + bias_i, vfmt)
            else:
                delta = ovf_v2(u - v[i] + drive, vfmt)
                delta = ovf_v2(delta + bias_i, vfmt)
                vp = ovf_v2(v[i] + delta, vfmt)
            count = 0
            if frozen[i] > 0:
                vp = v[i]
                frozen[i] -= 1
            else:
                while count < max_spikes[i] and (vp >= theta[i] if dyn["compare"] == ">="
                                                 else vp > theta[i]):
                    count += 1
                    if doc["reset"] == "subtract":
                        vp -= theta[i]
                    elif doc["reset"] == "zero":
                        vp = doc.get("reset_value", 0)
                        break
                    else:
                        break
                if count:
                    frozen[i] = refractory[i]
            new_v.append(vp)
            new_s.append(count)
        v, s, current = new_v, new_s, (new_i if cur is not None else None)
        out_s.append(s)
        out_v.append(v)
        out_i.append(new_i)
    return out_s, out_v, out_i


# ---------------------------------------------------------------------------------------------
# Structured layers (format version 4): written from docs/semantics.md's "Structured layers"
# section alone, by gathering each output's window (the golden model scatters each event).


def _as_pair(value):
    return (value, value) if isinstance(value, int) else (value[0], value[-1])


def _pool_gather(values, shape, op):
    """values: dict (c, y, x) → count; a sum over each window, padding counts as zero."""
    c_count, height, width = shape
    (kh, kw), (sh, sw), (ph, pw) = (_as_pair(op["kernel"]), _as_pair(op.get("stride", op["kernel"])),
                                    _as_pair(op.get("padding", 0)))
    out_h, out_w = (height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
    out = {}
    for c in range(c_count):
        for oy in range(out_h):
            for ox in range(out_w):
                total = 0
                for ky in range(kh):
                    for kx in range(kw):
                        y, x = oy * sh - ph + ky, ox * sw - pw + kx
                        if 0 <= y < height and 0 <= x < width:
                            total += values[(c, y, x)]
                out[(c, oy, ox)] = total
    return out, (c_count, out_h, out_w)


def _conv_gather(values, shape, op):
    _, height, width = shape
    weight = op["weight"]
    c_out, per_group, kh, kw = len(weight), len(weight[0]), len(weight[0][0]), len(weight[0][0][0])
    (sh, sw), (ph, pw), (dh, dw) = (_as_pair(op.get("stride", 1)), _as_pair(op.get("padding", 0)),
                                    _as_pair(op.get("dilation", 1)))
    groups = op.get("groups", 1)
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    bias = op.get("bias") or [0] * c_out
    out = {}
    for o in range(c_out):
        group = o // (c_out // groups)
        for oy in range(out_h):
            for ox in range(out_w):
                total = 0
                for i in range(per_group):
                    channel = group * per_group + i
                    for ky in range(kh):
                        for kx in range(kw):
                            y, x = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
                            if 0 <= y < height and 0 <= x < width:
                                total += weight[o][i][ky][kx] * values[(channel, y, x)]
                out[(o, oy, ox)] = total
    return out, (c_out, out_h, out_w), [bias[o] for o in range(c_out) for _ in range(out_h * out_w)]


def projection_current(values, shape, ops):
    """The current a projection sends to its target's neurons (a list, in neuron order) from
    the source's spike counts `values` (a flat list in C-order of `shape`), and its bias."""
    if len(shape) == 3:
        c_count, height, width = shape
        current = {(c, y, x): values[(c * height + y) * width + x]
                   for c in range(c_count) for y in range(height) for x in range(width)}
    else:
        current = {(i,): values[i] for i in range(shape[0])}
    bias = None
    for op in ops:
        kind = op["kind"]
        if kind in ("sumpool2d", "avgpool2d"):
            current, shape = _pool_gather(current, shape, op)
        elif kind == "flatten":
            flat = [current[key] for key in sorted(current)]
            current, shape = {(i,): v for i, v in enumerate(flat)}, (len(flat),)
        elif kind == "conv2d":
            current, shape, bias = _conv_gather(current, shape, op)
        else:
            flat = [current[(i,)] for i in range(shape[0])]
            current = {(o,): sum(w * v for w, v in zip(row, flat, strict=True))
                       for o, row in enumerate(op["weight"])}
            shape = (len(op["weight"]),)
            bias = op.get("bias") or [0] * shape[0]
    return [current[key] for key in sorted(current)], bias


def run_structured(doc, steps, inputs=None):
    """Run a version-4 document (projections, semantics v1). Returns (spikes, states)."""
    layers = doc["layers"]
    first, spans = 0, {}
    for layer in layers:
        spans[layer["name"]] = (first, layer["neurons"], tuple(layer.get("shape") or
                                                               [layer["neurons"]]))
        first += layer["neurons"]
    n, k = doc["neurons"], doc["inputs"]
    thresholds = []
    for layer in layers:
        own = layer.get("threshold")
        thresholds += [doc["threshold"] if own is None else own] * layer["neurons"]
    if doc.get("neuron_thresholds") is not None:
        thresholds = list(doc["neuron_thresholds"])
    v = list(doc.get("initial_state") or [0] * n)
    s = [0] * n
    bias = [0] * n
    spikes_out, states_out = [], []
    for t in range(steps):
        x = list(inputs[t]) if inputs is not None else [0] * k
        current = [0] * n
        for projection in doc["projections"]:
            if projection["source"] == "input":
                values, shape = x, tuple(doc["input_shape"])
            else:
                start, size, shape = spans[projection["source"]]
                values = s[start:start + size]
            into, own_bias = projection_current(values, shape, projection["ops"])
            start, size, _ = spans[projection["target"]]
            for i in range(size):
                current[start + i] += into[i]
                if t == 0 and own_bias is not None:
                    bias[start + i] += own_bias[i]
        new_v, new_s = [], []
        for i in range(n):
            vi, si = update_neuron(
                v[i], current[i] + bias[i], doc["state_bits"], doc["representation"],
                doc["overflow"], doc["leak_shift"], thresholds[i], doc["reset"],
                doc.get("reset_value", 0))
            new_v.append(vi)
            new_s.append(1 if si else 0)
        v, s = new_v, new_s
        spikes_out.append(s)
        states_out.append(v)
    return spikes_out, states_out
