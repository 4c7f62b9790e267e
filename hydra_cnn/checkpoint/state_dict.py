"""Copy a state dict into a model safely, and report what happened in a few grouped lines.

:func:`load_state_dict` never half-copies: keys whose shapes differ from the model's are
skipped (and reported), and with ``strict=True`` every problem is found *before* anything is
copied, so a refused load leaves the model unchanged (torch's own strict load copies the good
tensors first, then raises). It returns a :class:`LoadReport`::

    >>> report = load_state_dict(model, checkpoint['state_dict'])
    >>> print(report)
    loaded 318 of 320 keys
    missing 2 keys: fc.* (2)
    unexpected 1 key: head.weight

Missing ``num_batches_tracked`` buffers are not problems (mmcv's rule): they are listed in
``report.ignored`` and never fail a strict load. A state dict must map strings to tensors
(``<module>._extra_state`` entries excepted): an integer key or a value that is not a tensor
raises :class:`~hydra_cnn.checkpoint.errors.StateDictError` naming the key before anything is
copied, with or without ``strict``.

A sharded model (FSDP2 ``fully_shard``, DTensor parameters) is planned the same way against the
tensors' global shapes; each rank then copies only its slice of each full tensor into its shard
(see :mod:`hydra_cnn.checkpoint.sharded` for the rank-0 read and broadcast).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import logging
import sys
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hydra_cnn.checkpoint.dist import _agree
from hydra_cnn.checkpoint.errors import StateDictError, StrictLoadError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "LoadReport",
    "LoggerLike",
    "check_state_dict",
    "get_state_dict",
    "group_keys",
    "is_sharded",
    "load_state_dict",
    "unwrap_model",
    "weights_to_cpu",
]

#: What ``logger=`` accepts: None (hydra_cnn's logger), a Logger, a logger name, or 'silent'.
LoggerLike = logging.Logger | str | None


def get_logger(logger: LoggerLike) -> logging.Logger | None:
    """Resolve a ``logger=`` argument to a Logger; None for ``'silent'``.

    Args:
        logger: None (the ``hydra_cnn.checkpoint`` logger), a Logger, a logger name, or
            ``'silent'``.
    """
    if logger is None:
        return logging.getLogger("hydra_cnn.checkpoint")
    if isinstance(logger, logging.Logger):
        return logger
    if isinstance(logger, str):
        return None if logger == "silent" else logging.getLogger(logger)
    raise TypeError(
        f"logger must be None, a logging.Logger, a logger name or 'silent', got "
        f"{type(logger).__name__}"
    )


def group_keys(keys: Iterable[str], max_groups: int = 6) -> str:
    """Summarise keys by their first component: ``['fc.weight', 'fc.bias'] -> 'fc.* (2)'``.

    Args:
        keys: state-dict keys.
        max_groups: groups shown before ``... and N more``; default 6.
    """
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.split(".", 1)[0], []).append(key)
    parts = [ks[0] if len(ks) == 1 else f"{g}.* ({len(ks)})" for g, ks in groups.items()]
    if len(parts) > max_groups:
        rest = sum(len(ks) for ks in list(groups.values())[max_groups:])
        parts = [*parts[:max_groups], f"... and {rest} more"]
    return ", ".join(parts)


def _keys_summary(keys: list[str], shown: int = 3) -> str:
    """Grouped keys, then the first ``shown`` in full when grouping hid some of them."""
    text = group_keys(keys)
    if len(keys) > 1 and any(k not in text.split(", ") for k in keys[:shown]):
        text += "; first: " + ", ".join(keys[:shown])
    return text


def _plural(n: int) -> str:
    return f"{n} key" if n == 1 else f"{n} keys"


@dataclass
class LoadReport:
    """What :func:`load_state_dict` did: loaded, missing, unexpected and shape-mismatched keys.

    Args:
        loaded: model keys copied from the checkpoint.
        missing: model keys the checkpoint lacks (not copied).
        unexpected: checkpoint keys the model lacks (ignored).
        mismatched: ``(key, checkpoint shape, model shape)`` for skipped keys.
        ignored: missing keys that are not problems (``num_batches_tracked``).
        total: the number of keys in the model's state dict.
        source: where the weights came from (a path or URL), for messages; default None.
    """

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    total: int = 0
    source: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unexpected or mismatched."""
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def missing_keys(self) -> list[str]:
        """Alias of ``missing`` (torch's ``_IncompatibleKeys`` name)."""
        return self.missing

    @property
    def unexpected_keys(self) -> list[str]:
        """Alias of ``unexpected`` (torch's ``_IncompatibleKeys`` name)."""
        return self.unexpected

    def lines(self, max_mismatched: int = 5) -> list[str]:
        """The report as short lines (see :meth:`__str__`).

        Args:
            max_mismatched: shape mismatches listed one by one before ``... and N more``;
                default 5.
        """
        src = f" from {self.source}" if self.source else ""
        out = [f"loaded {len(self.loaded)} of {self.total} keys{src}"]
        if self.missing:
            out.append(f"missing {_plural(len(self.missing))}: {_keys_summary(self.missing)}")
        if self.unexpected:
            out.append(f"unexpected {_plural(len(self.unexpected))}: "
                       f"{_keys_summary(self.unexpected)}")
        if self.mismatched:
            shown = [f"{k} (checkpoint {tuple(c)}, model {tuple(m)})"
                     for k, c, m in self.mismatched[:max_mismatched]]
            more = len(self.mismatched) - len(shown)
            tail = f", ... and {more} more" if more > 0 else ""
            out.append(f"shape mismatch in {_plural(len(self.mismatched))} (skipped): "
                       + ", ".join(shown) + tail)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON)."""
        return {
            "loaded": list(self.loaded), "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": [[k, list(c), list(m)] for k, c, m in self.mismatched],
            "ignored": list(self.ignored), "total": self.total, "source": self.source,
        }


def unwrap_model(module: nn.Module) -> nn.Module:
    """Return the model inside DataParallel / DistributedDataParallel / torch.compile wrappers.

    Args:
        module: a model, wrapped or not (nested wrappers are all removed).
    """
    from torch import nn
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    while True:
        if isinstance(module, (DataParallel, DistributedDataParallel)):
            inner = module.module
        elif type(module).__name__ == "OptimizedModule" and hasattr(module, "_orig_mod"):
            inner = module._orig_mod
        else:
            return module
        assert isinstance(inner, nn.Module)
        module = inner


def _wrapper_child(module: Any) -> str | None:
    """The attribute a wrapper keeps its model under (``module``, ``_orig_mod``), or None."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    if isinstance(module, (DataParallel, DistributedDataParallel)):
        return "module"
    if type(module).__name__ == "OptimizedModule" and hasattr(module, "_orig_mod"):
        return "_orig_mod"
    return None


