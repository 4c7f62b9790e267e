"""Init of models sharded with torch's FSDP2 (``fully_shard``) on a CPU mesh, 2 and 4 ranks.

One run of real processes (gloo) per world size checks many things at once
(``dist_init_worker.py``): for every initializer, keyed init (``seed=``) gives the full tensors
of a single-process keyed init bit for bit, and ``seed=None`` the full tensors of a
single-process init after the same ``torch.manual_seed``; no shard repeats another; uneven
shards, an empty shard and a tensor over several keyed blocks included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hydra_cnn.init import build_model, initialize

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from dist_init_worker import CASES, model  # noqa: E402

#: the 4-rank run checks fewer initializers (it costs twice as many processes)
FOUR_RANK_CASES = ["kaiming", "trunc_normal", "bias_prob", "global_rng", "global_rng_normal"]


def _run(world: int, tmp_path: Path, cases: list[str]) -> Path:
    out = tmp_path / f"out{world}"
    out.mkdir()
    init_file = tmp_path / f"init{world}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(HERE / "dist_init_worker.py"), str(r),
                               str(world), str(init_file), str(out), ",".join(cases)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
             for r in range(world)]
    logs = []
    for p in procs:
        text, _ = p.communicate(timeout=180)
        logs.append(text.decode(errors="replace"))
    assert [p.returncode for p in procs] == [0] * world, "\n".join(logs)
    return out


def _reference(case: str) -> dict[str, torch.Tensor]:
    cfg, seed = CASES[case]
    torch.manual_seed(1234)
    ref = model()
    torch.manual_seed(1234)  # the workers' state before initialize (keyed ignores it)
    initialize(ref, cfg, seed=seed)
    return {k: v.detach() for k, v in ref.state_dict().items()}


def _check(out: Path, world: int, cases: list[str]) -> None:
    for case in cases:
        cfg, seed = CASES[case]
        got = torch.load(out / f"{case}.pt")
        ref = _reference(case)
        mismatched = [k for k in ref if not torch.equal(ref[k], got["full"][k])]
        assert mismatched == [], (case, mismatched)
        assert set(got["seed"]) == {seed}, case
        if seed is not None:  # the meta-device route gives the same weights
            meta = build_model(model, init_cfg=cfg, seed=seed)
            assert all(torch.equal(v, ref[k]) for k, v in meta.state_dict().items()), case
        if case == "constant":
            continue
        shards = [torch.load(out / f"{case}.rank{r}.pt") for r in range(world)]
        for k in ref:
            if not k.endswith("weight"):
                continue
            parts = [s[k].reshape(-1) for s in shards if s[k].numel()]
            n = min(p.numel() for p in parts)
            heads = {tuple(p[:n].tolist()) for p in parts}
            assert len(heads) == len(parts), (case, k, "repeated shards")


@pytest.mark.parametrize("world", [2, 4])
def test_sharded_init_matches_single_process(world: int, tmp_path: Path) -> None:
    cases = list(CASES) if world == 2 else FOUR_RANK_CASES
    out = _run(world, tmp_path, cases)
    _check(out, world, cases)

