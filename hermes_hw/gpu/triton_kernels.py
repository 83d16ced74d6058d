"""Triton kernel for the hot-neuron (gathered-row) GEMV, used by `hermes gpu calibrate` only.

``y[b, r] = sum_c W[idx[r], c] * x[b, c]`` for r < len(idx): one pass over the selected rows,
no gathered copy of W. Importing this module needs triton (on the GPU machine only).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _gathered_gemv_kernel(
    w_ptr, idx_ptr, x_ptr, y_ptr, n_rows, n_cols, batch, stride_w, stride_x, stride_y,
    BLOCK_R: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_C: tl.constexpr,
):
    pid = tl.program_id(0)
    offs_r = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    mask_r = offs_r < n_rows
    rows = tl.load(idx_ptr + offs_r, mask=mask_r, other=0).to(tl.int64)
    offs_b = tl.arange(0, BLOCK_B)
    mask_b = offs_b < batch
    acc = tl.zeros((BLOCK_R, BLOCK_B), dtype=tl.float32)
    for c0 in range(0, n_cols, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        mask_c = offs_c < n_cols
        w = tl.load(w_ptr + rows[:, None] * stride_w + offs_c[None, :],
                    mask=mask_r[:, None] & mask_c[None, :], other=0.0).to(tl.float32)
        x = tl.load(x_ptr + offs_b[:, None] * stride_x + offs_c[None, :],
                    mask=mask_b[:, None] & mask_c[None, :], other=0.0).to(tl.float32)
        acc += tl.sum(w[:, None, :] * x[None, :, :], axis=2)
    y_offs = offs_b[None, :] * stride_y + offs_r[:, None]
    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty),
             mask=mask_r[:, None] & mask_b[None, :])


@triton.jit
def _gathered_dot_kernel(
    w_ptr, idx_ptr, x_ptr, y_ptr, n_rows, n_cols, batch, stride_w, stride_x, stride_y,
    BLOCK_R: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_C: tl.constexpr,
):
    pid = tl.program_id(0)
    offs_r = pid * BLOCK_R + tl.arange(0, BLOCK_R)
    mask_r = offs_r < n_rows
    rows = tl.load(idx_ptr + offs_r, mask=mask_r, other=0).to(tl.int64)
    offs_b = tl.arange(0, BLOCK_B)
    mask_b = offs_b < batch
    acc = tl.zeros((BLOCK_R, BLOCK_B), dtype=tl.float32)
    for c0 in range(0, n_cols, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        mask_c = offs_c < n_cols
        w = tl.load(w_ptr + rows[:, None] * stride_w + offs_c[None, :],
                    mask=mask_r[:, None] & mask_c[None, :], other=0.0)
        xt = tl.load(x_ptr + offs_b[None, :] * stride_x + offs_c[:, None],
                     mask=mask_c[:, None] & mask_b[None, :], other=0.0)
        acc = tl.dot(w, xt, acc)
    y_offs = offs_b[None, :] * stride_y + offs_r[:, None]
    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty),
             mask=mask_r[:, None] & mask_b[None, :])


VARIANTS = ("reduce", "dot")


def gathered_gemv(w, idx, x, y, variant: str = "reduce") -> None:  # noqa: ANN001 (torch tensors)
    """``y[batch, len(idx)] = x[batch, cols] @ w[idx, :]^T`` (w row-major, idx int32).

    variant 'reduce': CUDA-core multiply + row reduction (best at batch 1);
    'dot': tensor-core tl.dot over 16-row tiles, batch padded to 16 (for batch > 1).
    """
    n_rows = idx.numel()
    batch, n_cols = x.shape
    if variant == "dot":
        block_r, block_b, block_c = 16, max(16, triton.next_power_of_2(batch)), 256
        grid = (triton.cdiv(n_rows, block_r),)
        _gathered_dot_kernel[grid](
            w, idx, x, y, n_rows, n_cols, batch, w.stride(0), x.stride(0), y.stride(0),
            BLOCK_R=block_r, BLOCK_B=block_b, BLOCK_C=block_c, num_warps=4, num_stages=3,
        )
        return
    block_b = triton.next_power_of_2(batch)
    block_r = 4 if n_rows <= 2048 else 8
    block_c = max(32, 8192 // (block_r * block_b))
    grid = (triton.cdiv(n_rows, block_r),)
    _gathered_gemv_kernel[grid](
        w, idx, x, y, n_rows, n_cols, batch, w.stride(0), x.stride(0), y.stride(0),
        BLOCK_R=block_r, BLOCK_B=block_b, BLOCK_C=block_c, num_warps=4,
    )
