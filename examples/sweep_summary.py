"""Hydra callback: after a multirun, print a table of accuracy per job and save a bar chart.

Enabled in ``conf/config.yaml`` under ``hydra.callbacks``; it reads each job's ``metrics.json``
and ``.hydra/overrides.yaml`` from the sweep directory, so it works with every launcher (basic,
joblib, submitit) and sweeper (basic, Optuna). A job without ``metrics.json`` is listed as
failed (an Optuna study goes on past a failing trial). Labels show only the overrides that
differ between jobs, with floats to 3 significant digits; the best job is named at the end.
Each job's params and FLOPs (from its ``metrics.json``) are columns of the table and keys of
``summary.json``; ``accuracy.png`` labels each bar with its accuracy and, beside the bars, plots
accuracy against GFLOPs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

__all__ = ["SweepSummary", "short_value", "summarize"]


def short_value(override: str) -> str:
    """``key=value`` with a float value cut to 3 significant digits (``train.lr=0.0192``).

    Integers, strings and sweep syntax are unchanged.
    """
    key, sep, value = override.partition("=")
    if not sep:
        return override
    try:
        number = float(value)
    except ValueError:
        return override
    if value.strip().lstrip("+-").isdigit():
        return override
    return f"{key}={number:.3g}"


def _overrides(job_dir: Path) -> list[str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    loaded = yaml.safe_load(path.read_text()) or []
    return [str(o) for o in loaded]


def _job_dirs(sweep_dir: Path) -> list[Path]:
    dirs = {p.parent for p in sweep_dir.glob("*/metrics.json")}
    dirs |= {p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")}
    return sorted(dirs, key=lambda d: (len(d.name), d.name))


def summarize(sweep_dir: Path) -> list[dict[str, Any]]:
    """Collect every job under ``sweep_dir``, print a table, plot a chart, write summary.json.

    Returns:
        One dict per job: ``job``, ``status`` (``ok`` or ``failed``), ``overrides`` (all of
        them), ``label`` (the varying ones, shortened) and the job's metrics when it finished.
    """
    jobs = [(d, _overrides(d)) for d in _job_dirs(sweep_dir)]
    if not jobs:
        print(f"no jobs under {sweep_dir}")
        return []
    common = set.intersection(*(set(o) for _, o in jobs)) if len(jobs) > 1 else set()
    rows: list[dict[str, Any]] = []
    for job_dir, overrides in jobs:
        metrics_file = job_dir / "metrics.json"
        varying = [short_value(o) for o in overrides if o not in common]
        row: dict[str, Any] = {
            "job": job_dir.name,
            "status": "ok" if metrics_file.is_file() else "failed",
            "overrides": " ".join(overrides) or job_dir.name,
            "label": " ".join(varying) or job_dir.name,
        }
        if metrics_file.is_file():
            row.update(json.loads(metrics_file.read_text()))
        rows.append(row)

    width = max(len(r["label"]) for r in rows)
    print(f"\n{'job':>4}  {'overrides':<{width}}  accuracy  loss    seconds  params    GFLOPs")
    for r in rows:
        if r["status"] == "ok":
            print(f"{r['job']:>4}  {r['label']:<{width}}  {r['test_accuracy']:8.3f}  "
                  f"{r['final_loss']:6.3f}  {r['train_seconds']:7.1f}  "
                  f"{_params(r):>8}  {_gflops(r):>6}")
        else:
            print(f"{r['job']:>4}  {r['label']:<{width}}  {'failed':>8}")
    fixed = [short_value(o) for o in jobs[0][1] if o in common]
    if fixed:
        print(f"every job: {' '.join(fixed)}")
    done = [r for r in rows if r["status"] == "ok"]
    if done:
        best = max(done, key=lambda r: r["test_accuracy"])
        print(f"best: job {best['job']}, accuracy {best['test_accuracy']:.3f}: {best['label']}")
    failed = len(rows) - len(done)
    if failed:
        print(f"failed: {failed} of {len(rows)} jobs (their logs are in their job folders)")
    _chart(rows, sweep_dir / "accuracy.png")
    (sweep_dir / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


def _params(row: dict[str, Any]) -> str:
    n = row.get("parameters")
    return "-" if n is None else f"{n / 1e6:.2f} M"


def _gflops(row: dict[str, Any]) -> str:
    flops = row.get("flops")
    return "-" if flops is None else f"{flops / 1e9:.3f}"


def _chart(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed (pip install 'hydra-cnn[examples]'): no chart")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counted = [r for r in rows if r["status"] == "ok" and r.get("flops") is not None]
    width = max(4.0, 1.2 * len(rows))
    fig, axes = plt.subplots(1, 2 if counted else 1, figsize=(width + (5.0 if counted else 0), 4.0),
                             squeeze=False, gridspec_kw={"width_ratios": [width, 5.0][:1 + bool(counted)]})
    ax = axes[0][0]
    heights = [r.get("test_accuracy", 0.0) for r in rows]
    colors = ["tab:blue" if r["status"] == "ok" else "tab:red" for r in rows]
    bars = ax.bar(range(len(rows)), heights, color=colors)
    ax.bar_label(bars, labels=[f"{h:.3f}" if r["status"] == "ok" else "" for h, r in
                               zip(heights, rows, strict=True)], fontsize=7, padding=2)
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            ax.text(i, 0.02, "failed", ha="center", va="bottom", rotation=90, fontsize=8,
                    color="tab:red")
    chance = next((r["chance"] for r in rows if "chance" in r), None)
    if chance is not None:
        ax.axhline(chance, color="grey", ls="--", lw=1, label="chance")
        ax.legend(fontsize=8)
    labels = [r["label"].replace(" ", "\n") for r in rows]
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("test accuracy")
    if counted:  # accuracy against compute: the plot an architecture sweep is read from
        side = axes[0][1]
        xs = [r["flops"] / 1e9 for r in counted]
        ys = [r["test_accuracy"] for r in counted]
        side.scatter(xs, ys, color="tab:blue")
        for x, y, r in zip(xs, ys, counted, strict=True):
            side.annotate(f"{r['job']}: {y:.3f}", (x, y), fontsize=7, xytext=(3, 3),
                          textcoords="offset points")
        side.set_xlabel("GFLOPs per image (multiply-adds)")
        side.set_ylabel("test accuracy")
        side.set_ylim(0, 1.08)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"chart: {path}")


class SweepSummary(Callback):
    """Summarises a finished multirun (any launcher or sweeper); a preflight ran no job and
    printed its own table, so there is nothing to summarise then."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if str(config.hydra.launcher.get("_target_", "")).endswith("PreflightLauncher"):
            return
        summarize(Path(config.hydra.sweep.dir))
