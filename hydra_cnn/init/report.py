"""The init report: which initializer wrote each parameter and buffer, and from which config.

:mod:`hydra_cnn.init.tracking` follows every write while ``initialize`` or
``BaseModule.init_weights`` runs (by tensor version counters: no device sync); this module
presents what it recorded as an :class:`InitReport`::

    >>> model.init_weights()                        # doctest: +SKIP
    >>> report = model.init_report()                # doctest: +SKIP
    >>> print(report)                               # an aligned table, one row per tensor
    >>> report.uninitialized()                      # what no initializer wrote
    >>> report.to_json('init_report.json')
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from torch import nn

from hydra_cnn.common import ConfigKeyError, closest_match
from hydra_cnn.init.tracking import (
    CHECKPOINT,
    PYTORCH_DEFAULT,
    UNINITIALIZED,
    InitEntry,
    InitTracker,
    Writer,
    active_tracker,
    mark_uninitialized,
    recorded_entries,
    recorded_seed,
    tracking,
    update_init_info,
)

__all__ = [
    "CHECKPOINT",
    "PYTORCH_DEFAULT",
    "UNINITIALIZED",
    "InitEntry",
    "InitReport",
    "InitTracker",
    "Writer",
    "active_tracker",
    "init_report",
    "mark_uninitialized",
    "tracking",
    "update_init_info",
]


def _fmt_value(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _fmt_args(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt_value(v)}" for k, v in args.items()) or "-"


class InitReport:
    """Every parameter and buffer of a model with its final writer.

    Made by ``BaseModule.init_report()`` or :func:`init_report`; ``str(report)`` is an aligned
    table, ``to_dict()``/``to_json()`` the same data as JSON.

    Args:
        model: the model's class name.
        entries: one :class:`InitEntry` per tensor, in module order.

    Example:
        >>> report = model.init_report()                 # doctest: +SKIP
        >>> report['fc.weight'].writer                   # doctest: +SKIP
        'Normal'
    """

    def __init__(self, model: str, entries: Iterable[InitEntry],
                 groups: dict[str, int] | None = None, seed: int | None = None) -> None:
        self.model = model
        self.entries = list(entries)
        seeds = {e.seed for e in self.entries if e.seed is not None}
        #: the keyed-init seed: the run's (``seed=``), else the one the configs' ``seed`` keys
        #: gave (None: the global RNG, or several seeds: see each entry's ``seed``)
        self.seed = seed if seed is not None else (next(iter(seeds)) if len(seeds) == 1 else None)
        self.seeds = sorted(seeds)
        #: GroupNorm layer -> its number of groups (chosen at build time when the config said
        #: ``num_groups: null``), so the report shows what automatic groups picked
        self.groups = dict(groups or {})
        #: the model's size and cost, shown in the header when set, e.g. "11.17 M params,
        #: 0.56 GFLOPs at input (3, 32, 32)" (``complexity_summary(model, shape)['text']``)
        self.complexity: str = ""
        self._by_name = {e.name: e for e in self.entries}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[InitEntry]:
        return iter(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> InitEntry:
        try:
            return self._by_name[name]
        except KeyError:
            hit = closest_match(name, self._by_name)
            raise ConfigKeyError(
                f"{name!r} is not a parameter or buffer of {self.model}"
                + (f"; did you mean {hit!r}?" if hit else "")
            ) from None

    def uninitialized(self) -> list[InitEntry]:
        """Entries no initializer wrote: parameters left at their PyTorch default (or at
        uninitialised memory after ``to_empty``), and buffers whose memory is uninitialised."""
        return [e for e in self.entries if not e.initialized]

    def writers(self) -> dict[str, int]:
        """Writer -> number of tensors it wrote last."""
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.writer] = out.get(e.writer, 0) + 1
        return out

    def summary(self) -> str:
        """One line: counts of parameters, buffers and uninitialised entries."""
        n_par = sum(e.kind == "parameter" for e in self.entries)
        n_buf = len(self.entries) - n_par
        bad = len(self.uninitialized())
        size = f" ({self.complexity})" if self.complexity else ""
        keyed = "" if not self.seeds else (
            f"; keyed init, seed {self.seed}" if self.seed is not None and self.seeds == [self.seed]
            else f"; keyed init, seeds {', '.join(map(str, self.seeds))}")
        return (
            f"Init report of {self.model}{size}: {n_par} parameters, {n_buf} buffers; "
            f"{bad} not initialised{keyed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON-compatible)."""
        return {
            "model": self.model,
            "summary": self.summary(),
            "complexity": self.complexity,
            "seed": self.seed,
            "writers": self.writers(),
            "group_norm_groups": self.groups,
            "entries": [
                {
                    **dataclasses.asdict(e),
                    "shape": list(e.shape),
                    "initialized": e.initialized,
                }
                for e in self.entries
            ],
        }

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        """Return the report as JSON text, and write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, default=str)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    def table(self) -> str:
        """The aligned table ``str(report)`` prints; ``!`` marks uninitialised rows."""
        header = ("", "name", "kind", "shape", "writer", "args", "applied by")
        rows = [header]
        for e in self.entries:
            if e.source is None:
                by = "-"
            else:
                by = f"{e.source or '<root>'} ({e.source_type})"
                if e.via:
                    by += f" {e.via}"
            rows.append((
                " " if e.initialized else "!",
                e.name,
                "param" if e.kind == "parameter" else "buffer",
                "(" + ", ".join(map(str, e.shape)) + ("," if len(e.shape) == 1 else "") + ")",
                e.writer,
                _fmt_args(e.args),
                by,
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [self.summary()]
        for j, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.groups:
            lines.append("GroupNorm groups: " + ", ".join(f"{k}={v}" for k, v in self.groups.items()))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<{self.summary()}>"


def init_report(module: nn.Module) -> InitReport:
    """The report of the last ``init_weights``/``initialize`` run on ``module``.

    Before any run, every tensor is listed with writer :data:`PYTORCH_DEFAULT`
    (:data:`UNINITIALIZED` after ``to_empty``); ``report=False`` does not change what is
    recorded. ``report.seed`` is the keyed-init seed (None: the global RNG).

    Args:
        module: the model.

    Example:
        >>> initialize(model, dict(type='Constant', layer='Conv2d', val=1))   # doctest: +SKIP
        >>> print(init_report(model))                                          # doctest: +SKIP
    """
    groups = {name: m.num_groups for name, m in module.named_modules() if isinstance(m, nn.GroupNorm)}
    return InitReport(type(module).__name__, recorded_entries(module), groups,
                      recorded_seed(module))
