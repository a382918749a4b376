"""`pigeonhole models`: the architecture table."""

from __future__ import annotations

import json

from pigeonhole.core.models.archs import list_archs
from pigeonhole.core.models.imagenet import imagenet_weights_cached


def _fmt_params(n: int | None) -> str:
    return f"{n / 1e6:.1f}M" if n else "-"


def _weights(spec, on_disk: bool) -> str:
    """The ImageNet weights: already on this computer, or the download they would take."""
    if not spec.has_pretrained:
        return "none"
    if on_disk:
        return "on disk"
    return f"{spec.weights_size_mb:.0f} MB" if spec.weights_size_mb else "download"


def run(args) -> int:
    specs = list_archs()
    if args.family:
        fam = args.family.lower()
        specs = [s for s in specs if s.family.lower() == fam or s.name.startswith(fam)]
    on_disk = {s.name: imagenet_weights_cached(s.name) for s in specs}
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
                "weights_on_disk": on_disk[s.name],
                "seed": s.is_seed,
            }
            for s in specs
        ]
        print(json.dumps(rows, indent=2))
        return 0
    header = (f"{'name':<20} {'family':<13} {'params':>8} {'GFLOPs':>8} {'top-1':>7} {'input':>8} "
              f"{'ImageNet weights':>16}")  # fmt: skip
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
            f"{mark}{s.name:<19} {s.family:<13} {_fmt_params(s.params):>8} {gflops:>8} "
            f"{top1:>7} {size:>8} {_weights(s, on_disk[s.name]):>16}"
        )
    cached = sum(on_disk.values())
    print(
        f"\n{len(specs)} architectures (* = the common starting points). Top-1: ImageNet-1K. "
        f"ImageNet weights on this computer: {cached}; the others download once when first used."
    )
    return 0
