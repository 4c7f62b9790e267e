"""Type names that only mmcv's compiled operators (``mmcv.ops``, the mmcv-full package) register.

hydra_cnn does not provide these operators. A config naming one of them gets an error that says
so (rather than a close match such as ``'deconv'`` for ``'DCN'``), in the builders and in
:func:`hydra_cnn.validate`. The table maps each name to the ``mmcv.ops`` class behind it and the
mmcv registry that holds it; the class names themselves are listed too, since configs sometimes
use them.
"""

from __future__ import annotations

__all__ = ["MMCV_OPS_TYPES", "mmcv_ops_message"]

_SPARSE = {
    f"{kind}{dim}d": (f"{kind}{dim}d", "CONV_LAYERS")
    for kind, dims in (("SparseConv", (2, 3, 4)), ("SubMConv", (2, 3, 4)),
                       ("SparseInverseConv", (2, 3)), ("SparseConvTranspose", (2, 3)))
    for dim in dims
}

# registered name -> (mmcv.ops class, mmcv registry)
MMCV_OPS_TYPES: dict[str, tuple[str, str]] = {
    "DCN": ("DeformConv2dPack", "CONV_LAYERS"),
    "DCNv2": ("ModulatedDeformConv2dPack", "CONV_LAYERS"),
    "SAC": ("SAConv2d", "CONV_LAYERS"),
    **_SPARSE,
    "MMSyncBN": ("SyncBatchNorm", "NORM_LAYERS"),
    "carafe": ("CARAFEPack", "UPSAMPLE_LAYERS"),
    "CrissCrossAttention": ("CrissCrossAttention", "PLUGIN_LAYERS"),
    "MultiScaleDeformableAttention": ("MultiScaleDeformableAttention", "ATTENTION"),
    # class names of the same operators (not registered under these names in mmcv)
    "DeformConv2d": ("DeformConv2d", "-"),
    "DeformConv2dPack": ("DeformConv2dPack", "CONV_LAYERS as 'DCN'"),
    "ModulatedDeformConv2d": ("ModulatedDeformConv2d", "-"),
    "ModulatedDeformConv2dPack": ("ModulatedDeformConv2dPack", "CONV_LAYERS as 'DCNv2'"),
    "SAConv2d": ("SAConv2d", "CONV_LAYERS as 'SAC'"),
    "CARAFE": ("CARAFE", "-"),
    "CARAFENaive": ("CARAFENaive", "-"),
    "CARAFEPack": ("CARAFEPack", "UPSAMPLE_LAYERS as 'carafe'"),
}


def mmcv_ops_message(name: object, registry_name: str) -> str | None:
    """The error message for an ``mmcv.ops`` type name, or None when ``name`` is not one."""
    if not isinstance(name, str) or name not in MMCV_OPS_TYPES:
        return None
    cls, where = MMCV_OPS_TYPES[name]
    registered = "" if where == "-" else f", registered in mmcv's {where}"
    return (
        f"{name!r} is a type of mmcv's compiled operators (mmcv-full: mmcv.ops.{cls}"
        f"{registered}), which hydra_cnn does not provide; it is not in the {registry_name} "
        "registry. Register your own implementation under this name (register_module(name="
        f"{name!r})) or choose another type."
    )
