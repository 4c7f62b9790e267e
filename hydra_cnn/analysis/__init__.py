"""Model analysis: parameter and FLOPs counts (mmcv 1.7's ``get_model_complexity_info``)."""

from hydra_cnn.analysis.complexity import (
    ComplexityInfo,
    flops_to_string,
    get_model_complexity_info,
    params_to_string,
)

__all__ = ["ComplexityInfo", "flops_to_string", "get_model_complexity_info", "params_to_string"]
