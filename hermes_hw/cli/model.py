"""`hermes model`: list the built-in models and show one model's derived shapes."""

from __future__ import annotations

import argparse
import json


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _show(args: argparse.Namespace) -> int:
    from hermes_hw.workload.models import load_model

    spec = load_model(args.model, dtype=args.dtype)
    info = spec.summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']} ({info['id']}, family {info['family']})")
    print(f"  layers {info['layers']}, hidden {info['hidden_size']}, ffn {info['ffn_size']}, "
          f"heads {info['attention_heads']} (kv {info['kv_heads']}, head_dim {info['head_dim']}), "
          f"vocab {info['vocab_size']}, mlp {info['mlp']}")
    print(f"  params {info['params']:,} ({info['params'] / 1e9:.2f} B)")
    print(f"  weights at {info['weight_bits']} bit: {_gib(info['weight_bytes'])} "
          f"(sparse neurons {_gib(info['neuron_bytes'])}, dense {_gib(info['dense_bytes'])}, "
          f"GPU-resident dense {_gib(info['gpu_dense_bytes'])})")
    print(f"  neurons per layer: attention {info['neurons_per_layer']['attention']} x "
          f"{info['bytes_per_neuron']['attention']} B, mlp {info['neurons_per_layer']['mlp']} x "
          f"{info['bytes_per_neuron']['mlp']} B")
    print(f"  KV cache {info['kv_bytes_per_token']:,} bytes per token")
    return 0


def _list(args: argparse.Namespace) -> int:
    from hermes_hw.workload.models import builtin_model_ids, load_model

    rows = [load_model(m).summary() for m in builtin_model_ids()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'id':<12} {'name':<22} {'layers':>6} {'hidden':>6} {'ffn':>6} {'params':>10}")
    for r in rows:
        print(f"{r['id']:<12} {r['name']:<22} {r['layers']:>6} {r['hidden_size']:>6} "
              f"{r['ffn_size']:>6} {r['params'] / 1e9:>9.2f}B")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="list models or show one model's shapes")
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="show a model (built-in id, .yaml or HF config.json)")
    show.add_argument("model", help="built-in id (see `hermes model list`) or a file path")
    show.add_argument("--dtype", default="fp16", help="weight type: fp16 (default), int8, int4")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)
    lst = sub.add_parser("list", help="list the built-in models")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=_list)
