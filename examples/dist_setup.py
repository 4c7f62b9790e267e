"""The example app's ``dist`` config group (typed) and the code that shards a model with it.

    python examples/train.py                                                   # dist=none
    torchrun --standalone --nproc_per_node=2 examples/train.py dist=ddp        # DDP replicas
    torchrun --standalone --nproc_per_node=2 examples/train.py dist=fsdp       # FSDP2 shards
    torchrun ... examples/train.py dist=fsdp 'dist.shard=[ResLayer]' dist.reshard_after_forward=false

Modules to shard are named by class (``ResLayer``, ``BasicBlock``) or ``blocks`` (the default).

``dist=none`` (the default) trains in one process as before; under torchrun with several ranks
it keeps the app's earlier behaviour, DDP (the log says so). ``dist=fsdp`` builds the model on
the meta device, applies torch's ``fully_shard`` to every module whose class is listed in
``dist.shard`` (then to the root), allocates each rank's shards with ``to_empty`` and
initialises them (``init_cfg`` and ``model.pretrained`` included); nothing is allocated at full
size but one tensor at a time while a checkpoint loads.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

__all__ = ["DDPConfig", "DistConfig", "FSDPConfig", "ensure_process_group", "register",
           "shard_model"]


@dataclass
class DistConfig:
    """How the model is distributed: ``none`` (one process, or DDP under torchrun)."""

    mode: str = "none"
    backend: str = "gloo"


@dataclass
class DDPConfig(DistConfig):
    """``DistributedDataParallel``: every rank holds the whole model."""

    mode: str = "ddp"


@dataclass
class FSDPConfig(DistConfig):
    """FSDP2 (``torch.distributed.fsdp.fully_shard``): every rank holds a shard of each tensor.

    Args:
        shard: class names of the modules sharded as units (each gathers its parameters for its
            own forward), or ``blocks``: every residual block (a class named ``*Block`` or
            ``*Bottleneck``, e.g. ResNet's ``BasicBlock``/``Bottleneck``). The root is always
            sharded; a model without such blocks is sharded as one unit (the log says so).
        reshard_after_forward: free the gathered parameters after each unit's forward (less
            memory, one more all-gather in backward).
    """

    mode: str = "fsdp"
    shard: list[str] = field(default_factory=lambda: ["blocks"])
    reshard_after_forward: bool = True


MODES = ("none", "ddp", "fsdp")
BLOCKS = "blocks"
log = logging.getLogger("train")


def register() -> None:
    """Store the ``dist`` options in Hydra's ConfigStore (typed: a wrong value fails at compose)."""
    cs = ConfigStore.instance()
    cs.store(group="dist", name="none", node=DistConfig)
    cs.store(group="dist", name="ddp", node=DDPConfig)
    cs.store(group="dist", name="fsdp", node=FSDPConfig)


def ensure_process_group(backend: str) -> Any:
    """The default process group: torchrun's, or a one-rank group for a plain ``python`` run."""
    import torch.distributed as dist

    if not dist.is_initialized():
        if "MASTER_ADDR" in os.environ:
            dist.init_process_group(backend)
        else:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=0,
                                    world_size=1)
    return dist


def _is_block(name: str) -> bool:
    return name.endswith(("Block", "Bottleneck"))


def _units(model: Any, names: list[str]) -> list[Any]:
    """The modules to shard, children before parents (fully_shard's order)."""
    found = {type(m).__name__ for m in model.modules()}
    unknown = [n for n in names if n != BLOCKS and n not in found]
    if unknown:
        raise ValueError(
            f"dist.shard names {unknown}, which the model does not contain; its module "
            f"classes: {', '.join(sorted(found))} (or {BLOCKS!r}: every residual block)")
    wanted = set(names)
    units = [m for m in reversed(list(model.modules())) if m is not model and (
        type(m).__name__ in wanted or (BLOCKS in wanted and _is_block(type(m).__name__)))]
    if not units:
        log.info("dist.shard=%s matches no module of %s: sharding it as one unit", names,
                 type(model).__name__)
    return units


def shard_model(make: Any, cfg: FSDPConfig | Any, device: Any) -> Any:
    """Build with ``make()`` on the meta device, shard it, and allocate each rank's shards.

    The returned model is uninitialised (``to_empty``): call ``init_weights`` next.
    """
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    import hydra_cnn

    dist = ensure_process_group(cfg.backend)
    with torch.device("meta"):
        model = make()
    if any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules()):
        model = hydra_cnn.revert_sync_batchnorm(model)  # FSDP shards BN; no CUDA here
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    for unit in _units(model, list(cfg.shard)):
        fully_shard(unit, mesh=mesh, reshard_after_forward=cfg.reshard_after_forward)
    fully_shard(model, mesh=mesh, reshard_after_forward=cfg.reshard_after_forward)
    model.to_empty(device=device)
    return model