class _NestedWrappers:
    """Key names of a model with wrappers *inside* it (``nn.Sequential(DataParallel(conv))``).

    mmcv's names drop the wrapper's own segment (``0.weight``, not ``0.module.weight``);
    :meth:`clean` maps the model's own (raw) names to those, :meth:`raw` back.
    """

    def __init__(self, module: nn.Module) -> None:
        self.paths: dict[str, str] = {}
        for name, sub in module.named_modules():
            child = _wrapper_child(sub) if name else None
            if child is not None:
                self.paths[name] = child
        self._raw: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.paths)

    def clean(self, key: str) -> str:
        """``0.module.weight`` -> ``0.weight`` (raw model name to mmcv's name)."""
        if not self.paths:
            return key
        raw: list[str] = []
        out: list[str] = []
        for part in key.split("."):
            if raw and self.paths.get(".".join(raw)) == part:
                raw.append(part)
                continue
            raw.append(part)
            out.append(part)
        return ".".join(out)

    def learn(self, raw_names: Iterable[str]) -> None:
        """Remember the raw names of the model (state-dict keys and module names)."""
        for name in raw_names:
            self._raw.setdefault(self.clean(name), name)

    def raw(self, key: str) -> str:
        """A clean (or already raw) key as the model names it; unknown keys stay as they are."""
        return self._raw.get(key, key)


def _clean_state_dict(sd: Mapping[str, Any], names: _NestedWrappers) -> OrderedDict[str, Any]:
    out: OrderedDict[str, Any] = OrderedDict((names.clean(k), v) for k, v in sd.items())
    metadata = getattr(sd, "_metadata", None)
    if isinstance(metadata, Mapping):
        meta: OrderedDict[str, Any] = OrderedDict()
        for k, v in metadata.items():
            meta.setdefault(names.clean(k) if isinstance(k, str) else k, v)
        out._metadata = meta  # type: ignore[attr-defined]
    return out


