"""Weight initialisation: functions, initializers, ``initialize``, ``BaseModule`` and the report.

- :mod:`~hydra_cnn.init.functions`: ``constant_init``, ``kaiming_init``, ... for one module;
- :mod:`~hydra_cnn.init.initializers`: the ``INITIALIZERS`` members (``KaimingInit``, ...,
  ``PretrainedInit``);
- :mod:`~hydra_cnn.init.apply`: :func:`initialize` (the ``layer``/``override``/``norm``
  rules, every config checked before the first write) and :func:`make_init` (the ``init``
  config options' target);
- :mod:`~hydra_cnn.init.base_module`: ``BaseModule``, ``Sequential``, ``ModuleList``,
  ``ModuleDict`` and the ``init_weights()`` walk and its priority rules;
- :mod:`~hydra_cnn.init.tracking`: the engine that follows every write during an init;
- :mod:`~hydra_cnn.init.keyed`: keyed init (``seed=``: values from the seed and each
  tensor's name, whatever the build route or sharding) and whole-tensor draws for DTensors;
- :mod:`~hydra_cnn.init.report`: the init report (final writer of every tensor);
- :mod:`~hydra_cnn.init.meta`: :func:`build_model`, which skips PyTorch's default init by
  building on the meta device when the init config covers every tensor.

    >>> from torch import nn
    >>> from hydra_cnn.init import initialize, init_report
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    >>> initialize(model, [dict(type='Kaiming', layer='Conv2d'),
    ...                    dict(type='Constant', layer='BatchNorm2d', val=1)])
    >>> init_report(model)['0.weight'].writer
    'Kaiming'
"""

from hydra_cnn.init.apply import initialize, make_init
from hydra_cnn.init.base_module import BaseModule, ModuleDict, ModuleList, Sequential
from hydra_cnn.init.functions import (
    bias_init_with_prob,
    caffe2_xavier_init,
    constant_init,
    kaiming_init,
    normal_init,
    trunc_normal_,
    trunc_normal_init,
    uniform_init,
    xavier_init,
)
from hydra_cnn.init.initializers import (
    BaseInit,
    Caffe2XavierInit,
    ConstantInit,
    KaimingInit,
    NormalInit,
    PretrainedInit,
    TruncNormalInit,
    UniformInit,
    XavierInit,
)
from hydra_cnn.init.meta import build_model
from hydra_cnn.init.report import InitEntry, InitReport, init_report, update_init_info

__all__ = [
    "BaseInit",
    "BaseModule",
    "Caffe2XavierInit",
    "ConstantInit",
    "InitEntry",
    "InitReport",
    "KaimingInit",
    "ModuleDict",
    "ModuleList",
    "NormalInit",
    "PretrainedInit",
    "Sequential",
    "TruncNormalInit",
    "UniformInit",
    "XavierInit",
    "bias_init_with_prob",
    "build_model",
    "caffe2_xavier_init",
    "constant_init",
    "init_report",
    "initialize",
    "kaiming_init",
    "make_init",
    "normal_init",
    "trunc_normal_",
    "trunc_normal_init",
    "uniform_init",
    "update_init_info",
    "xavier_init",
]
