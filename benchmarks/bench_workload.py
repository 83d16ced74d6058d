"""Benchmark: a 128-token LLaMA2-70B workload (synthetic activations, Hermes predictor, ILP
placement, online adjustment and window remapping; no DRAM replay).

Goal (issue 3): under 10 s and under 2 GB peak memory on the development machine. Run:

    python benchmarks/bench_workload.py [--model llama2-70b] [--tokens 128] [--prompt 128]

Prints wall time per stage and the peak resident memory of this process; record the numbers in
docs/performance.md ("## Workload").
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama2-70b")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--worklists", action="store_true",
                        help="also materialise every block's work list (lowering-style)")
    args = parser.parse_args()

    from hermes_hw.workload.models import load_model
    from hermes_hw.workload.pipeline import Workload, WorkloadOptions

    t0 = time.perf_counter()
    model = load_model(args.model)
    workload = Workload(model, WorkloadOptions(prompt_tokens=args.prompt,
                                               decode_tokens=args.tokens))
    n_lists = 0
    for token in workload.run():
        if args.worklists:
            for lw in token.blocks():
                n_lists += 1 + len(lw.dimm_neurons)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    totals = workload.report.totals()
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in workload.report.timings_s.items())
    print(f"{model.id}: {args.prompt} prompt + {args.tokens} decode tokens")
    print(f"wall time {wall:.2f} s ({stages}); peak RSS {peak_mib:.0f} MiB")
    print(f"recall {totals['recall']:.3f}, precision {totals['precision']:.3f}, imbalance "
          f"{totals['imbalance_no_remap']:.3f} static / {totals['imbalance_remap']:.3f} remap / "
          f"{totals['imbalance_in_window']:.3f} in-window; ILP {totals['placement_seconds']:.2f} s")
    if args.worklists:
        print(f"materialised {n_lists} id lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
