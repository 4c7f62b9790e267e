"""Build a model and initialise it once: on the meta device when its init config covers it.

A normal build runs PyTorch's default init (``reset_parameters``) for every layer, and then
``init_weights()`` overwrites most of it. :func:`build_model` rehearses the build and the init
on the ``meta`` device (no memory, no compute); when every parameter and buffer would be
written by the init (configs, checkpoints, ``init_weights`` methods, or a norm layer's
running-stat reset), it allocates the model with ``to_empty`` and initialises it for real, so
PyTorch's default init never runs. Otherwise it builds normally and logs why at DEBUG level
(logger ``hydra_cnn.init``).

    >>> model = build_model(lambda: Net(init_cfg=dict(type='Kaiming', layer='Conv2d')))  # doctest: +SKIP
    >>> model.init_report().uninitialized()                                              # doctest: +SKIP
    []
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from hydra_cnn.init.base_module import (
    BaseModule,
    InitPlans,
    check_init_tree,
    init_subtree,
    visit_module,
)
from hydra_cnn.init.tracking import (
    NONE,
    RESET,
    InitTracker,
    mark_uninitialized,
    materialize,
    tracking,
)

__all__ = ["build_model", "materialize"]

logger = logging.getLogger("hydra_cnn.init")


def _factory(cfg_or_factory: Any) -> Callable[[], Any]:
    if isinstance(cfg_or_factory, nn.Module):
        raise TypeError(
            "build_model needs a way to build the model (a class, a function, or a config), "
            f"not a built {type(cfg_or_factory).__name__}; use init_weights() on it instead"
        )
    is_cfg = isinstance(cfg_or_factory, Mapping) or (
        dataclasses.is_dataclass(cfg_or_factory) and not isinstance(cfg_or_factory, type)
    )
    if is_cfg:
        keys = (
            set(cfg_or_factory) if isinstance(cfg_or_factory, Mapping)
            else {f.name for f in dataclasses.fields(cfg_or_factory)}
        )
        if "_target_" in keys:
            from hydra.utils import instantiate

            return lambda: instantiate(cfg_or_factory)
        if "type" in keys:
            from hydra_cnn.registry import MODELS

            return lambda: MODELS.build(cfg_or_factory)
        raise TypeError(
            f"a model config needs '_target_' (Hydra) or 'type' (MODELS registry), got {cfg_or_factory!r}"
        )
    if callable(cfg_or_factory):
        return cfg_or_factory
    raise TypeError(
        "build_model takes a model class or factory, a Hydra config with _target_, or a dict "
        f"with type, but got {type(cfg_or_factory).__name__}: {cfg_or_factory!r}"
    )


def _init_root(model: nn.Module, init_cfg: Any, tracker: InitTracker) -> None:
    if isinstance(model, BaseModule) or init_cfg is None:
        visit_module(model, tracker)  # a BaseModule's own init_cfg (build_model set it)
        return
    init_subtree(model, init_cfg, tracker, lambda: visit_module(model, tracker))


def _reset_flags(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, BaseModule):
            m._is_init = False


def _init(model: nn.Module, init_cfg: Any, report: bool, dry_run: bool = False,
          loads: bool | None = None, seed: int | None = None,
          plans: InitPlans | None = None) -> InitTracker:
    """Initialise ``model``; ``loads``: whether its configs load a checkpoint, when already
    checked (None: check them now); ``plans``: the plans that check kept. Returns the run's
    tracker."""
    if loads is None:
        plans = InitPlans()
        loads = _check(model, init_cfg, plans)
    with tracking(model, report=report, dry_run=dry_run, seed=seed,
                  transactional=loads and not dry_run) as tracker:
        tracker.plans = plans
        _init_root(model, init_cfg, tracker)
    return tracker


def _uncovered(tracker: InitTracker) -> list[str]:
    """Tensors the rehearsal left to PyTorch: never written, or parameters only a
    ``reset_parameters`` fallback wrote (buffers a norm layer resets are fine)."""
    out = []
    for name, kind, owner in tracker.tensor_owners():
        origin = tracker.origin(name)
        reset_stats = origin == RESET and kind == "buffer" and isinstance(owner, _NormBase)
        if origin == NONE or (origin == RESET and not reset_stats):
            out.append(name)
    return out


def _check(model: nn.Module, init_cfg: Any, plans: InitPlans) -> bool:
    """Build and check every init config the run will apply (raises; writes nothing), keeping
    the plans in ``plans``; whether one loads a checkpoint."""
    return check_init_tree(model, None if isinstance(model, BaseModule) else init_cfg, plans)


def _rehearse(model: nn.Module, init_cfg: Any, plans: InitPlans) -> tuple[str | None, bool]:
    """Run the init on the meta-device ``model``: ``(None when it covers every tensor, else
    why; whether the configs load a checkpoint)``. The checked plans go to ``plans``, for the
    real run to reuse.

    A bad init config raises here, before the model is built for real.
    """
    loads = _check(model, init_cfg, plans)
    mark_uninitialized(model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tracker = _init(model, init_cfg, report=True, dry_run=True, loads=loads,
                            plans=plans)
    except Exception as exc:  # a data-dependent init cannot run on meta tensors
        return f"its init fails on the meta device ({type(exc).__name__}: {exc})", loads
    finally:
        _reset_flags(model)
    missing = _uncovered(tracker)
    if missing:
        shown = ", ".join(missing[:8]) + (f", ... ({len(missing)} in all)" if len(missing) > 8 else "")
        return f"the init config does not cover {shown}", loads
    return None, loads


def build_model(
    cfg_or_factory: Any,
    device: str | torch.device = "cpu",
    init_cfg: Any = None,
    *,
    report: bool = True,
    seed: int | None = None,
) -> nn.Module:
    """Build a model and initialise it, skipping PyTorch's default init when possible.

    Args:
        cfg_or_factory: how to build the model: a class or function called with no arguments,
            a Hydra config with ``_target_``, or a dict with ``type`` (``MODELS`` registry).
        device: where the parameters live (default ``'cpu'``).
        init_cfg: init config for the whole model (default None: the model's own). For a
            ``BaseModule`` it replaces the model's ``init_cfg``; for a plain module it applies
            to the root before its children's ``init_weights``.
        report: kept for compatibility (default True): the init report is recorded either way.
        seed: keyed init (default None: the global RNG). With an int, every random tensor's
            values depend only on the seed, its qualified name, its shape and its initializer,
            so both routes (meta device or normal build) give the same weights, as do
            ``initialize``/``init_weights`` with the same seed on a model built any other way.

    Returns:
        The initialised model (``init_weights()`` has run: calling it again warns).

    Example:
        >>> model = build_model(MyNet, init_cfg=dict(type='Kaiming', layer='Conv2d'))  # doctest: +SKIP
        >>> print(model.init_report())                                                 # doctest: +SKIP
    """
    from hydra_cnn.init.keyed import check_seed

    seed = check_seed(seed)
    make = _factory(cfg_or_factory)
    device = torch.device(device)

    def _built(model: Any) -> nn.Module:
        if not isinstance(model, nn.Module):
            raise TypeError(f"the model factory returned {type(model).__name__}, not an nn.Module")
        if init_cfg is not None and isinstance(model, BaseModule):
            model.init_cfg = copy.deepcopy(init_cfg)
        return model

    reason: str | None
    try:
        with torch.device("meta"):
            built = make()
    except Exception as exc:  # e.g. a constructor that computes from tensor values
        reason = f"building it on the meta device fails ({type(exc).__name__}: {exc})"
    else:
        model = _built(built)
        plans = InitPlans()
        reason, loads = _rehearse(model, init_cfg, plans)
        if reason is None:
            materialize(model, device)
            _reset_flags(model)
            mark_uninitialized(model)
            # the rehearsal checked and planned it
            _init(model, init_cfg, report, loads=loads, seed=seed, plans=plans)
            logger.debug("build_model: %s built on the meta device; PyTorch's default init "
                         "skipped", type(model).__name__)
            return model
    logger.debug("build_model: building %s normally because %s",
                 getattr(make, "__name__", type(make).__name__), reason)
    with torch.device(device):
        model = _built(make())
    _reset_flags(model)
    _init(model, init_cfg, report, seed=seed)
    return model