def get_state_dict(
    module: nn.Module,
    destination: OrderedDict[str, Any] | None = None,
    prefix: str = "",
    keep_vars: bool = False,
) -> OrderedDict[str, Any]:
    """Return a module's state dict, unwrapping DataParallel/DDP (non-persistent buffers excluded).

    Args:
        module: the model (a wrapper is unwrapped, so keys have no ``module.`` prefix).
        destination: a dict to fill; default None creates an ``OrderedDict``.
        prefix: a prefix for every key; default ``''``.
        keep_vars: keep tensors attached to autograd; default False detaches them.
    """
    model = unwrap_model(module)
    names = _NestedWrappers(model)
    if not names:
        if destination is None:
            return model.state_dict(prefix=prefix, keep_vars=keep_vars)  # type: ignore[return-value]
        return model.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)
    clean = _clean_state_dict(model.state_dict(keep_vars=keep_vars), names)
    out: OrderedDict[str, Any] = destination if destination is not None else OrderedDict()
    for k, v in clean.items():
        out[prefix + k] = v
    meta = getattr(clean, "_metadata", OrderedDict())
    target_meta = getattr(out, "_metadata", None)
    if target_meta is None:
        target_meta = OrderedDict()
        out._metadata = target_meta  # type: ignore[attr-defined]
    for k, v in meta.items():
        target_meta[prefix + k if k else prefix[:-1]] = v
    return out


