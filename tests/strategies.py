"""Hypothesis strategies: random network.json documents over every semantics option."""

import itertools

import numpy as np
from hypothesis import strategies as st

REPRESENTATIONS = ("signed", "unsigned")
OVERFLOWS = ("saturate", "wrap")
RESETS = ("zero", "subtract", "none")


def lattice(bits, representation):
    if representation == "signed":
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


@st.composite
def network_documents(draw, max_neurons=10, max_inputs=4, bits=None, weight_bits=None):
    """A valid network.json document (a dict), drawn over every option."""
    b = draw(bits if bits is not None else st.integers(2, 16))
    representation = draw(st.sampled_from(REPRESENTATIONS))
    overflow = draw(st.sampled_from(OVERFLOWS))
    reset = draw(st.sampled_from(RESETS))
    lo, hi = lattice(b, representation)
    bw = draw(weight_bits if weight_bits is not None else st.integers(1, min(b + 2, 16)))
    wlo, whi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    n = draw(st.integers(1, max_neurons))
    k = draw(st.integers(0, max_inputs))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from((0.0, 0.2, 0.5, 1.0)))
    rng = np.random.default_rng(seed)
    # Weights skewed towards the extremes now and then, so overflow paths are exercised.
    extreme = draw(st.booleans())
    if extreme:
        weights = rng.choice([wlo, whi, 0, wlo // 2, whi // 2], size=(n, n))
        inputs = rng.choice([wlo, whi, 0], size=(n, k))
    else:
        weights = rng.integers(wlo, whi + 1, size=(n, n))
        inputs = rng.integers(wlo, whi + 1, size=(n, k))
    weights = weights * (rng.random((n, n)) < density)
    return {
        "format": "snngen-network",
        "version": 1,
        "neurons": n,
        "inputs": k,
        "state_bits": b,
        "weight_bits": bw,
        "representation": representation,
        "overflow": overflow,
        "leak_shift": draw(st.none() | st.integers(1, b - 1)),
        "threshold": draw(st.integers(max(1, lo), hi)),
        "reset": reset,
        "reset_value": draw(st.integers(lo, hi)),
        "weights": weights.tolist(),
        "input_weights": inputs.tolist(),
        "bias": rng.integers(lo, hi + 1, size=n).tolist() if draw(st.booleans()) else [0] * n,
        "initial_state": rng.integers(lo, hi + 1, size=n).tolist(),
    }


@st.composite
def layered_documents(draw, max_neurons=12, max_layers=3, **options):
    """A version-2 document: :func:`network_documents` split into 1..`max_layers` layers, each
    with its own weight width (≤ the network's) and threshold; weights clipped to the layer's
    width so the document is valid."""
    doc = draw(network_documents(max_neurons=max_neurons, **options))
    n, bw = doc["neurons"], doc["weight_bits"]
    lo, hi = lattice(doc["state_bits"], doc["representation"])
    count = draw(st.integers(1, min(max_layers, n)))
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), min_size=count - 1, max_size=count - 1,
                                unique=True))) if count > 1 else []
    bounds = [0, *cuts, n]
    weights, input_weights = np.array(doc["weights"]), np.array(doc["input_weights"])
    weights, input_weights = weights.reshape(n, n), input_weights.reshape(n, doc["inputs"])
    layers = []
    for index, (first, end) in enumerate(itertools.pairwise(bounds)):
        bits = draw(st.integers(1, bw))
        wlo, whi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        weights[first:end] = np.clip(weights[first:end], wlo, whi)
        input_weights[first:end] = np.clip(input_weights[first:end], wlo, whi)
        threshold = draw(st.none() | st.integers(max(1, lo), hi))
        layers.append({"name": f"L{index}", "neurons": end - first, "weight_bits": bits,
                       "threshold": threshold})
    result = {**doc, "version": 2, "weights": weights.tolist(),
              "input_weights": input_weights.tolist(), "layers": layers}
    if draw(st.booleans()):
        # Per-neuron thresholds instead of per-layer ones.
        for layer in layers:
            layer["threshold"] = None
        result["neuron_thresholds"] = draw(st.lists(st.integers(max(1, lo), hi), min_size=n,
                                                    max_size=n))
    return result


@st.composite
def runs(draw, documents=None, max_steps=40):
    """(document, steps, inputs as a list of 0/1 rows)."""
    doc = draw(documents if documents is not None else network_documents())
    steps = draw(st.integers(1, max_steps))
    seed = draw(st.integers(0, 2**32 - 1))
    rate = draw(st.sampled_from((0.0, 0.3, 1.0)))
    x = (np.random.default_rng(seed).random((steps, doc["inputs"])) < rate).astype(np.uint8)
    return doc, steps, x


