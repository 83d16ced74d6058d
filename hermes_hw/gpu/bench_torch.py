"""Times real kernels on a CUDA GPU with PyTorch (and Triton for the gathered-row GEMV).

Method: every case gets enough distinct operand copies that their total size exceeds 4x the L2
cache (so weights stream from DRAM, as they do once per token in inference); the calls cycle
through the copies and are captured in one CUDA graph, replayed ``reps`` times and timed with CUDA
events; the result is the median replay time / calls per replay. If capture fails the same calls
run eagerly (then launch gaps are included; the table says which). Only `hermes gpu calibrate`
imports this module.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from hermes_hw.gpu.fit import BenchCase, Measurement

MAX_COPIES = 4096
MAX_ALLOC_BYTES = 12 << 30


class TorchCudaBench:
    """Measures :class:`BenchCase` times on ``cuda:0``."""

    def __init__(self, torch: Any, *, l2_bytes: int, reps: int = 10, seed: int = 0) -> None:
        self.torch = torch
        self.dev = torch.device("cuda")
        self.dtype = torch.float16
        self.reps = reps
        self.rotate_bytes = max(4 * l2_bytes, 256 << 20)
        self.gen = torch.Generator(device="cuda").manual_seed(seed)
        self.gather_method = ""
        self.gather_error = ""

    # --- helpers ---------------------------------------------------------------------------
    def copies(self, touched_bytes: float, alloc_bytes: float | None = None) -> int:
        """How many operand copies make the working set exceed the L2-defeating size."""
        n = max(2, min(MAX_COPIES, math.ceil(self.rotate_bytes / max(touched_bytes, 1))))
        alloc = alloc_bytes if alloc_bytes is not None else touched_bytes
        return max(2, min(n, int(MAX_ALLOC_BYTES // max(alloc, 1))))

    def randn(self, *shape: int) -> Any:
        return self.torch.randn(*shape, device=self.dev, dtype=self.dtype, generator=self.gen)

    def time_calls(
        self, calls: list[Callable[[], object]], min_calls: int = 16
    ) -> tuple[float, str]:
        """Median ns per call over ``reps`` graph replays (eager if capture fails)."""
        torch = self.torch
        seq = [calls[i % len(calls)] for i in range(max(min_calls, len(calls)))]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for fn in calls[:3]:
                fn()
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        method = "graph"
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for fn in seq:
                    fn()

            def run() -> None:
                graph.replay()
        except Exception:  # noqa: BLE001 - any capture failure falls back to eager timing
            torch.cuda.synchronize()
            method = "eager"

            def run() -> None:
                for fn in seq:
                    fn()
        run()
        torch.cuda.synchronize()
        samples = []
        for _ in range(self.reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) * 1e6 / len(seq))
        return statistics.median(samples), method

    def measure(self, case: BenchCase) -> Measurement:
        torch = self.torch
        try:
            time_ns, method = getattr(self, f"_case_{case.kernel}")(**case.shape)
            return Measurement(case, time_ns, method)
        except Exception as err:  # noqa: BLE001 - one failed case must not end the calibration
            first = (str(err).strip().splitlines() or [""])[0][:140]
            return Measurement(case, None, f"failed: {type(err).__name__}: {first}")
        finally:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

    # --- cases -----------------------------------------------------------------------------
    def _case_empty(self) -> tuple[float, str]:
        x = self.torch.zeros(1, device=self.dev)
        return self.time_calls([lambda: x.add_(1)], min_calls=1024)

    def _case_launch_enqueue(self) -> tuple[float, str]:
        torch = self.torch
        x = torch.zeros(1, device=self.dev)
        samples = []
        for _ in range(5):
            torch.cuda.synchronize()
            t0 = time.perf_counter_ns()
            for _ in range(1000):
                x.add_(1)
            samples.append((time.perf_counter_ns() - t0) / 1000)
            torch.cuda.synchronize()
        return statistics.median(samples), "host-timer"

    def _case_launch_sync(self) -> tuple[float, str]:
        torch = self.torch
        x = torch.zeros(1, device=self.dev)
        samples = []
        for _ in range(300):
            t0 = time.perf_counter_ns()
            x.add_(1)
            torch.cuda.synchronize()
            samples.append(time.perf_counter_ns() - t0)
        return statistics.median(samples[20:]), "host-timer"

    def _case_gemv(self, rows: int, cols: int, batch: int) -> tuple[float, str]:
        return self._matmul(batch, rows, cols)

    def _case_output_projection(self, hidden: int, batch: int) -> tuple[float, str]:
        return self._matmul(batch, hidden, hidden)

    def _case_gemm(self, m: int, n: int, k: int) -> tuple[float, str]:
        return self._matmul(m, n, k)

    def _matmul(self, m: int, n: int, k: int) -> tuple[float, str]:
        torch = self.torch
        nbytes = 2 * (m * k + n * k + m * n)
        c = self.copies(nbytes)
        w, x, y = self.randn(c, n, k), self.randn(c, m, k), torch.empty(
            c, m, n, device=self.dev, dtype=self.dtype)
        calls = [lambda i=i: torch.mm(x[i], w[i].t(), out=y[i]) for i in range(c)]
        return self.time_calls(calls)

    def _gather_fn(self, variant: str) -> Callable[..., None]:
        """A gathered-row GEMV: a Triton variant, or index_select + mm (two kernels)."""
        torch = self.torch
        if variant in ("reduce", "dot"):
            from hermes_hw.gpu.triton_kernels import gathered_gemv

            return lambda w, idx, x, y: gathered_gemv(w, idx, x, y, variant=variant)

        def fallback(w: Any, idx: Any, x: Any, y: Any) -> None:
            torch.mm(x, torch.index_select(w, 0, idx).t(), out=y)

        return fallback

    def _check_gather(self, fn: Callable[..., None], w: Any, idx: Any, x: Any, y: Any) -> None:
        """Run once and compare with a float32 reference (relative error < 1e-2)."""
        torch = self.torch
        y.fill_(float("nan"))
        fn(w, idx, x, y)
        torch.cuda.synchronize()
        ref = x.float() @ w[idx.long()].float().t()
        err = float((y.float() - ref).norm() / ref.norm())
        if not math.isfinite(err) or err > 1e-2:
            raise ValueError(f"gathered GEMV relative error {err:.2e}")

    def _sparse(self, gathered_rows: int, cols: int, batch: int, total_rows: int,
                contiguous: bool) -> tuple[float, str]:
        torch = self.torch
        touched = 2 * gathered_rows * cols
        c = self.copies(touched, alloc_bytes=2 * total_rows * cols)
        w = self.randn(c, total_rows, cols)
        x = self.randn(c, batch, cols)
        y = torch.empty(c, batch, gathered_rows, device=self.dev, dtype=self.dtype)
        idx = []
        for _ in range(c):
            if contiguous:
                start = int(torch.randint(0, total_rows - gathered_rows + 1, (1,)).item())
                sel = torch.arange(start, start + gathered_rows, device=self.dev)
            else:
                sel = torch.randperm(total_rows, device=self.dev)[:gathered_rows].sort().values
            idx.append(sel.to(torch.int32).contiguous())
        variants = ["dot", "reduce"] if batch > 1 else ["reduce"]
        errors = []
        for variant in [*variants, "index_select+mm"]:
            fn = self._gather_fn(variant)
            try:
                self._check_gather(fn, w[0], idx[0], x[0], y[0])
                break
            except Exception as err:  # noqa: BLE001 - try the next variant
                if variant == "index_select+mm":
                    raise
                errors.append(f"{variant}: {type(err).__name__}: "
                              f"{(str(err).splitlines() or [''])[0][:100]}")
        self.gather_error = "; ".join(errors)
        self.gather_method = variant
        calls = [lambda i=i: fn(w[i], idx[i], x[i], y[i]) for i in range(c)]
        ns, how = self.time_calls(calls)
        label = "triton " + variant if variant != "index_select+mm" else variant
        return ns, f"{how} ({label})"

    def _case_sparse_gemv(self, gathered_rows: int, cols: int, batch: int,
                          total_rows: int) -> tuple[float, str]:
        return self._sparse(gathered_rows, cols, batch, total_rows, contiguous=False)

    def _case_sparse_gemv_contiguous(self, gathered_rows: int, cols: int, batch: int,
                                     total_rows: int) -> tuple[float, str]:
        return self._sparse(gathered_rows, cols, batch, total_rows, contiguous=True)

    def _case_attention_decode(self, batch: int, heads: int, kv_len: int,
                               head_dim: int) -> tuple[float, str]:
        torch = self.torch
        sdpa = torch.nn.functional.scaled_dot_product_attention
        kv_bytes = 2 * 2 * batch * heads * kv_len * head_dim
        c = self.copies(kv_bytes)
        q = self.randn(c, batch, heads, 1, head_dim)
        k = self.randn(c, batch, heads, kv_len, head_dim)
        v = self.randn(c, batch, heads, kv_len, head_dim)
        calls = [lambda i=i: sdpa(q[i], k[i], v[i]) for i in range(c)]
        return self.time_calls(calls)

    def _case_prefill_attention(self, batch: int, heads: int, seq_len: int,
                                head_dim: int) -> tuple[float, str]:
        """Causal attention over a whole prompt (SDPA picks its fused kernel)."""
        sdpa = self.torch.nn.functional.scaled_dot_product_attention
        c = self.copies(4 * 2 * batch * heads * seq_len * head_dim)
        q = self.randn(c, batch, heads, seq_len, head_dim)
        k = self.randn(c, batch, heads, seq_len, head_dim)
        v = self.randn(c, batch, heads, seq_len, head_dim)
        calls = [lambda i=i: sdpa(q[i], k[i], v[i], is_causal=True) for i in range(c)]
        return self.time_calls(calls)

    def _case_memcpy_d2d(self, nbytes: int) -> tuple[float, str]:
        torch = self.torch
        c = self.copies(2 * nbytes)
        src = torch.empty(c, nbytes, device=self.dev, dtype=torch.uint8).random_(generator=self.gen)
        dst = torch.empty_like(src)
        return self.time_calls([lambda i=i: dst[i].copy_(src[i]) for i in range(c)])

    def _host_copies(self, nbytes: int, to_device: bool) -> tuple[float, str]:
        torch = self.torch
        c = max(2, min(16, math.ceil((64 << 20) / nbytes)))
        host = torch.empty(c, nbytes, dtype=torch.uint8, pin_memory=True)
        host.random_()
        dev = torch.empty(c, nbytes, device=self.dev, dtype=torch.uint8)
        if to_device:
            calls = [lambda i=i: dev[i].copy_(host[i], non_blocking=True) for i in range(c)]
        else:
            calls = [lambda i=i: host[i].copy_(dev[i], non_blocking=True) for i in range(c)]
        return self.time_calls(calls)

    def _case_memcpy_h2d(self, nbytes: int) -> tuple[float, str]:
        return self._host_copies(nbytes, to_device=True)

    def _case_memcpy_d2h(self, nbytes: int) -> tuple[float, str]:
        return self._host_copies(nbytes, to_device=False)