def weights_to_cpu(state_dict: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """Return a copy of a state dict with every tensor on the CPU (``_metadata`` kept).

    Args:
        state_dict: name -> tensor; other values are kept as they are.
    """
    import torch

    out: OrderedDict[str, Any] = OrderedDict(
        (k, v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in state_dict.items()
    )
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        out._metadata = metadata  # type: ignore[attr-defined]
    return out


def _short_repr(value: Any) -> str | None:
    """``repr(value)`` for a short scalar; None for anything else (never a container's repr:
    a deeply nested one would raise RecursionError; nor a huge int's: ValueError)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return None
    if isinstance(value, (str, bytes)) and len(value) > 40:
        return None
    if isinstance(value, (int, float, str, bytes)):
        text = repr(value)
        return text if len(text) <= 40 else None
    return None


def _describe_value(value: Any) -> str:
    kind = type(value).__name__
    if value is None:
        return "None"
    if isinstance(value, Mapping):
        return f"a {kind} of {len(value)} entries"
    if isinstance(value, (list, tuple)):
        return f"a {kind} of {len(value)} items"
    shown = _short_repr(value)
    return f"the {kind} {shown}" if shown is not None else f"a {kind}"


def check_state_dict(state_dict: Any, source: str | None = None) -> None:
    """Check that ``state_dict`` maps strings to tensors; raise naming the first bad entry.

    ``<module>._extra_state`` entries (``get_extra_state``) may hold anything.

    Args:
        state_dict: the candidate state dict.
        source: the checkpoint's path or URL, for the message; default None.

    Raises:
        StateDictError: not a mapping, a key that is not a ``str``, or a value that is not a
            tensor (a number, a nested dict, ...).
    """
    from torch.overrides import is_tensor_like

    where = f" of {source}" if source else ""
    if not isinstance(state_dict, Mapping):
        raise StateDictError(f"the state dict{where} is {_describe_value(state_dict)}, not a "
                             f"mapping of parameter names to tensors")
    for key, value in state_dict.items():
        if not isinstance(key, str):
            shown = _short_repr(key) or "of that type"
            raise StateDictError(
                f"the state dict{where} has the key {shown} (type {type(key).__name__}); keys "
                f"must be strings such as 'conv1.weight'. Nothing was copied")
        if is_tensor_like(value) or key.rsplit(".", 1)[-1] == "_extra_state":
            continue
        hint = ""
        if isinstance(value, Mapping):
            hint = (f"; if the weights sit under {key!r}, pass state_dict_key={key!r} "
                    f"(load_checkpoint) or load that entry")
        raise StateDictError(
            f"the state dict{where} maps {key!r} to {_describe_value(value)}, not a tensor; "
            f"a state dict maps parameter names to tensors{hint}. Nothing was copied")


def _is_lazy(t: Any) -> bool:
    from torch.nn.parameter import is_lazy

    return bool(is_lazy(t))


def _shape_ok(ckpt: Any, model: Any) -> bool:
    if _is_lazy(model):
        return True
    if tuple(ckpt.shape) == tuple(model.shape):
        return True
    # torch accepts a 1-element 1-d tensor for a 0-d parameter (old checkpoints)
    return model.dim() == 0 and tuple(ckpt.shape) == (1,)


def _copy_problem(value: Any, target: Any) -> str | None:
    """Why ``target.copy_(value)`` would fail (or copy nothing), or None."""
    if _is_lazy(target):
        return None
    if value.device.type == "meta" and target.device.type != "meta":
        return ("the checkpoint's tensor is on the meta device and holds no data (loaded with "
                "map_location='meta'?)")
    if value.is_quantized != target.is_quantized:
        which = "checkpoint's" if value.is_quantized else "model's"
        return (f"the {which} tensor is quantized ({value.dtype if value.is_quantized else target.dtype}), "
                f"the other is not; a quantized tensor cannot be copied into a plain one "
                f"(dequantize it first, or load into a quantized model)")
    if getattr(value, "is_nested", False):
        return "the checkpoint's tensor is a nested tensor, the model's a plain one"
    if value.layout != target.layout:
        return f"the checkpoint's tensor has the layout {value.layout}, the model's {target.layout}"
    return None


def _meta_problem(module: nn.Module, keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:5]) + (f", ... ({len(keys)} in all)"
                                                     if len(keys) > 5 else "")
    return (f"cannot load into {type(module).__name__}: its tensors {shown} are on the meta "
            f"device (the model was built under torch.device('meta')), so a copy would write "
            f"nothing. Materialise the model first, e.g. model.to_empty(device='cpu'), then "
            f"load the checkpoint. Nothing was copied")


def _to_meta(value: Any) -> Any:
    """A meta tensor of ``value``'s shape (a placeholder for layouts meta cannot hold)."""
    import torch

    try:
        return value.to("meta")
    except (NotImplementedError, RuntimeError):
        return torch.empty(tuple(value.shape), device="meta")


def _meta_dry_run(module: nn.Module, state_dict: Mapping[str, Any]
                  ) -> tuple[list[str], list[str], str | None] | None:
    """Load into a meta-device clone (no data copied); None when the model cannot be cloned."""
    import torch
    from torch import nn

    try:
        memo: dict[int, Any] = {}
        for t in itertools.chain(module.parameters(), module.buffers()):
            if id(t) in memo or _is_lazy(t):
                continue
            meta = torch.empty_like(t, device="meta")
            memo[id(t)] = (nn.Parameter(meta, requires_grad=t.requires_grad)
                           if isinstance(t, nn.Parameter) else meta)
        clone = copy.deepcopy(module, memo)
    except Exception:
        return None
    meta_sd: OrderedDict[str, Any] = OrderedDict(
        (k, _to_meta(v) if isinstance(v, torch.Tensor) else v) for k, v in state_dict.items()
    )
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        meta_sd._metadata = metadata  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = clone.load_state_dict(meta_sd, strict=False)
    except RuntimeError as err:
        return [], [], str(err)
    return list(result.missing_keys), list(result.unexpected_keys), None


def _checked_metadata(state_dict: Mapping[str, Any], source: str | None) -> Any:
    """The state dict's ``_metadata`` (module versions), or None when it is malformed."""
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is None:
        return None
    if isinstance(metadata, Mapping) and all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in metadata.items()):
        return metadata
    warnings.warn(f"ignoring the malformed _metadata ({_describe_value(metadata)}) of the state "
                  f"dict{f' of {source}' if source else ''}: it should map module names to "
                  f"dicts of versions", stacklevel=3)
    return None


def _raw_state_dict(sd: Mapping[str, Any], names: _NestedWrappers, metadata: Any
                    ) -> OrderedDict[str, Any]:
    out: OrderedDict[str, Any] = OrderedDict((names.raw(k), v) for k, v in sd.items())
    if metadata is not None:
        out._metadata = OrderedDict(  # type: ignore[attr-defined]
            (names.raw(k), v) for k, v in metadata.items())
    return out


def _clean_report(report: LoadReport, names: _NestedWrappers) -> LoadReport:
    if not names:
        return report
    c = names.clean
    return LoadReport(
        loaded=[c(k) for k in report.loaded], missing=[c(k) for k in report.missing],
        unexpected=[c(k) for k in report.unexpected],
        mismatched=[(c(k), s, m) for k, s, m in report.mismatched],
        ignored=[c(k) for k in report.ignored], total=report.total, source=report.source)


def _split_ignored(missing: Iterable[str]) -> tuple[list[str], list[str]]:
    real: list[str] = []
    ignored: list[str] = []
    for k in missing:
        (ignored if k.rsplit(".", 1)[-1] == "num_batches_tracked" else real).append(k)
    return real, ignored


def load_state_dict(
    module: nn.Module,
    state_dict: Mapping[str, Any],
    strict: bool = False,
    logger: LoggerLike = None,
    *,
    source: str | None = None,
) -> LoadReport:
    """Copy ``state_dict`` into ``module``; return a :class:`LoadReport` and log it briefly.

    Args:
        module: the model; DataParallel/DDP wrappers are unwrapped.
        state_dict: name -> tensor (its ``_metadata`` is honoured).
        strict: raise :class:`StrictLoadError` (a ``RuntimeError``) when any key is missing,
            unexpected or shape-mismatched, before copying anything; default False.
        logger: where the report goes: None (the ``hydra_cnn.checkpoint`` logger), a Logger, a
            logger name or ``'silent'``; default None. Problems log as warnings.
        source: a path or URL named in the report; default None.

    A sharded model (DTensor parameters) takes the full state dict on every rank; each rank
    copies its part, and an error raises on every rank before anything is copied.
    """
    import torch

    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of name -> tensor, got "
                        f"{type(state_dict).__name__}")
    check_state_dict(state_dict, source)
    metadata = _checked_metadata(state_dict, source)
    module = unwrap_model(module)
    if is_sharded(module):  # each rank copies its part; an error raises on every rank
        report = load_state_dict_into_sharded(module, state_dict, strict, source)
        _log_report(report, logger)
        return report
    model_sd = module.state_dict(keep_vars=True)
    names = _NestedWrappers(module)
    if names:  # wrappers inside the model: accept mmcv's names (0.weight for 0.module.weight)
        names.learn(itertools.chain(model_sd, (n for n, _ in module.named_modules())))
        state_dict = _raw_state_dict(state_dict, names, metadata)
        metadata = getattr(state_dict, "_metadata", None)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    filtered: OrderedDict[str, Any] = OrderedDict()
    problems: list[tuple[str, str]] = []
    on_meta: list[str] = []
    for key, value in state_dict.items():
        target = model_sd.get(key)
        if isinstance(value, torch.Tensor) and isinstance(target, torch.Tensor):
            if not _shape_ok(value, target):
                mismatched.append((key, tuple(value.shape), tuple(target.shape)))
                continue
            problem = _copy_problem(value, target)
            if problem:  # torch would copy the other keys, then raise
                problems.append((key, problem))
            elif (target.device.type == "meta" and value.device.type != "meta"
                  and not _is_lazy(target)):
                on_meta.append(key)
        filtered[key] = value
    if problems:
        where = f" of {source}" if source else ""
        keys = ", ".join(repr(k) for k, _ in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        listed = (problems[0][1] if len(problems) == 1
                  else "; ".join(f"{k!r}: {why}" for k, why in problems[:5]))
        raise StateDictError(
            f"cannot load {keys}{more} from the state dict{where}: {listed}. Nothing was "
            f"copied, the model is unchanged")
    if on_meta:
        raise RuntimeError(_meta_problem(module, on_meta))
    if metadata is not None:
        filtered._metadata = metadata  # type: ignore[attr-defined]

    skipped = {k for k, _, _ in mismatched}
    if strict:
        dry = _meta_dry_run(module, filtered)
        if dry is None:  # fall back to comparing key sets
            dry = ([k for k in model_sd if k not in state_dict],
                   [k for k in state_dict if k not in model_sd], None)
        missing, ignored = _split_ignored(k for k in dry[0] if k not in skipped)
        report = LoadReport(
            loaded=[], missing=missing, unexpected=dry[1], mismatched=mismatched,
            ignored=ignored, total=len(model_sd), source=source,
        )
        report = _clean_report(report, names)
        if not report.ok or dry[2]:
            extra = f"\n{dry[2]}" if dry[2] else ""
            raise StrictLoadError(
                f"Error(s) in loading state_dict for {type(module).__name__} (strict=True; "
                f"nothing was copied, the model is unchanged):\n"
                + "\n".join(report.lines()[1:]) + extra,
                report,
            )
    result = module.load_state_dict(filtered, strict=False)
    missing, ignored = _split_ignored(k for k in result.missing_keys if k not in skipped)
    missing_set = set(result.missing_keys)
    report = LoadReport(
        loaded=[k for k in model_sd if k in filtered and k not in missing_set],
        missing=missing, unexpected=list(result.unexpected_keys), mismatched=mismatched,
        ignored=ignored, total=len(model_sd), source=source,
    )
    report = _clean_report(report, names)
    _log_report(report, logger)
    return report


def _log_report(report: LoadReport, logger: LoggerLike) -> None:
    log = get_logger(logger)
    if log is not None:
        log.log(logging.INFO if report.ok else logging.WARNING, "%s", report)


# -- sharded models (DTensor parameters): place full tensors into each rank's shards --------
def is_sharded(model: nn.Module) -> bool:
    """Whether ``model`` is sharded: FSDP2 units (``fully_shard``) or DTensor parameters or
    buffers (tensor parallel).

    Args:
        model: the model (DataParallel/DDP wrappers are unwrapped).
    """
    mod = sys.modules.get("torch.distributed.tensor")
    if mod is None:  # nothing can be sharded before torch.distributed.tensor is imported
        return False
    module = unwrap_model(model)
    unit = _fsdp_unit()
    if unit is not None and any(isinstance(m, unit) for m in module.modules()):
        return True  # also after a forward that left the units unsharded
    dtensor = mod.DTensor
    return any(isinstance(t, dtensor)
               for t in itertools.chain(module.parameters(), module.buffers()))


def _fsdp_unit() -> Any:
    fsdp = sys.modules.get("torch.distributed.fsdp")
    return getattr(fsdp, "FSDPModule", None) if fsdp is not None else None


@dataclasses.dataclass
class _Plan:
    """What rank 0 decided: the tensors to send (key, shape, dtype), the report, extras."""

    tensors: list[tuple[str, tuple[int, ...], Any]]
    extra: dict[str, Any]
    report: LoadReport
    meta: dict[str, Any]
    call: tuple[Any, ...]
    model: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)


