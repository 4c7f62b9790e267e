"""hydra_cnn's own share of an app's compose time.

The example app (examples/conf, with train.py's ``register_configs`` call) is composed in one
fresh process; the same app with the same options written as plain YAML groups (the model,
norm, act and init options rendered to files under a copy of its conf/, no ``register_configs``)
in another. Each process composes ``--number`` times after a warm-up and prints the median;
the two alternate. The ratio minus one is what hydra_cnn adds (target <= 5%).

    python benchmarks/bench_compose.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import paired, process_seconds, row

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "examples" / "conf"
OVERRIDES = ["model/norm=gn", "model/act=leaky_relu"]

# train.py's opt-in, verbatim
OPT_IN = """\
import hydra_cnn
hydra_cnn.register_configs(
    aliases={
        "model/norm@model.norm_cfg": "layers/norm",
        "model/act@model.act_cfg": "layers/act",
        "model/init@model.init_cfg": "init",
    },
    groups=["model"],
)
"""

COMPOSE = """\
import statistics, sys, time
from hydra import compose, initialize_config_dir
{opt_in}
with initialize_config_dir(version_base="1.3", config_dir={conf!r}):
    compose("config", overrides={overrides!r})  # warm-up: imports, plugin discovery
    times = []
    for _ in range({number}):
        t = time.perf_counter()
        compose("config", overrides={overrides!r})
        times.append(time.perf_counter() - t)
print(statistics.median(times))
"""


def plain_yaml_app(folder: Path) -> Path:
    """A copy of the example app's conf/ with hydra_cnn's options as plain YAML groups."""
    sys.path.insert(0, str(ROOT))
    from hydra_cnn.configs.table import option_table
    from hydra_cnn.configs.yaml_files import render_option

    conf = folder / "conf"
    shutil.copytree(CONF, conf)
    places = {"model": ("model", None), "layers/norm": ("model/norm", "model.norm_cfg"),
              "layers/act": ("model/act", "model.act_cfg"), "init": ("model/init", "model.init_cfg")}
    for group, option, cls in option_table():
        if group not in places:
            continue
        where, package = places[group]
        path = conf / where / f"{option}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = f"# @package {package}\n" if package else ""
        path.write_text(header + render_option(cls))
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and composes")
    args = parser.parse_args()
    repeats, number = (3, 10) if args.quick else (7, 40)
    with tempfile.TemporaryDirectory() as tmp:
        plain = plain_yaml_app(Path(tmp))
        ours = COMPOSE.format(opt_in=OPT_IN, conf=str(CONF), overrides=OVERRIDES, number=number)
        theirs = COMPOSE.format(opt_in="", conf=str(plain), overrides=OVERRIDES, number=number)
        ours = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + ours
        row("example app compose (model, norm, act, init options)",
            "the same options as plain YAML groups", "s",
            paired(lambda: process_seconds(ours), lambda: process_seconds(theirs), repeats),
            target="<= 1.05",
            note=textwrap.shorten("hydra_cnn's own share is the ratio minus one: its typed "
                                  "option nodes against the same options as files", 200))


if __name__ == "__main__":
    main()
