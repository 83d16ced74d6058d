"""Datasheet peaks for GPUs that `hermes gpu calibrate` may meet but that have no built-in
profile, matched by the name nvidia-smi / CUDA reports. Fitted curves are fractions of these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Datasheet:
    """Peaks of one GPU model and where they come from."""

    match: tuple[str, ...]
    """All of these substrings (case-insensitive) must occur in the reported device name."""
    display_name: str
    memory_capacity_gib: float
    peak_memory_bandwidth_gbps: float
    peak_fp16_tensor_tflops: float
    peak_fp16_tensor_fp32acc_tflops: float
    sm_count: int
    l2_cache_mib: float
    pcie_generation: int
    source: str


DATASHEETS: tuple[Datasheet, ...] = (
    Datasheet(("h100", "hbm3"), "NVIDIA H100 SXM5 80GB (HBM3)", 80, 3350, 989.4, 989.4, 132, 50,
              5, "NVIDIA H100 datasheet (SXM5: 3.35 TB/s, 1979 TFLOPS FP16 with sparsity = 989.4 "
              "dense) and Hopper whitepaper (132 SMs, 50 MB L2, FP32 accumulate at full rate)"),
    Datasheet(("h100", "pcie"), "NVIDIA H100 PCIe 80GB", 80, 2000, 756.5, 756.5, 114, 50, 5,
              "NVIDIA H100 datasheet (PCIe: 2 TB/s, 1513 TFLOPS FP16 with sparsity = 756.5 dense) "
              "and Hopper whitepaper (114 SMs, 50 MB L2)"),
    Datasheet(("h100", "nvl"), "NVIDIA H100 NVL 94GB", 94, 3900, 835.5, 835.5, 132, 50, 5,
              "NVIDIA H100 datasheet (NVL: 3.9 TB/s, 1671 TFLOPS FP16 with sparsity = 835.5 "
              "dense)"),
    Datasheet(("h200",), "NVIDIA H200 141GB", 141, 4800, 989.4, 989.4, 132, 50, 5,
              "NVIDIA H200 datasheet (4.8 TB/s, 1979 TFLOPS FP16 with sparsity = 989.4 dense)"),
    Datasheet(("a100", "80gb", "pcie"), "NVIDIA A100 80GB PCIe", 80, 1935, 312, 312, 108, 40, 4,
              "NVIDIA A100 datasheet (80GB PCIe: 1935 GB/s, 312 TFLOPS dense FP16)"),
    Datasheet(("a100", "80gb"), "NVIDIA A100 SXM4 80GB", 80, 2039, 312, 312, 108, 40, 4,
              "NVIDIA A100 datasheet (80GB SXM: 2039 GB/s, 312 TFLOPS dense FP16)"),
    Datasheet(("a100",), "NVIDIA A100 40GB", 40, 1555, 312, 312, 108, 40, 4,
              "NVIDIA A100 datasheet (40GB: 1555 GB/s, 312 TFLOPS dense FP16)"),
)


def find_datasheet(device_name: str) -> Datasheet | None:
    """The first entry whose substrings all occur in ``device_name`` (most specific first)."""
    lowered = device_name.lower()
    for sheet in DATASHEETS:
        if all(part in lowered for part in sheet.match):
            return sheet
    return None