def _local(t: Any) -> Any:
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) and hasattr(t, "placements") else t


def _plan(module: nn.Module, targets: Mapping[str, Any], sd: Mapping[str, Any], strict: bool,
          source: str, call: tuple[Any, ...], meta: dict[str, Any]) -> _Plan:
    """Check ``sd`` against the model (global shapes) and decide what to copy; copy nothing."""
    import torch

    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    send: list[tuple[str, tuple[int, ...], Any]] = []
    extra: dict[str, Any] = {}
    for key, value in sd.items():
        target = targets.get(key)
        if key.rsplit(".", 1)[-1] == "_extra_state":
            if key in targets:
                extra[key] = value
            continue
        if not (isinstance(value, torch.Tensor) and isinstance(target, torch.Tensor)):
            continue
        if not _shape_ok(value, target):
            mismatched.append((key, tuple(value.shape), tuple(target.shape)))
            continue
        problem = _copy_problem(value, _local(target))
        if problem:
            raise StateDictError(f"cannot load {key!r} from the state dict of {source}: "
                                 f"{problem}. Nothing was copied")
        send.append((key, tuple(value.shape), value.dtype))
    copied = {k for k, _, _ in send} | set(extra)
    missing, ignored = _split_ignored(k for k in targets if k not in sd)
    report = LoadReport(
        loaded=[k for k in targets if k in copied], missing=missing,
        unexpected=[k for k in sd if k not in targets], mismatched=mismatched,
        ignored=ignored, total=len(targets), source=source,
    )
    if strict and not report.ok:
        refused = dataclasses.replace(report, loaded=[])
        raise StrictLoadError(
            f"Error(s) in loading state_dict for {type(module).__name__} (strict=True; nothing "
            f"was copied, the model is unchanged):\n" + "\n".join(refused.lines()[1:]),
            refused,
        )
    return _Plan(send, extra, report, meta, call, _signature(targets))