DECAYS = ("none", "shift", "shift_min1", "multiply")


def lattice_v3(bits, representation, overflow, rail):
    if representation == "unsigned":
        return 0, (1 << bits) - 1
    if rail == "symmetric":
        top = (1 << (bits - 1)) - 1
        return -top, top + (overflow == "wrap")
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@st.composite
def v3_documents(draw, max_neurons=8, max_inputs=3, bits=None):
    """A version-3 document over every semantics-v2 option (drawn per field and per neuron)."""
    doc = draw(network_documents(max_neurons=max_neurons, max_inputs=max_inputs, bits=bits))
    n, b = doc["neurons"], doc["state_bits"]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rail = draw(st.sampled_from(("full", "symmetric"))) if doc["representation"] == "signed" \
        else "full"
    lo, hi = lattice_v3(b, doc["representation"], doc["overflow"], rail)

    def decay_parameter(mode, width):
        if mode == "none":
            return 0
        top = 4096 if mode == "multiply" else width - 1
        values = rng.integers(0, top + 1, size=n).tolist()
        return values if draw(st.booleans()) else values[0]

    current = None
    if draw(st.booleans()):
        cb = draw(st.integers(2, 16))
        crep = draw(st.sampled_from(REPRESENTATIONS))
        covf = draw(st.sampled_from(OVERFLOWS))
        crail = draw(st.sampled_from(("full", "symmetric"))) if crep == "signed" else "full"
        clo, chi = lattice_v3(cb, crep, covf, crail)
        cdecay = draw(st.sampled_from(DECAYS))
        current = {"state_bits": cb, "representation": crep, "overflow": covf, "rail": crail,
                   "decay": cdecay, "decay_parameter": decay_parameter(cdecay, cb),
                   "order": draw(st.sampled_from(("decay_then_add", "add_then_decay"))),
                   "initial": rng.integers(clo, chi + 1, size=n).tolist()}
        if draw(st.booleans()):
            current["bias"] = rng.integers(clo, chi + 1, size=n).tolist()
    reset = doc["reset"]
    multi = reset == "subtract" and draw(st.booleans())
    mdecay = draw(st.sampled_from(DECAYS))
    staged = doc["representation"] == "signed" and draw(st.booleans())
    dynamics = {
        "current": current,
        "membrane_decay": mdecay,
        "membrane_decay_parameter": decay_parameter(mdecay, b),
        "accumulate": "per_event" if current is not None and draw(st.booleans()) else "exact",
        "membrane_sum": "staged" if staged else "exact",
        "compare": draw(st.sampled_from((">=", ">"))),
        "max_spikes": rng.integers(1, 5, size=n).tolist() if multi else 1,
        "refractory": rng.integers(0, 3, size=n).tolist() if draw(st.booleans()) else 0,
        "weight_shift": draw(st.integers(0, 3)),
        "input_weight_shift": rng.integers(0, 3, size=n).tolist(),
        "input_max_count": draw(st.sampled_from((1, 3))),
        "compat": None,
    }
    if draw(st.booleans()):
        dynamics["bias_delay"] = rng.integers(0, 4, size=n).tolist()
    return {**doc, "version": 3, "leak_shift": None, "rail": rail,
            "threshold": draw(st.integers(max(1, lo), hi)),
            "reset_value": draw(st.integers(lo, hi)),
            "bias": rng.integers(lo, hi + 1, size=n).tolist() if draw(st.booleans()) else [0] * n,
            "initial_state": rng.integers(lo, hi + 1, size=n).tolist(),
            "dynamics": dynamics}


