"""hydra_cnn's preflight launcher: ``hydra/launcher=preflight`` checks a sweep without running it.

Hydra imports this package when any Hydra app starts (plugin discovery), so it imports neither
torch nor hydra_cnn; it only adds the option ``preflight`` to the ``hydra/launcher`` group,
which changes nothing for an app that does not choose it.
"""

# no ``from __future__ import annotations``: Hydra's plugin scan executes this module without
# registering it in sys.modules, where dataclasses look postponed annotations up
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

__all__ = ["PreflightLauncherConf", "register"]


@dataclass
class PreflightLauncherConf:
    """Options of ``hydra/launcher=preflight`` (``hydra.launcher.<option>=...``).

    Attributes:
        model_key: the config node whose model is built and counted (``model``); a node with
            ``_target_`` (instantiated) or an mmcv-style ``type`` (the MODELS registry).
            Jobs without that node are validated only.
        input_shape: the input's sizes without the batch dimension, for the FLOPs count.
            Read per job, so it may interpolate job values: ``[3,${data.image_size},...]``.
        validate: run ``hydra_cnn.validate`` on every job's config. Default True.
    """

    _target_: str = "hydra_plugins.hydra_cnn_preflight.launcher.PreflightLauncher"
    model_key: str = "model"
    input_shape: Any = field(default_factory=lambda: [3, 224, 224])
    validate: bool = True


ConfigStore.instance().store(group="hydra/launcher", name="preflight", node=PreflightLauncherConf,
                             provider="hydra_cnn")


def register() -> None:
    """Tell Hydra about the launcher class (``hydra_cnn.register_configs`` calls this).

    Hydra finds plugins by listing the ``hydra_plugins`` namespace, which an editable install
    does not expose; registering the class directly makes ``hydra/launcher=preflight`` work
    there too. Registering twice is harmless.
    """
    from hydra.core.plugins import Plugins

    from hydra_plugins.hydra_cnn_preflight.launcher import PreflightLauncher

    Plugins.instance().register(PreflightLauncher)
