"""One rank of the sharded-checkpoint tests (run as a script by test_sharded.py, not collected).

    python sharded_worker.py RANK WORLD INIT_FILE WORKDIR

Builds small models on the meta device, shards them with ``fully_shard`` on a CPU mesh (gloo),
runs every check of the test and prints one JSON line of results. WORKDIR holds the inputs the
test wrote (``full.pth``, ``bad.pth``, ...) and receives the outputs. A watchdog
(``CKPT_WATCHDOG`` seconds) ends a worker that hangs, printing its stacks.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.checkpoint.sharded_models import Net, batch, make_resnet  # noqa: E402


def _shard(model: nn.Module, mesh: Any) -> nn.Module:
    from torch.distributed.fsdp import fully_shard

    for child in model.children():
        if any(True for _ in child.parameters()):
            fully_shard(child, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def _sharded_net(mesh: Any) -> nn.Module:
    with torch.device("meta"):
        model = Net()
    _shard(model, mesh)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for t in model.state_dict().values():
            t.zero_() if not hasattr(t, "to_local") else t.to_local().zero_()
    return model


def _full(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor gathered (a collective: every rank calls it)."""
    out = {}
    for k, v in model.state_dict().items():
        out[k] = v.full_tensor() if hasattr(v, "full_tensor") else v.detach().clone()
    return out


def _local_sum(model: nn.Module) -> float:
    total = 0.0
    for v in model.state_dict().values():
        t = v.to_local() if hasattr(v, "to_local") else v
        total += float(t.double().abs().sum())
    return total


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _error(fn: Any) -> str:
    try:
        fn()
    except Exception as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return "no error"


class _Lines:
    def __init__(self) -> None:
        import logging

        self.lines: list[str] = []
        self.log = logging.getLogger(f"sharded-test-{id(self)}")
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        handler = logging.Handler()
        handler.emit = lambda record: self.lines.append(record.getMessage())  # type: ignore
        self.log.addHandler(handler)


def _train(model: nn.Module, optim: torch.optim.Optimizer, steps: range, rank: int,
           world: int) -> None:
    for step in steps:
        x, y = batch(step, rank, world)
        loss = nn.functional.mse_loss(model(x), y)
        optim.zero_grad()
        loss.backward()
        optim.step()


