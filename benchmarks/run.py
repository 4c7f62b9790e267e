"""Run every benchmark in fresh processes and print one table of ratios against baselines.

    python benchmarks/run.py            # everything (make bench)
    python benchmarks/run.py --quick    # skips the 500M-parameter and 400 MB cases (make bench QUICK=1)

Each script measures its baseline in the same run as the candidate, alternating the two, and
prints ``BENCH {json}`` rows (see ``_common.py``). This runner collects them, prints the table
(metric, baseline, hydra_cnn, ratio = median of the paired ratios with min..max, target) and
writes it to ``benchmarks/results.md`` with the machine and versions. Nothing here is a test:
CI does not run it, and no number is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# script, extra arguments for a full run, extra arguments for a quick run
SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    ("bench_build.py", [], ["--quick"]),
    ("bench_compose.py", [], ["--quick"]),
    ("bench_conv_module.py", ["--compile", "--repeats", "7"], ["--repeats", "5"]),
    ("bench_init.py", [], ["--quick"]),
    ("bench_checkpoint.py", [], ["--quick"]),
    ("bench_complexity.py", [], ["--quick"]),
    ("bench_sharded.py", [], ["--quick"]),
]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _versions() -> str:
    code = ("import torch, hydra, omegaconf, sys, importlib.metadata as md; "
            "extra = [f'{d} {md.version(d)}' for d in ('mmcv-lite', 'mmengine') "
            "if __import__('importlib.util').util.find_spec(d.split('-')[0])]; "
            "print(', '.join([f'python {sys.version.split()[0]}', f'torch {torch.__version__}', "
            "f'hydra-core {hydra.__version__}', f'omegaconf {omegaconf.__version__}', *extra]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "unknown versions"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def run_script(name: str, args: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Run one benchmark script, echo its output, return its BENCH rows and exit code."""
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    proc = subprocess.Popen([sys.executable, str(HERE / name), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=HERE.parent)
    rows: list[dict[str, Any]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("BENCH "):
            rows.append(json.loads(line[6:]))
        else:
            print(line, end="", flush=True)
    return rows, proc.wait()


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: one line per (metric, baseline), one ratio column per candidate.

    Rows from the ``compare`` extra (``who`` = mmcv or mmengine) become extra columns.
    """
    others = sorted({r.get("who", "hydra_cnn") for r in rows} - {"hydra_cnn"})
    keyed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        keyed.setdefault((r["metric"], r["baseline"]), {})[r.get("who", "hydra_cnn")] = r
    head = ["metric", "baseline", "baseline value", "hydra_cnn", "ratio (min..max)",
            *[f"{o} ratio" for o in others], "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def ratio(r: dict[str, Any] | None) -> str:
        if r is None:
            return "-"
        return f"{r['ratio']:.3f} ({r['ratio_min']:.3f}..{r['ratio_max']:.3f})"

    for (metric, baseline), by_who in keyed.items():
        ours = by_who.get("hydra_cnn") or next(iter(by_who.values()))
        unit = ours["unit"]
        note = f" ({ours['note']})" if ours.get("note") else ""
        mine = by_who.get("hydra_cnn")
        cells = [f"{metric}{note}", baseline, f"{_fmt(ours['baseline_value'])} {unit}",
                 f"{_fmt(mine['candidate_value'])} {unit}" if mine else "-", ratio(mine),
                 *[ratio(by_who.get(o)) for o in others], ours["target"] or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip the 500M-parameter and 400 MB cases, fewer repeats")
    parser.add_argument("--only", nargs="*", help="run only these scripts (e.g. bench_init.py)")
    parser.add_argument("--out", default=str(HERE / "results.md"), help="where to write the table")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("QUICK") == "1"
    all_rows: list[dict[str, Any]] = []
    failed = []
    for name, full, fast in SCRIPTS:
        if args.only and name not in args.only:
            continue
        rows, code = run_script(name, fast if quick else full)
        all_rows += rows
        if code:
            failed.append(f"{name} (exit {code})")
    header = (
        f"# Benchmark results\n\n{dt.date.today().isoformat()}, {_cpu_model()}, "
        f"{os.cpu_count()} cores, {_versions()}{', quick run' if quick else ''}.\n\n"
        "Ratios are hydra_cnn over the baseline measured in the same run (below 1 is faster or "
        "smaller): the median of paired, interleaved repeats, with min..max. With the "
        "`compare` extra installed (`pip install -e '.[compare]'`), mmcv 2.x and mmengine "
        "doing the same work are measured against the same baseline, as extra columns.\n\n"
    )
    text = header + table(all_rows) + "\n"
    notes = HERE / "notes.md"
    if notes.exists() and not args.only:
        text += "\n" + notes.read_text()
    if failed:
        text += f"\nFailed: {', '.join(failed)}\n"
    print("\n" + text)
    Path(args.out).write_text(text)
    print(f"written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
