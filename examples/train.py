"""Train a hydra_cnn model on generated shapes, with every layer type chosen from the command line.

    python examples/train.py                                        # ResNet-18, BN, ReLU, Kaiming
    python examples/train.py model/norm=gn model/act=leaky_relu     # GroupNorm + LeakyReLU everywhere
    python examples/train.py -m model/norm=bn,gn,ln2d model/act=relu,gelu   # 6 jobs + a summary
    python examples/train.py -m hydra/sweeper=optuna_search          # Optuna: best accuracy
    python examples/train.py model/init=xavier train.steps=50
    python examples/train.py model.init_cfg.seed=1234               # keyed init: same weights on any route
    python examples/train.py model.pretrained=/path/to/ckpt-1234abcd.pth
    python examples/train.py --cfg job                              # the typed, composed config
    python examples/train.py --config-name vit model/act=relu       # a small ViT (SimpleViT)
    torchrun --nproc_per_node=2 examples/train.py train.steps=50    # DDP on CPU (gloo)
    torchrun --standalone --nproc_per_node=2 examples/train.py dist=fsdp   # FSDP2 shards

Each run writes to its Hydra output directory: ``config.yaml`` (resolved), ``model.txt``,
``init_report.txt``/``.json``, ``metrics.json`` and ``loss.png`` (when matplotlib is installed);
``model.txt``, the init report's header and ``metrics.json`` give params and FLOPs.
``train.save=full`` adds ``model.pth``, ``train.save=sharded`` a ``model_dcp/`` directory.

    python examples/train.py -m model/norm=bn,gn model/act=relu,gelu hydra/launcher=preflight
        # every job composed, validated, built on the meta device and counted; none is run
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

import hydra_cnn

log = logging.getLogger("train")

# shapes.py and sweep_summary.py live beside this script; launchers that run jobs in other
# processes (joblib, submitit) inherit PYTHONPATH, so they find them too.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_HERE, os.environ.get("PYTHONPATH", "")) if p
)

# Opt in: hydra_cnn's models as this app's model group, and its layer and init options under
# this app's group names, placed where the model reads them.
hydra_cnn.register_configs(
    aliases={
        "model/norm@model.norm_cfg": "layers/norm",
        "model/act@model.act_cfg": "layers/act",
        "model/init@model.init_cfg": "init",
        "model/attn@model.attn_cfg": "layers/attention",  # the ViT (--config-name vit)
    },
    groups=["model"],
)
import dist_setup  # noqa: E402 - beside this script, found through the path set above

dist_setup.register()  # the typed ``dist`` group: none, ddp, fsdp


def _dist_env() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when not launched by it."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _prepare_distributed_argv() -> None:
    """Under torchrun: one shared run dir for every rank, outputs written by rank 0 only."""
    rank, world = _dist_env()
    if world <= 1 or any(a in ("-m", "--multirun") for a in sys.argv):
        return
    import torch.distributed as dist

    dist.init_process_group("gloo")
    stamp = [time.strftime("%Y-%m-%d/%H-%M-%S") + "-ddp"]
    dist.broadcast_object_list(stamp, src=0)
    if not any(a.startswith("hydra.run.dir=") for a in sys.argv):
        sys.argv.append(f"hydra.run.dir=outputs/{stamp[0]}")
    if rank != 0:
        sys.argv += ["hydra.output_subdir=null", "hydra/job_logging=none",
                     "hydra/hydra_logging=none"]


def _seed_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """The one place the keyed-init seed (``init_seed``) reaches hydra_cnn's init calls.

    With ``init_seed`` set, every tensor's values depend only on the seed and its name (the
    same weights on one process or sharded over any number of ranks); null uses the global
    RNG seeded by ``seed``. A hydra_cnn without keyed init refuses a set ``init_seed``.
    """
    seed = cfg.get("init_seed")
    if seed is None:
        return {}
    import inspect

    if "seed" not in inspect.signature(hydra_cnn.initialize).parameters:
        raise ValueError(f"init_seed={seed} needs keyed init (hydra_cnn.initialize(..., "
                         f"seed=)), which this hydra_cnn version lacks; set init_seed=null")
    return {"seed": int(seed)}


def _build(cfg: DictConfig, device: Any) -> Any:
    """Build and initialise the model (on the meta device when the init config covers it)."""
    from hydra_cnn.init.meta import build_model

    if cfg.dist.mode == "fsdp":
        return _build_sharded(cfg, device)
    model = build_model(cfg.model, device=device, **_seed_kwargs(cfg))
    from torch import nn

    has_sync_bn = any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    if has_sync_bn and (device.type == "cpu" or _dist_env()[1] == 1):
        warnings.warn(
            "SyncBatchNorm needs CUDA and a distributed run; using BatchNorm instead "
            "(same parameters and statistics)", stacklevel=2,
        )
        model = hydra_cnn.revert_sync_batchnorm(model)
    return model


def _build_sharded(cfg: DictConfig, device: Any) -> Any:
    """dist=fsdp: build on the meta device, shard, allocate the shards, initialise them."""
    from hydra.utils import instantiate

    model = dist_setup.shard_model(lambda: instantiate(cfg.model), cfg.dist, device)
    model.init_weights(**_seed_kwargs(cfg))  # init_cfg, then model.pretrained (rank 0 reads)
    return model


def _complexity(cfg: DictConfig) -> dict[str, Any]:
    """Params and FLOPs of the configured model, counted on a copy built on the meta device
    (no memory, and no collectives of a sharded or replicated model)."""
    import torch
    from hydra.utils import instantiate

    from hydra_cnn.analysis.complexity import complexity_summary

    with torch.device("meta"):
        net = instantiate(cfg.model)
    size = cfg.data.image_size
    return complexity_summary(net, (3, size, size))


def _save(cfg: DictConfig, model: Any, optim: Any, out_dir: Path) -> None:
    """``train.save``: none, full (``model.pth``) or sharded (``model_dcp/``, with the optimizer)."""
    from hydra_cnn.checkpoint import save_checkpoint

    how = cfg.train.get("save", "none")
    if how == "none":
        return
    if how not in ("full", "sharded"):
        raise ValueError(f"train.save={how!r}: accepted are none, full and sharded")
    from hydra_cnn.checkpoint.sharded import is_sharded

    net = model.module if hasattr(model, "module") else model
    if how == "full" and not is_sharded(net) and _dist_env()[0] != 0:
        return  # replicas: rank 0's copy is the model
    if how == "full":
        save_checkpoint(net, out_dir / "model.pth", meta={"steps": cfg.train.steps})
    else:
        save_checkpoint(net, out_dir / "model_dcp", optimizer=optim, sharded=True,
                        meta={"steps": cfg.train.steps}, config=cfg)


def _plot_loss(losses: list[float], path: Path, title: str) -> bool:
    """Save the loss curve to ``path``; False (and nothing written) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(losses) + 1), losses, lw=1, alpha=0.5, label="loss")
    k = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - k + 1): i + 1]) / len(losses[max(0, i - k + 1): i + 1])
              for i in range(len(losses))]
    ax.plot(range(1, len(losses) + 1), smooth, lw=2, label=f"mean of {k}")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _choice(name: str) -> str:
    """The option chosen for a config group in this job (e.g. ``model/norm`` -> ``gn``)."""
    from hydra.core.hydra_config import HydraConfig

    return str(HydraConfig.get().runtime.choices.get(name, "?"))


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Compose, validate, build, initialise, (load), train, evaluate, write outputs."""
    import torch
    import torch.nn.functional as F
    from hydra.core.hydra_config import HydraConfig
    from shapes import CLASSES, make_shapes
    from tqdm import tqdm

    # every target, registry type and init config, before anything is built
    log.info("%s", hydra_cnn.validate(cfg).summary)
    rank, world = _dist_env()
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.train.device)

    model = _build(cfg, device)
    if cfg.model.get("pretrained"):
        log.info("loaded %s", cfg.model.pretrained)
    mode = cfg.dist.mode
    if mode == "none" and world > 1:
        log.info("dist=none under torchrun with %d ranks: training DDP replicas as before "
                 "(dist=ddp says so explicitly; dist=fsdp shards the model)", world)
        mode = "ddp"
    if mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        dist_setup.ensure_process_group(cfg.dist.backend)
        model = DistributedDataParallel(model)

    data = cfg.data
    train_set = make_shapes(data.num_train, data.image_size, seed=data.seed, noise=data.noise)
    test_set = make_shapes(data.num_test, data.image_size, seed=data.seed + 1, noise=data.noise)
    x_train, y_train = train_set.tensors
    optim = torch.optim.SGD(model.parameters(), lr=cfg.train.lr, momentum=cfg.train.momentum,
                            weight_decay=cfg.train.weight_decay)
    steps = cfg.train.steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1))))
    gen = torch.Generator().manual_seed(cfg.seed)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    bar = tqdm(range(steps), desc="train", disable=rank != 0, dynamic_ncols=True)
    for _ in bar:
        idx = torch.randint(len(x_train), (cfg.train.batch_size * world,), generator=gen)
        idx = idx[rank::world]  # each rank its own shard of the global batch
        x, y = x_train[idx].to(device), y_train[idx].to(device)
        loss = F.cross_entropy(model(x), y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    train_time = time.perf_counter() - start

    model.eval()
    correct = 0
    x_test, y_test = test_set.tensors
    with torch.no_grad():
        for i in range(0, len(x_test), cfg.train.eval_batch_size):
            xb = x_test[i: i + cfg.train.eval_batch_size].to(device)
            correct += int((model(xb).argmax(1).cpu() == y_test[i: i + len(xb)]).sum())
    accuracy = correct / len(x_test)
    _save(cfg, model, optim, out_dir)  # every rank: a sharded model is gathered or saved by all

    if rank == 0:
        net = model.module if mode == "ddp" else model
        size = _complexity(cfg)  # counted on a meta-device copy: no collectives
        choices = {g: _choice(g) for g in ("model", "model/norm", "model/act", "model/init")}
        if _choice("model/attn") != "?":
            choices["model/attn"] = _choice("model/attn")
        metrics = {
            "test_accuracy": accuracy,
            "chance": 1 / len(CLASSES),
            "final_loss": sum(losses[-10:]) / max(len(losses[-10:]), 1),
            "steps": steps,
            "train_seconds": round(train_time, 3),
            "parameters": sum(p.numel() for p in net.parameters()),
            "flops": size["flops"],  # multiply-adds per image (mmcv's convention)
            "input_shape": size["input_shape"],
            "world_size": world,
            "dist": cfg.dist.mode,
            **{k.replace("/", "."): v for k, v in choices.items()},
        }
        (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        (out_dir / "model.txt").write_text(f"{size['text']}\n{net}\n")
        report = net.init_report() if hasattr(net, "init_report") else None
        if report is not None:
            report.complexity = size["text"]
            (out_dir / "init_report.txt").write_text(str(report) + "\n")
            report.to_json(out_dir / "init_report.json")
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        title = " ".join(f"{k}={v}" for k, v in choices.items())
        if not _plot_loss(losses, out_dir / "loss.png", title):
            print("plots skipped: matplotlib is not installed (pip install 'hydra-cnn[examples]')")
        print(f"test accuracy {accuracy:.3f} (chance {1 / len(CLASSES):.3f}) after {steps} steps "
              f"in {train_time:.1f}s; outputs in {out_dir}")
    return accuracy


if __name__ == "__main__":
    _prepare_distributed_argv()
    main()