def _conv_out(size, kernel, stride, padding, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@st.composite
def conv_ops(draw, shape, rng, weight_range, pool=True, max_channels=4, bias_low=-3):
    """(ops, output shape): [a pool,] a conv2d, or [a pool,] flatten and dense, from `shape`."""
    wlo, whi = weight_range
    ops = []
    c, h, w = shape
    if pool and draw(st.booleans()):
        kernel = draw(st.integers(1, min(3, h + 2, w + 2)))
        padding = draw(st.integers(0, kernel // 2))
        stride = draw(st.integers(1, 3))
        oh, ow = _conv_out(h, kernel, stride, padding), _conv_out(w, kernel, stride, padding)
        if oh >= 1 and ow >= 1:
            ops.append({"kind": draw(st.sampled_from(("sumpool2d", "avgpool2d"))),
                        "kernel": [kernel, kernel], "stride": [stride, stride],
                        "padding": [padding, padding]})
            h, w = oh, ow
    if draw(st.booleans()):
        outputs = draw(st.integers(1, 6))
        ops.append({"kind": "flatten"})
        weight = rng.integers(wlo, whi + 1, size=(outputs, c * h * w))
        op = {"kind": "dense", "weight": weight.tolist()}
        if draw(st.booleans()):
            op["bias"] = rng.integers(bias_low, 4, size=outputs).tolist()
        ops.append(op)
        return ops, (outputs,)
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))
    c_out = groups * draw(st.integers(1, max(1, max_channels // groups)))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    padding = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
    dilation = [draw(st.integers(1, 2)), draw(st.integers(1, 2))]
    oh = _conv_out(h, kh, stride[0], padding[0], dilation[0])
    ow = _conv_out(w, kw, stride[1], padding[1], dilation[1])
    if oh < 1 or ow < 1:  # the kernel does not fit: a 1×1 one always does
        kh = kw = 1
        dilation = [1, 1]
        oh, ow = _conv_out(h, 1, stride[0], padding[0]), _conv_out(w, 1, stride[1], padding[1])
    weight = rng.integers(wlo, whi + 1, size=(c_out, c // groups, kh, kw))
    weight = weight * (rng.random(weight.shape) < draw(st.sampled_from((0.5, 1.0))))
    op = {"kind": "conv2d", "weight": weight.tolist(), "stride": stride, "padding": padding,
          "dilation": dilation, "groups": groups}
    if draw(st.booleans()):
        op["bias"] = rng.integers(bias_low, 4, size=c_out).tolist()
    ops.append(op)
    return ops, (c_out, oh, ow)


@st.composite
def structured_documents(draw, max_side=6):
    """A version-4 document: input → conv → layer A [→ pool/flatten/dense or conv → layer B],
    sometimes a recurrent dense projection, over every semantics-v1 option."""
    b = draw(st.integers(4, 12))
    representation = draw(st.sampled_from(REPRESENTATIONS))
    lo, hi = lattice(b, representation)
    bw = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weight_range = (-(1 << (bw - 1)), (1 << (bw - 1)) - 1)
    input_shape = (draw(st.integers(1, 3)), draw(st.integers(2, max_side)),
                   draw(st.integers(2, max_side)))
    bias_low = max(lo, -3)
    first_ops, shape_a = draw(conv_ops(input_shape, rng, weight_range, pool=draw(st.booleans()),
                                       bias_low=bias_low))
    layers = [{"name": "A", "neurons": int(np.prod(shape_a)), "weight_bits": bw,
               "threshold": draw(st.integers(max(1, lo), hi)), "shape": list(shape_a)}]
    projections = [{"source": "input", "target": "A", "ops": first_ops}]
    if len(shape_a) == 3 and draw(st.booleans()):
        ops, shape_b = draw(conv_ops(shape_a, rng, weight_range, bias_low=bias_low))
        layers.append({"name": "B", "neurons": int(np.prod(shape_b)), "weight_bits": bw,
                       "threshold": draw(st.integers(max(1, lo), hi)), "shape": list(shape_b)})
        projections.append({"source": "A", "target": "B", "ops": ops})
    if draw(st.booleans()):
        last = layers[-1]
        ops = ([{"kind": "flatten"}] if len(last["shape"]) == 3 else []) + [
            {"kind": "dense", "weight": (rng.integers(*weight_range, endpoint=True,
                                                      size=(last["neurons"], last["neurons"]))
                                         * (rng.random((last["neurons"],) * 2) < 0.3)).tolist()}]
        projections.append({"source": last["name"], "target": last["name"], "ops": ops})
    n = sum(layer["neurons"] for layer in layers)
    return {
        "format": "snngen-network", "version": 4, "neurons": n,
        "inputs": int(np.prod(input_shape)), "state_bits": b, "weight_bits": bw,
        "representation": representation, "overflow": draw(st.sampled_from(OVERFLOWS)),
        "leak_shift": draw(st.none() | st.integers(1, b - 1)),
        "threshold": layers[0]["threshold"], "reset": draw(st.sampled_from(RESETS)),
        "reset_value": draw(st.integers(lo, hi)),
        "input_shape": list(input_shape), "projections": projections,
        "initial_state": rng.integers(lo, hi + 1, size=n).tolist(), "layers": layers,
    }
