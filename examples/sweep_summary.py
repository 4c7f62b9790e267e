"""Hydra callback: after a multirun, print a table of accuracy per job and save a bar chart.

Enabled in ``conf/config.yaml`` under ``hydra.callbacks``; it reads each job's ``metrics.json``
from the sweep directory, so it works with every launcher (basic, joblib, submitit).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def summarize(sweep_dir: Path) -> list[dict[str, Any]]:
    """Collect ``metrics.json`` of every job under ``sweep_dir``, print a table, plot a chart."""
    rows = []
    for path in sorted(sweep_dir.glob("*/metrics.json"), key=lambda p: (len(p.parent.name), p)):
        metrics = json.loads(path.read_text())
        overrides_file = path.parent / ".hydra" / "overrides.yaml"
        overrides = (
            " ".join(line[2:] for line in overrides_file.read_text().splitlines() if line)
            if overrides_file.exists() else path.parent.name
        )
        rows.append({"job": path.parent.name, "overrides": overrides, **metrics})
    if not rows:
        print(f"no metrics.json under {sweep_dir}")
        return rows
    width = max(len(r["overrides"]) for r in rows)
    print(f"\n{'job':>4}  {'overrides':<{width}}  accuracy  loss    seconds")
    for r in rows:
        print(f"{r['job']:>4}  {r['overrides']:<{width}}  {r['test_accuracy']:8.3f}  "
              f"{r['final_loss']:6.3f}  {r['train_seconds']:7.1f}")
    chart = sweep_dir / "accuracy.png"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows)), 3.8))
        labels = [r["overrides"].replace(" ", "\n") for r in rows]
        ax.bar(range(len(rows)), [r["test_accuracy"] for r in rows], color="tab:blue")
        ax.axhline(rows[0].get("chance", 0), color="grey", ls="--", lw=1, label="chance")
        ax.set_xticks(range(len(rows)), labels, fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(chart, dpi=110)
        plt.close(fig)
        print(f"chart: {chart}")
    except ImportError:
        print("matplotlib is not installed (pip install 'hydra-cnn[examples]'): no chart")
    (sweep_dir / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    return rows


class SweepSummary(Callback):
    """Summarises a finished multirun (any launcher)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        summarize(Path(config.hydra.sweep.dir))
