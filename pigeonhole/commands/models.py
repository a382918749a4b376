"""`pigeonhole models`: the architecture table."""

from __future__ import annotations

import json

from pigeonhole.core.models.archs import list_archs


def _fmt_params(n: int | None) -> str:
    return f"{n / 1e6:.1f}M" if n else "-"


def run(args) -> int:
    specs = list_archs()
    if args.family:
        fam = args.family.lower()
        specs = [s for s in specs if s.family.lower() == fam or s.name.startswith(fam)]
    if args.json:
        rows = [
            {
                "name": s.name,
                "family": s.family,
                "display_name": s.display_name,
                "params": s.params,
                "gflops": s.gflops,
                "top1": s.top1,
                "top5": s.top5,
                "resize": s.transform.resize,
                "crop": s.transform.crop,
                "pretrained": s.has_pretrained,
                "weights_mb": s.weights_size_mb,
                "seed": s.is_seed,
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<20} {'family':<13} {'params':>8} {'GFLOPs':>8} {'top-1':>7} {'input':>8}"
    print(header)
    print("-" * len(header))
    seeds_done = False
    for s in specs:
        if not s.is_seed and not seeds_done:
            seeds_done = True
            if any(x.is_seed for x in specs):
                print("-" * len(header))
        mark = "*" if s.is_seed else " "
        gflops = f"{s.gflops:.2f}" if s.gflops else "-"
        top1 = f"{s.top1:.1f}%" if s.top1 else "-"
        size = f"{s.transform.resize}/{s.transform.crop}"
        print(
            f"{mark}{s.name:<19} {s.family:<13} {_fmt_params(s.params):>8} {gflops:>8} {top1:>7} {size:>8}"
        )
    print(f"\n{len(specs)} architectures (* = the common starting points). Top-1: ImageNet-1K.")
    return 0
