"""Shared measurement helpers: paired, interleaved repeats reported as ratios.

Every benchmark measures its baseline in the same run as the candidate, alternating the two,
and reports the median of the paired ratios (candidate / baseline) with its min..max. Rows are
printed as ``BENCH {json}`` lines so ``benchmarks/run.py`` can collect them into one table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Row:
    """One measured claim: baseline and candidate medians and the paired ratios."""

    metric: str
    baseline: str
    unit: str
    baseline_value: float
    candidate_value: float
    ratio: float
    ratio_min: float
    ratio_max: float
    target: str = ""
    note: str = ""
    who: str = "hydra_cnn"  # the candidate: hydra_cnn, or mmcv/mmengine (the compare extra)

    def emit(self) -> None:
        print("BENCH " + json.dumps(asdict(self)), flush=True)
        print(
            f"  {self.metric}{'' if self.who == 'hydra_cnn' else f' [{self.who}]'}: "
            f"{self.candidate_value:.4g} {self.unit} vs {self.baseline} "
            f"{self.baseline_value:.4g} {self.unit} -> ratio {self.ratio:.3f} "
            f"({self.ratio_min:.3f}..{self.ratio_max:.3f}) target {self.target or '-'}",
            flush=True,
        )


def paired(
    candidate: Callable[[], float], baseline: Callable[[], float], repeats: int = 5, warmup: int = 1
) -> tuple[float, float, list[float]]:
    """Run baseline and candidate alternately; each callable returns one measurement."""
    for _ in range(warmup):
        baseline()
        candidate()
    bs, cs, ratios = [], [], []
    for i in range(repeats):
        if i % 2:
            c, b = candidate(), baseline()
        else:
            b, c = baseline(), candidate()
        bs.append(b)
        cs.append(c)
        ratios.append(c / b if b else float("nan"))
    return statistics.median(bs), statistics.median(cs), ratios


def row(metric: str, baseline: str, unit: str, result: tuple[float, float, list[float]],
        target: str = "", note: str = "", who: str = "hydra_cnn") -> Row:
    """Build a Row from :func:`paired`'s result and print it."""
    b, c, ratios = result
    r = Row(metric, baseline, unit, b, c, statistics.median(ratios), min(ratios), max(ratios),
            target, note, who)
    r.emit()
    return r


def compare_available() -> dict[str, bool]:
    """Which comparison libraries (the ``compare`` extra) are importable, without importing."""
    import importlib.util

    return {name: importlib.util.find_spec(mod) is not None
            for name, mod in (("mmcv", "mmcv"), ("mmengine", "mmengine"))}


def timed(fn: Callable[[], object], number: int = 1) -> float:
    """Seconds per call of ``fn`` (best of one batch of ``number`` calls)."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def process_seconds(code: str) -> float:
    """Wall time of ``python -c code`` in a fresh process, as printed by the code itself.

    Bytecode caching is on in the child (``PYTHONDONTWRITEBYTECODE`` removed), as in a normal
    install where pip compiles the package: otherwise every run would compile hydra_cnn's
    sources while torch's come precompiled, which measures the sandbox, not the library.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    return float(out.stdout.strip().splitlines()[-1])
