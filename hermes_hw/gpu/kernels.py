"""Work of each GPU kernel the simulator needs: minimal DRAM bytes and FLOPs, from its shape.

Pure arithmetic, no timing. Conventions: weights and activations are ``dtype_bytes`` each (FP16 =
2, as in the Hermes paper); a linear layer computes ``y[m, n] = x[m, k] @ W[n, k]^T``; bytes are
the fewest a kernel must move through device memory (each operand read once, each output written
once); FLOPs count a multiply-add as 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SECTOR_BYTES = 32
"""DRAM access granularity of NVIDIA GPUs (one L2 sector); a gathered row is rounded up to it."""

INDEX_BYTES = 4
"""Bytes per gathered-row index (int32)."""


@dataclass(frozen=True)
class KernelWork:
    """What one kernel launch does."""

    kernel: str
    nbytes: float
    flops: float
    shape: dict[str, int | float]
    gathered: bool = False
    """True when the weight rows are read through an index list (hot-neuron kernel)."""

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOP per byte."""
        return self.flops / self.nbytes if self.nbytes else math.inf


def _positive(**values: int | float) -> None:
    for key, value in values.items():
        if value is None or value <= 0:
            raise ValueError(f"{key} must be > 0, got {value}")


def matmul(m: int, n: int, k: int, dtype_bytes: int = 2, *, kernel: str = "gemm") -> KernelWork:
    """``y[m, n] = x[m, k] @ W[n, k]^T``: reads x and W, writes y."""
    _positive(m=m, n=n, k=k, dtype_bytes=dtype_bytes)
    nbytes = (m * k + n * k + m * n) * dtype_bytes
    return KernelWork(kernel, nbytes, 2.0 * m * n * k, {"m": m, "n": n, "k": k})


def gemv(rows: int, cols: int, batch: int = 1, dtype_bytes: int = 2) -> KernelWork:
    """Dense layer on ``batch`` tokens: a rows x cols weight matrix times batch vectors."""
    _positive(rows=rows, cols=cols, batch=batch)
    work = matmul(batch, rows, cols, dtype_bytes, kernel="gemv")
    return KernelWork("gemv", work.nbytes, work.flops,
                      {"rows": rows, "cols": cols, "batch": batch})


def sparse_gemv(
    gathered_rows: int, cols: int, batch: int = 1, dtype_bytes: int = 2
) -> KernelWork:
    """Hot-neuron kernel: only ``gathered_rows`` rows of a weight matrix (chosen by an int32
    index list) times ``batch`` vectors; each row read is rounded up to 32-byte sectors.

    For FC2 the neurons are columns; store FC2 transposed so they are rows here too.
    """
    _positive(gathered_rows=gathered_rows, cols=cols, batch=batch, dtype_bytes=dtype_bytes)
    row_bytes = math.ceil(cols * dtype_bytes / SECTOR_BYTES) * SECTOR_BYTES
    nbytes = (
        gathered_rows * row_bytes
        + gathered_rows * INDEX_BYTES
        + batch * (cols + gathered_rows) * dtype_bytes
    )
    return KernelWork(
        "sparse_gemv",
        nbytes,
        2.0 * gathered_rows * cols * batch,
        {"gathered_rows": gathered_rows, "cols": cols, "batch": batch},
        gathered=True,
    )


def output_projection(hidden: int, batch: int = 1, dtype_bytes: int = 2) -> KernelWork:
    """Attention output projection W_O (hidden x hidden, dense: no sparsity in Hermes)."""
    _positive(hidden=hidden, batch=batch)
    work = gemv(hidden, hidden, batch, dtype_bytes)
    return KernelWork("output_projection", work.nbytes, work.flops,
                      {"hidden": hidden, "batch": batch})


def attention_decode(
    batch: int,
    heads: int,
    kv_len: int,
    head_dim: int,
    kv_heads: int | None = None,
    dtype_bytes: int = 2,
) -> KernelWork:
    """One decode step of attention: one query per sequence against ``kv_len`` cached keys and
    values (GQA when kv_heads < heads). Reads K, V, q; writes the output. FLOPs: QK^T and PV
    (2 x 2 x heads x kv_len x head_dim per sequence); softmax is not counted."""
    kv_heads = heads if kv_heads is None else kv_heads
    _positive(batch=batch, heads=heads, kv_len=kv_len, head_dim=head_dim, kv_heads=kv_heads)
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    kv_bytes = 2 * batch * kv_heads * kv_len * head_dim * dtype_bytes
    qo_bytes = 2 * batch * heads * head_dim * dtype_bytes
    flops = 4.0 * batch * heads * kv_len * head_dim
    shape = {"batch": batch, "heads": heads, "kv_len": kv_len, "head_dim": head_dim,
             "kv_heads": kv_heads}
    return KernelWork("attention_decode", kv_bytes + qo_bytes, flops, shape)


def prefill_attention(
    batch: int,
    heads: int,
    seq_len: int,
    head_dim: int,
    kv_heads: int | None = None,
    causal: bool = True,
    dtype_bytes: int = 2,
) -> KernelWork:
    """Fused (flash-style) attention over a whole prompt: reads Q, K, V once, writes O.
    FLOPs 4 x heads x seq_len^2 x head_dim per sequence, halved when causal."""
    kv_heads = heads if kv_heads is None else kv_heads
    _positive(batch=batch, heads=heads, seq_len=seq_len, head_dim=head_dim, kv_heads=kv_heads)
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    nbytes = batch * seq_len * head_dim * (2 * heads + 2 * kv_heads) * dtype_bytes
    flops = 4.0 * batch * heads * seq_len * seq_len * head_dim * (0.5 if causal else 1.0)
    shape = {"batch": batch, "heads": heads, "seq_len": seq_len, "head_dim": head_dim,
             "kv_heads": kv_heads, "causal": int(causal)}
    return KernelWork("prefill_attention", nbytes, flops, shape)


def prefill_linear(tokens: int, rows: int, cols: int, dtype_bytes: int = 2) -> KernelWork:
    """A linear layer over a whole prompt (``tokens`` = batch x prompt length): a GEMM."""
    _positive(tokens=tokens, rows=rows, cols=cols)
    work = matmul(tokens, rows, cols, dtype_bytes, kernel="prefill_linear")
    return KernelWork("prefill_linear", work.nbytes, work.flops,
                      {"tokens": tokens, "rows": rows, "cols": cols})


def elementwise(
    n_elements: int, inputs: int = 1, outputs: int = 1, flops_per_element: float = 1.0,
    dtype_bytes: int = 2,
) -> KernelWork:
    """An element-wise kernel (ReLU, residual add, LayerNorm-like): memory-bound streaming."""
    _positive(n_elements=n_elements, dtype_bytes=dtype_bytes)
    nbytes = n_elements * (inputs + outputs) * dtype_bytes
    return KernelWork("elementwise", nbytes, flops_per_element * n_elements,
                      {"n_elements": n_elements, "inputs": inputs, "outputs": outputs})


def memcpy_d2d(nbytes: int) -> KernelWork:
    """A device-to-device copy: reads and writes ``nbytes``."""
    _positive(nbytes=nbytes)
    return KernelWork("memcpy_d2d", 2.0 * nbytes, 0.0, {"nbytes": nbytes})
