"""The preflight launcher: compose, validate, build on the meta device and count every job.

``python app.py -m <sweep> hydra/launcher=preflight`` prints one table (job, the overrides
that vary, params, FLOPs, status or the error naming the bad key), runs no job, writes
``preflight.json`` into the sweep directory and exits non-zero when any job fails. torch and
hydra_cnn are imported on the first launch, never at plugin discovery.

Any sweeper that hands the launcher its list of jobs works (the basic one: all jobs in one
batch). With ``hydra.sweeper.max_batch_size`` the table goes on batch by batch and the sweep
stops after the first batch with a failing job. A sweeper that needs each job's result to
choose the next (Optuna) gets no objective value, so it stops after its first batch. A job
whose composition fails is reported by the basic sweeper itself, which composes every job
before launching.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from hydra.errors import CompactHydraException
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

__all__ = ["PreflightError", "PreflightLauncher"]

log = logging.getLogger(__name__)


class PreflightError(CompactHydraException):
    """Some jobs of the sweep fail preflight (Hydra prints this message and exits with 1)."""


def _one_line(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:  # hydra_cnn.ConfigValidationError: every "path: message"
        return "; ".join(" ".join(str(p).split()) for p in problems)
    text = " ".join([*str(exc).split(), *" ".join(getattr(exc, "__notes__", ())).split()])
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in str(exc):
        text += f" ({' '.join(str(cause).split())})"
    return f"{type(exc).__name__}: {text}"


def _input_shape(cfg: DictConfig) -> tuple[int, ...]:
    value = OmegaConf.select(cfg, "hydra.launcher.input_shape")
    shape = tuple(OmegaConf.to_container(value)) if OmegaConf.is_list(value) else value  # type: ignore[arg-type]
    if not (isinstance(shape, tuple) and shape and all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise PreflightError(
            f"hydra.launcher.input_shape={value!r} is not accepted: it takes a list of positive "
            "ints, the input's sizes without the batch dimension, e.g. [3,224,224]")
    return shape


class PreflightLauncher(Launcher):
    """A launcher that runs no job: it checks each one and prints a table (see module doc)."""

    def __init__(self, model_key: str = "model", input_shape: Any = (3, 224, 224),
                 validate: bool = True) -> None:
        self.model_key = model_key
        self.validate = validate
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.rows: list[dict[str, Any]] = []
        self.seconds: dict[str, float] = {"compose": 0.0, "validate": 0.0, "build": 0.0,
                                          "count": 0.0}
        self._counted: dict[str, dict[str, Any]] = {}  # model config YAML -> its counts
        self._composed: dict[tuple[str, ...], DictConfig] = {}  # overrides -> composed config
        self._before_launch = 0.0  # seconds the sweeper spent composing before this batch

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        # The basic sweeper composes every job once to check it, then throws the config away;
        # keep what it composed so each job is composed once, not twice.
        loader = hydra_context.config_loader
        compose = loader.load_sweep_config
        self._compose = compose

        def remembering(master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
            start = time.perf_counter()
            cfg = compose(master_config, sweep_overrides)
            seconds = time.perf_counter() - start
            self.seconds["compose"] += seconds
            self._before_launch += seconds
            self._composed[tuple(sweep_overrides)] = cfg
            return cfg

        loader.load_sweep_config = remembering  # type: ignore[method-assign]

    # -- one job ------------------------------------------------------------------------------
    def _timed(self, phase: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] += now - start
        return now

    def _model_counts(self, node: Any, shape: tuple[int, ...]) -> dict[str, Any]:
        key = OmegaConf.to_yaml(node, resolve=True) + repr(shape)
        if key in self._counted:
            return self._counted[key]
        import torch
        from hydra.utils import instantiate
        from torch import nn

        from hydra_cnn.analysis.complexity import complexity_summary
        from hydra_cnn.registry import MODELS

        def build() -> Any:
            if "_target_" in node:
                return instantiate(node)
            return MODELS.build(node)

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with torch.device("meta"):
                    model = build()
                where = "meta"
            except Exception:  # a constructor that needs real values: build it for real
                model, where = build(), "cpu"
            start = self._timed("build", start)
            if not isinstance(model, nn.Module):
                result = {"note": f"{self.model_key!r} is a {type(model).__name__}, not an "
                                  "nn.Module: not counted"}
            else:
                result = {**complexity_summary(model, shape), "built_on": where}
        self._timed("count", start)
        self._counted[key] = result
        return result

    def _check(self, idx: int, overrides: Sequence[str]) -> dict[str, Any]:
        assert self.hydra_context is not None and self.config is not None
        row: dict[str, Any] = {"job": idx, "overrides": list(overrides), "status": "ok"}
        start = time.perf_counter()
        try:
            cfg = self._composed.pop(tuple(overrides), None)
            if cfg is None:  # a sweeper that does not compose the jobs first
                cfg = self._compose(self.config, list(overrides))
                start = self._timed("compose", start)
            with open_dict(cfg):
                cfg.hydra.job.id = idx
                cfg.hydra.job.num = idx
            HydraConfig.instance().set_config(cfg)  # keeps its own copy of cfg.hydra
            shape = _input_shape(cfg)
            task = cfg  # this job's composed config is ours: no copy needed
            with read_write(task), open_dict(task):
                del task["hydra"]
            if self.validate:
                import hydra_cnn

                hydra_cnn.validate(task)
                start = self._timed("validate", start)
            node = OmegaConf.select(task, self.model_key)
            if not (isinstance(node, DictConfig) and ("_target_" in node or "type" in node)):
                row["note"] = f"no {self.model_key!r} node with _target_ or type: validated only"
                return row
            row.update(self._model_counts(node, shape))
        except PreflightError:
            raise
        except Exception as exc:
            row["status"] = "failed"
            row["error"] = _one_line(exc)
        return row

    # -- the batch ----------------------------------------------------------------------------
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
               ) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        log.info(f"Preflight of {len(job_overrides)} jobs (none is run)")
        start = time.perf_counter() - self._before_launch
        self._before_launch = 0.0
        rows = [self._check(initial_job_idx + i, o) for i, o in enumerate(job_overrides)]
        self.rows += rows
        print(_table(self.rows if initial_job_idx == 0 else rows, header=initial_job_idx == 0))
        total = time.perf_counter() - start
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items())
        print(f"preflight: {len(rows)} jobs in {total:.2f} s ({phases}; compose is Hydra's); "
              "no job was run")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "preflight.json").write_text(json.dumps(
            {"jobs": self.rows, "seconds": {**self.seconds, "total": total}}, indent=2) + "\n")
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            first = failed[0]
            raise PreflightError(
                f"preflight: {len(failed)} of {len(rows)} jobs fail; first, job {first['job']} "
                f"({' '.join(first['overrides'])}): {first['error']}")
        return [JobReturn(overrides=list(r["overrides"]), status=JobStatus.COMPLETED,
                          _return_value=r) for r in rows]


def _table(rows: list[dict[str, Any]], header: bool = True) -> str:
    """job, one column per override key whose value varies, params, FLOPs, status."""
    if any("params" in r for r in rows):  # torch is imported only where a model was counted
        from hydra_cnn.analysis.complexity import flops_to_string, params_to_string
    parsed = [dict(o.split("=", 1) if "=" in o else (o, "") for o in r["overrides"]) for r in rows]
    keys = list(dict.fromkeys(k for p in parsed for k in p))
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1] or keys[:0]
    head = ["job", *varying, "params", "FLOPs", "status"]
    body = []
    for r, p in zip(rows, parsed, strict=True):
        params = params_to_string(r["params"]) if "params" in r else "-"
        flops = flops_to_string(r["flops"], None) if "flops" in r else "-"
        status = r["status"] if r["status"] != "ok" else "ok"
        if "error" in r:
            status = f"failed: {r['error']}"
        elif r.get("note"):
            status += f" ({r['note']})"
        elif r.get("uncounted"):
            status += f" (not counted: {', '.join(r['uncounted'])})"
        body.append([str(r["job"]), *(p.get(k, "") for k in varying), params, flops, status])
    widths = [max(len(c) for c in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in ([head] if header else []) + body]
    fixed = [f"{k}={parsed[0][k]}" for k in keys if k not in varying]
    if header and fixed:
        lines.append(f"every job: {' '.join(fixed)}")
    shapes = {tuple(r["input_shape"]) for r in rows if "input_shape" in r}
    if header and shapes:
        lines.append(f"FLOPs (multiply-adds) at input {', '.join(map(str, sorted(shapes)))}")
    return "\n".join(lines)
