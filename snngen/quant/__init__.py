"""Networks users bring: NIR import, per-layer quantization, Hessian-guided bit allocation,
quantization-aware training, the energy model and the digits demo."""