def main(rank: int, world: int, init_file: str, work: Path) -> int:
    from datetime import timedelta

    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from hydra_cnn.checkpoint import load_checkpoint, save_checkpoint
    from hydra_cnn.checkpoint.errors import StrictLoadError

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    mesh = init_device_mesh("cpu", (world,))
    out: dict[str, Any] = {"rank": rank}
    reference = torch.load(work / "full.pth", weights_only=True)["state_dict"]

    # a full checkpoint into a sharded model equals the file; the report as for one process
    model = _sharded_net(mesh)
    lines = _Lines()
    ckpt = load_checkpoint(model, str(work / "full.pth"), logger=lines.log)
    out["load_equal"] = _same(_full(model), dict(reference))
    out["load_report"] = lines.lines
    out["returned_meta"] = sorted(ckpt.get("meta", {}))
    out["is_dtensor"] = type(model.fc.weight).__name__

    # prefix, state_dict_key and revise_keys work as for one process
    other = _sharded_net(mesh)
    load_checkpoint(other, str(work / "nested.pth"), state_dict_key="model", prefix="net.",
                    revise_keys=[(r"^old_fc\.", "fc.")], logger="silent")
    out["prefix_equal"] = _same(_full(other), dict(reference))
    # a forward with reshard_after_forward=False leaves the units unsharded: the load still
    # reaches the next forward
    from torch.distributed.fsdp import fully_shard

    with torch.device("meta"):
        kept = Net()
    for child in (kept.conv, kept.norm, kept.fc):
        fully_shard(child, mesh=mesh, reshard_after_forward=False)
    fully_shard(kept, mesh=mesh, reshard_after_forward=False)
    kept.to_empty(device="cpu")
    x = batch(0, 0, world)[0]
    with torch.no_grad():
        for t in kept.state_dict().values():
            (t.to_local() if hasattr(t, "to_local") else t).fill_(0.5)
        kept(x)
        load_checkpoint(kept, str(work / "full.pth"), logger="silent")
        plain = Net()
        plain.load_state_dict(reference)
        out["forward_after_load"] = bool(torch.allclose(kept(x), plain(x), atol=1e-6))
    url = os.environ["SHARDED_URL"]
    from_url = _sharded_net(mesh)
    load_checkpoint(from_url, url, strict=True, logger="silent")
    out["url_equal"] = _same(_full(from_url), dict(reference))
    from_zoo = _sharded_net(mesh)
    load_checkpoint(from_zoo, "open-mmlab://sharded_net", zoo={"sharded_net": url},
                    strict=True, logger="silent")
    out["zoo_equal"] = _same(_full(from_zoo), dict(reference))
    from_dir = _sharded_net(mesh)
    load_checkpoint(from_dir, str(work / "plain_dcp"), strict=True, logger="silent")
    out["plain_dcp_equal"] = _same(_full(from_dir), dict(reference))

    # failures reach every rank before anything is copied
    before = _local_sum(model)
    bad = str(work / "bad.pth") if rank == 0 else str(work / "full.pth")
    out["bad_file"] = _error(lambda: load_checkpoint(model, bad, logger="silent"))
    out["strict"] = _error(lambda: load_checkpoint(model, str(work / "missing_key.pth"),
                                                   strict=True, logger="silent"))
    try:
        load_checkpoint(model, str(work / "missing_key.pth"), strict=True, logger="silent")
    except StrictLoadError as err:
        out["strict_report_missing"] = err.report.missing
    out["shape"] = _error(lambda: load_checkpoint(model, str(work / "wrong_shape.pth"),
                                                  strict=True, logger="silent"))
    odd = _sharded_net(mesh)
    if rank == 1:  # a model that differs on one rank only
        odd.register_buffer("extra", torch.zeros(2))
    odd_before = _local_sum(odd)
    out["differs"] = _error(lambda: load_checkpoint(odd, str(work / "full.pth"), strict=True,
                                                    logger="silent"))
    out["unchanged_after_errors"] = _local_sum(model) == before and _local_sum(odd) == odd_before
    lines = _Lines()
    skipping = _sharded_net(mesh)
    load_checkpoint(skipping, str(work / "wrong_shape.pth"), logger=lines.log)
    out["skip_report"] = lines.lines
    out["skip_values"] = {k: bool(torch.equal(v, reference[k]))
                          for k, v in _full(skipping).items()}

    # save from the sharded model: one full file from rank 0
    save_checkpoint(model, work / "saved_full.pth", meta={"note": "x"})
    out["saved_full_files"] = sorted(p.name for p in work.glob("saved_full*"))

    # Pretrained in init_cfg (what model.pretrained becomes) on a sharded hydra_cnn ResNet
    with torch.device("meta"):
        resnet = make_resnet(pretrained=str(work / "resnet.pth"))
    _shard(resnet, mesh)
    resnet.to_empty(device="cpu")
    resnet.init_weights()
    resnet_ref = torch.load(work / "resnet.pth", weights_only=True)["state_dict"]
    out["pretrained_equal"] = _same(_full(resnet), dict(resnet_ref))

    # sharded save, then resume: the same weights as training on without a break
    torch.manual_seed(1)
    train = _sharded_net(mesh)
    load_checkpoint(train, str(work / "full.pth"), logger="silent")
    optim = torch.optim.SGD(train.parameters(), lr=0.1, momentum=0.9)
    _train(train, optim, range(0, 2), rank, world)
    save_checkpoint(train, work / "dcp", optimizer=optim, sharded=True,
                    config={"lr": 0.1, "world": world})
    _train(train, optim, range(2, 4), rank, world)
    straight = _full(train)
    resumed = _sharded_net(mesh)
    optim2 = torch.optim.SGD(resumed.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(resumed, str(work / "dcp"), optimizer=optim2, logger="silent")
    _train(resumed, optim2, range(2, 4), rank, world)
    out["resume_equal"] = _same(_full(resumed), straight)
    if rank == 0:
        torch.save(straight, work / "straight.pth")
    out["dcp_not_dir"] = _error(lambda: load_checkpoint(resumed, str(work), logger="silent"))

    dist.barrier()
    print(json.dumps(out), flush=True)
    sys.stderr.flush()
    os._exit(0)  # no destroy_process_group: it can deadlock in gloo on old torch versions


if __name__ == "__main__":
    faulthandler.dump_traceback_later(float(os.environ.get("CKPT_WATCHDOG", "120")), exit=True)
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
