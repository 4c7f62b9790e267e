"""A child process for the sharded-init tests (run as a script, not collected).

    python dist_init_worker.py RANK WORLD INIT_FILE OUT_DIR [CASE,CASE,...]

Builds :func:`model` on the meta device, shards it with ``fully_shard`` over a CPU mesh (gloo),
initialises it with every config of :data:`CASES` in turn (keyed and ``seed=None``), and rank 0
saves each case's gathered full tensors to ``OUT_DIR/<case>.pt``; every rank also saves its
local shards to ``OUT_DIR/<case>.rank<R>.pt``. A watchdog ends a stuck worker after 120 s.
"""

from __future__ import annotations

import faulthandler
import os
import sys
from typing import Any

import torch
from torch import nn

#: case name -> (init config, seed); one config per initializer, applied to every layer
CASES: dict[str, tuple[Any, int | None]] = {
    "constant": (dict(type="Constant", layer=["Conv2d", "Linear"], val=0.5, bias=0.25), 7),
    "xavier": (dict(type="Xavier", layer=["Conv2d", "Linear"], distribution="uniform"), 7),
    "normal": (dict(type="Normal", layer=["Conv2d", "Linear"], std=0.02), 7),
    "trunc_normal": (dict(type="TruncNormal", layer=["Conv2d", "Linear"], std=0.5, a=-0.4,
                          b=0.4), 7),
    "uniform": (dict(type="Uniform", layer=["Conv2d", "Linear"], a=-0.3, b=0.1), 7),
    "kaiming": (dict(type="Kaiming", layer=["Conv2d", "Linear"]), 7),
    "caffe2_xavier": (dict(type="Caffe2Xavier", layer=["Conv2d", "Linear"]), 7),
    "bias_prob": (dict(type="Normal", layer=["Conv2d", "Linear"], bias_prob=0.01), 7),
    "global_rng": (dict(type="Kaiming", layer=["Conv2d", "Linear"], distribution="uniform"),
                   None),
    "global_rng_normal": ([dict(type="Normal", layer="Conv2d", std=0.1),
                           dict(type="TruncNormal", layer="Linear", std=0.1)], None),
}


def model() -> nn.Module:
    """Convs and linears with row counts that shard evenly and unevenly over 2 and 4 ranks,
    one with fewer rows than ranks (an empty shard), and one over a block boundary."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.Conv2d(8, 6, 3),
        nn.Linear(300, 5),
        nn.Linear(7, 3),
        nn.Linear(1000, 131),
    )


def main() -> None:
    rank, world, init_file, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    chosen = sys.argv[5].split(",") if len(sys.argv) > 5 else list(CASES)
    faulthandler.dump_traceback_later(120, exit=True)
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from hydra_cnn.init import init_report, initialize

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        with torch.device("meta"):
            net = model()
        for layer in net:
            fully_shard(layer, mesh=mesh)
        fully_shard(net, mesh=mesh)
        net.to_empty(device="cpu")
        for case in chosen:  # each case initialises every weight and bias again
            cfg, seed = CASES[case]
            torch.manual_seed(1234 + (rank if seed is not None else 0))  # keyed ignores it
            initialize(net, cfg, seed=seed)
            full = {k: v.full_tensor() for k, v in net.state_dict().items()}
            local = {k: v.to_local().clone() for k, v in net.state_dict().items()}
            torch.save(local, os.path.join(out, f"{case}.rank{rank}.pt"))
            if rank == 0:
                report = init_report(net)
                torch.save({"full": full, "seed": [e.seed for e in report if e.origin != "none"]},
                           os.path.join(out, f"{case}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