def _signature(targets: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The model's keys and global shapes, to compare between ranks."""
    return [(k, tuple(getattr(v, "shape", ()))) for k, v in targets.items()]


def _check_here(plan: _Plan, targets: Mapping[str, Any], call: tuple[Any, ...]) -> None:
    """On every rank: the same call, the same model, a materialised one."""
    if call != plan.call:
        raise ValueError(f"load_checkpoint was called with other arguments here than on rank 0 "
                         f"(here {call!r}, rank 0 {plan.call!r}); every rank must make the "
                         f"same call")
    mine = _signature(targets)
    if mine != plan.model:
        theirs = dict(plan.model)
        diff = [f"{k} {s}" for k, s in mine if theirs.get(k) != s][:3] or [
            f"{k} (missing here)" for k in theirs if k not in dict(mine)][:3]
        raise ValueError(f"the model differs between ranks: this rank's state dict differs from "
                         f"rank 0's at {', '.join(diff)}; build the same model on every rank")
    for key, shape, _ in plan.tensors:
        target = targets.get(key)
        if target is None or not (tuple(target.shape) == shape
                                  or (target.dim() == 0 and shape == (1,))):
            found = "no such key" if target is None else f"shape {tuple(target.shape)}"
            raise ValueError(f"the model differs between ranks: rank 0 has {key!r} with shape "
                             f"{shape}, this rank {found}; build the same model on every rank")
        if _local(target).device.type == "meta":
            raise ValueError(f"{key!r} of the model is on the meta device (no memory): "
                             f"materialise the model first, e.g. model.to_empty(device='cpu') "
                             f"after fully_shard, then load")


def _piece(full: torch.Tensor, target: Any) -> torch.Tensor:
    """The part of ``full`` that this rank holds of ``target`` (a view where possible)."""
    if not hasattr(target, "placements"):
        return full
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    local = target.to_local()
    mesh = target.device_mesh
    coord = mesh.get_coordinate()
    view = full
    plain = coord is not None
    for dim, placement in enumerate(target.placements):
        if not plain:
            break
        if type(placement) is Shard:
            d = placement.dim
            chunks = view.chunk(mesh.size(dim), dim=d)
            c = coord[dim]
            view = chunks[c] if c < len(chunks) else view.narrow(d, view.size(d), 0)
        elif not isinstance(placement, Replicate):
            plain = False
    if plain and tuple(view.shape) == tuple(local.shape):
        return view
    # other placements (strided shards of FSDP + TP, ...): torch slices it, no communication
    return distribute_tensor(full, mesh, target.placements, src_data_rank=None).to_local()


def _resharded(module: nn.Module) -> None:
    """Put FSDP2 units back to their sharded state, so copies into the shards are what the next
    forward gathers (after a forward with ``reshard_after_forward=False`` they are unsharded)."""
    unit = _fsdp_unit()
    if unit is None:
        return
    for m in module.modules():
        if isinstance(m, unit):
            m.reshard()


def _bump(target: Any) -> None:
    """Count the write on the DTensor itself (its local tensor's counter moved)."""
    import torch

    inc = getattr(torch.autograd.graph, "increment_version", None)
    if inc is not None and hasattr(target, "placements"):
        with contextlib.suppress(Exception):
            inc(target)


def _copy_into(target: Any, full: torch.Tensor) -> None:
    local = _local(target)
    piece = _piece(full, target)
    if tuple(piece.shape) != tuple(local.shape):  # a (1,) tensor for a 0-d parameter
        piece = piece.reshape(local.shape)
    local.copy_(piece)
    _bump(target)


def _set_extra(module: nn.Module, key: str, value: Any) -> None:
    owner = key[: -len("_extra_state")].rstrip(".")
    (module.get_submodule(owner) if owner else module).set_extra_state(value)


def load_state_dict_into_sharded(module: nn.Module, state_dict: Mapping[str, Any],
                                 strict: bool, source: str | None) -> LoadReport:
    """Every rank holds the full ``state_dict``: copy each rank's part (no communication
    but the agreement on errors)."""
    _resharded(module)
    targets = module.state_dict(keep_vars=True)
    plan: _Plan | None = None
    error: BaseException | None = None
    try:
        plan = _plan(module, targets, state_dict, strict, source or "the state dict", (), {})
        _check_here(plan, targets, ())
    except Exception as err:
        error = err
    _agree(error, "load_state_dict")
    assert plan is not None
    import torch

    with torch.no_grad():
        for key, _, _ in plan.tensors:
            _copy_into(targets[key], state_dict[key].detach().to(_local(targets[key]).device))
        for key, value in plan.extra.items():
            _set_extra(module, key, value)
    return plan.report
