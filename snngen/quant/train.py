"""PyTorch parts (optional extra ``train``): a spike encoder, snnTorch training, and Hutchinson
estimates of each layer's Hessian trace.

The Hessian is taken of the model *as the hardware runs it*: :func:`layered_snn` rebuilds an
imported :class:`~snngen.quant.nir_import.FloatModel` in PyTorch with the integer semantics' structure
(a spike crosses one layer per step, the shift leak ``v − v·2^−k``, threshold 1, the chosen reset)
and a surrogate gradient that is twice differentiable, so Hessian-vector products exist.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError
from .nir_import import FloatModel

__all__ = ["encode_intensity", "finetune_quantized", "hutchinson_traces", "layered_snn",
           "quantize_for_accuracy", "require_torch", "unrounded_accuracy"]


def require_torch():
    """The torch module, or a one-line error naming the extra to install."""
    try:
        import torch
    except ImportError:
        raise InputError("this needs PyTorch: pip install torch==2.13.0 && "
                         "pip install 'snngen[train]'") from None
    return torch


def encode_intensity(values: np.ndarray, steps: int, maximum: float) -> np.ndarray:
    """Deterministic rate code: a value v in 0..maximum spikes ``round(steps · v / maximum)``
    times in `steps` steps, evenly spread (spike at t when ⌊(t+1)·r⌋ > ⌊t·r⌋, r = v / maximum).

    Returns uint8 of shape (samples, steps, features). No randomness, so the integer model, the
    float model and the RTL all see the same spikes.
    """
    rate = np.clip(np.asarray(values, dtype=np.float64) / maximum, 0.0, 1.0)
    t = np.arange(steps + 1, dtype=np.float64)[None, :, None]
    # Exact in rationals for the 17 intensities of the digits set: r = v/16, steps a multiple.
    counts = np.floor(t * rate[:, None, :] + 1e-9)
    return (np.diff(counts, axis=1) > 0).astype(np.uint8)


class _Surrogate:
    """Heaviside forward, logistic slope backward, written so autograd can differentiate twice."""

    def __init__(self, torch, slope: float):
        self.torch, self.slope = torch, slope

    def __call__(self, u, strict: bool = False):
        """Spike where u ≥ 0, or u > 0 with `strict` (semantics v2 imports compare v > θ)."""
        smooth = self.torch.sigmoid(self.slope * u)
        fired = u > 0 if strict else u >= 0
        # (smooth − smooth) is exactly 0 in value, so the spike is exactly 0 or 1.
        return fired.to(u.dtype) + (smooth - smooth.detach())


def layered_snn(model: FloatModel, reset: str = "subtract", slope: float = 5.0):
    """A torch.nn.Module running `model` with the integer semantics' structure in float.

    ``forward(x)`` takes spikes (batch, T, K) and returns the readout layer's spike counts over
    T + L − 1 steps (batch, size of the last layer); ``layer_weights`` are the per-layer weight
    blocks (rows of the layer, columns: neurons then inputs), masked to the declared weights.
    """
    torch = require_torch()

    class _LayeredSNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.n, self.k = model.neurons, model.inputs
            self.rows = [model.layer_rows(i) for i in range(len(model.layers))]
            self.layer_weights = torch.nn.ParameterList([
                torch.nn.Parameter(torch.tensor(model.layer_weights(i), dtype=torch.float64))
                for i in range(len(model.layers))])
            self.masks = [torch.tensor(model.structure[r], dtype=torch.float64)
                          for r in self.rows]
            self.bias = torch.tensor(model.bias, dtype=torch.float64)
            self.leak = 0.0 if model.leak_shift is None else 2.0 ** -model.leak_shift
            dyn = model.dynamics
            # Semantics v2 (a synaptic current, per-neuron decays, neurons that never spike,
            # each layer's bias from its first input on): the golden model's step in float.
            self.dynamics = dyn
            if dyn is not None:
                def tensor(values):
                    return torch.tensor(np.asarray(values, dtype=np.float64))
                self.beta = tensor(dyn.membrane_keep)
                self.alpha = None if dyn.current_keep is None else tensor(dyn.current_keep)
                self.current_bias = tensor(dyn.current_bias)
                self.spiking = tensor(dyn.spiking)
                self.bias_from = tensor(dyn.depth - 1)
            self.spike = _Surrogate(torch, slope)
            self.reset = reset
            # Optional: maps the weight blocks before use (quantization-aware training).
            self.weight_transform = None
            # Set to a list to collect every step's spikes (batch, N) there.
            self.record = None

        def forward(self, x):
            batch, steps, _ = x.shape
            extra = len(self.rows) - 1
            weights = list(self.layer_weights)
            if self.weight_transform is not None:
                weights = self.weight_transform(weights)
            full = torch.cat([w * m for w, m in zip(weights, self.masks, strict=True)])
            recurrent, incoming = full[:, :self.n], full[:, self.n:]
            v = torch.zeros(batch, self.n, dtype=torch.float64)
            s = torch.zeros(batch, self.n, dtype=torch.float64)
            readout = self.rows[-1]
            counts = torch.zeros(batch, readout.stop - readout.start, dtype=torch.float64)
            synaptic = torch.zeros(batch, self.n, dtype=torch.float64)
            for t in range(steps + extra):
                if self.dynamics is not None:
                    biased = (self.bias_from <= t).to(torch.float64)
                    drive = s @ recurrent.T
                    if t < steps:
                        drive = drive + x[:, t] @ incoming.T
                    if self.alpha is not None:
                        synaptic = self.alpha * synaptic + drive + self.current_bias * biased
                        drive = synaptic
                    v = self.beta * v + drive + self.bias * biased
                    s = self.spike(v - 1.0, strict=True) * self.spiking
                else:
                    current = s @ recurrent.T + self.bias
                    if t < steps:
                        current = current + x[:, t] @ incoming.T
                    v = v - v * self.leak + current
                    s = self.spike(v - 1.0)
                v = v - s if self.reset == "subtract" else v * (1.0 - s)
                counts = counts + s[:, readout]
                if self.record is not None:
                    self.record.append(s.detach())
            return counts

    return _LayeredSNN()


def unrounded_accuracy(model: FloatModel, inputs: np.ndarray, labels: np.ndarray, *,
                       reset: str = "subtract") -> float:
    """Accuracy of `model` before any rounding: :func:`layered_snn` in float64, readout by
    the most spikes (what quantization is measured against)."""
    torch = require_torch()
    with torch.no_grad():
        counts = layered_snn(model, reset=reset)(torch.tensor(inputs, dtype=torch.float64))
    return float((counts.numpy().argmax(axis=1) == labels).mean())


def hutchinson_traces(model: FloatModel, inputs: np.ndarray, labels: np.ndarray, *,
                      probes: int = 64, seed: int = 0, reset: str = "subtract") -> list[float]:
    """Hutchinson estimates ``E[vᵀ H_ℓ v]`` (Rademacher v) of each layer's Hessian trace.

    H_ℓ is the Hessian of the cross-entropy of the readout spike counts, with respect to layer
    ℓ's declared weights, on (`inputs`, `labels`). Hessian-vector products by double backward
    through :func:`layered_snn`. Deterministic for a given `seed`.
    """
    torch = require_torch()
    torch.manual_seed(seed)
    network = layered_snn(model, reset=reset)
    x = torch.tensor(inputs, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.long)
    loss = torch.nn.functional.cross_entropy(network(x), y)
    params = list(network.layer_weights)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    generator = torch.Generator().manual_seed(seed)
    totals = [0.0] * len(params)
    for _ in range(probes):
        vectors = [(torch.randint(0, 2, p.shape, generator=generator, dtype=torch.float64) * 2 - 1)
                   * mask for p, mask in zip(params, network.masks, strict=True)]
        products = torch.autograd.grad(grads, params, grad_outputs=vectors, retain_graph=True)
        for i, (v, hv) in enumerate(zip(vectors, products, strict=True)):
            totals[i] += float((v * hv).sum())
    return [total / probes for total in totals]



def finetune_quantized(model: FloatModel, thresholds, bits, inputs: np.ndarray,
                       labels: np.ndarray, *, epochs: int = 15, batch: int = 64,
                       learning_rate: float = 1e-3, seed: int = 0,
                       reset: str = "subtract") -> FloatModel:
    """Quantization-aware fine-tuning: a copy of `model` trained with every layer's weights
    rounded to its integer grid (θ per layer or per neuron, b_ℓ bits) in the forward pass and
    straight-through
    gradients, so training sees the rounding the hardware will do. Deterministic for a given
    `seed`."""
    torch = require_torch()
    torch.manual_seed(seed)
    network = layered_snn(model, reset=reset)
    # θ per layer: a number, or one per neuron (a column, so it scales each row).
    grids = [(torch.tensor(np.asarray(theta, dtype=np.float64).reshape(-1, 1)),
              -(1 << (width - 1)), (1 << (width - 1)) - 1)
             for theta, width in zip(thresholds, bits, strict=True)]

    def rounded(weights):
        out = []
        for w, (theta, lo, hi) in zip(weights, grids, strict=True):
            q = torch.clamp(torch.round(w * theta), lo, hi) / theta
            out.append(w + (q - w).detach())
        return out

    network.weight_transform = rounded
    x_all = torch.tensor(inputs, dtype=torch.float64)
    y_all = torch.tensor(labels, dtype=torch.long)
    optimizer = torch.optim.Adam(network.layer_weights.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x_all), generator=generator)
        for start in range(0, len(order), batch):
            chosen = order[start:start + batch]
            loss = torch.nn.functional.cross_entropy(network(x_all[chosen]), y_all[chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    recurrent, incoming = model.recurrent.copy(), model.incoming.copy()
    n = model.neurons
    for index, w in enumerate(network.layer_weights):
        rows = model.layer_rows(index)
        block = w.detach().numpy() * model.structure[rows]
        recurrent[rows], incoming[rows] = block[:, :n], block[:, n:]
    return dataclasses.replace(model, recurrent=recurrent, incoming=incoming)


# Scales of θ tried by quantization-aware fine-tuning (θ·scale per layer, all layers at once):
# a coarser grid with more range or a finer one, judged on the validation split.
QAT_THRESHOLD_SCALES = (1.0, 1.25, 1.5)


@dataclasses.dataclass(frozen=True)
class QuantizedCandidate:
    """One way of quantizing a model at given widths, with its validation accuracy.

    Members
    -------
    method : str
        ``"ptq"`` (post-training rounding) or ``"qat ×s"`` (fine-tuned on the grid θ·s).
    network : Network
    validation_accuracy : float
    """

    method: str
    network: object
    validation_accuracy: float


def quantize_for_accuracy(model: FloatModel, bits, fit: tuple[np.ndarray, np.ndarray],
                          validation: tuple[np.ndarray, np.ndarray], *, qat_epochs: int = 20,
                          seed: int = 0, reset: str = "subtract", tolerance: float = 0.005,
                          granularity: str = "neuron", state_bits: int | None = None,
                          representation: str = "signed", overflow: str = "saturate",
                          progress=None
                          ) -> tuple[QuantizedCandidate, list[QuantizedCandidate]]:
    """Quantize `model` at `bits`: post-training quantization when it is good enough, else the
    best quantization-aware fine-tuning.

    Post-training quantization (PTQ: the error-minimizing θ per layer) is kept when its
    accuracy on `validation`, with the integer golden model, is within `tolerance` of the
    unrounded model's (:func:`layered_snn` in float). Otherwise quantization-aware fine-tuning
    on `fit` starts from the same θ scaled by each of :data:`QAT_THRESHOLD_SCALES`, and the
    candidate with the best validation accuracy wins (ties: PTQ, then the smaller scale). The
    test set is never looked at. Returns (chosen, all candidates measured).
    """
    from .quantize import accuracy, quantize_model

    readout = model.layer_rows(len(model.layers) - 1)
    candidates = []

    def score(method, network):
        candidates.append(QuantizedCandidate(
            method, network, accuracy(network, validation[0], validation[1], readout)))
        if progress is not None:
            progress()

    unrounded = unrounded_accuracy(model, validation[0], validation[1], reset=reset)
    def quantize(source, thresholds=None):
        return quantize_model(source, bits, reset=reset, granularity=granularity,
                              thresholds=thresholds, state_bits=state_bits,
                              representation=representation, overflow=overflow)

    network, reports = quantize(model)
    score("ptq", network)
    if candidates[0].validation_accuracy >= unrounded - tolerance:
        return candidates[0], candidates
    for scale in QAT_THRESHOLD_SCALES:
        thresholds = [np.maximum(1, np.rint(np.array(r.thresholds) * scale)).astype(np.int64)
                      for r in reports]
        tuned = finetune_quantized(model, thresholds, bits, fit[0], fit[1], epochs=qat_epochs,
                                   seed=seed, reset=reset)
        network, _ = quantize(tuned, thresholds)
        score(f"qat x{scale:g}", network)
    best = max(candidates, key=lambda c: c.validation_accuracy)  # first of equals: PTQ first
    return best, candidates
