"""Non-local blocks (Wang et al., 2018, arXiv 1711.07971): ``NonLocal1d``, ``NonLocal2d``,
``NonLocal3d``.

    >>> import torch
    >>> from hydra_cnn import build_plugin_layer
    >>> name, block = build_plugin_layer(dict(type='NonLocal2d', in_channels=4))
    >>> name, block(torch.randn(2, 4, 5, 5)).shape
    ('nonlocal_block', torch.Size([2, 4, 5, 5]))

Every position attends to every other: ``y_i = sum_j f(x_i, x_j) g(x_j)`` with a pairwise
function ``f`` chosen by ``mode``, and the block returns ``x + conv_out(y)``. The 1x1 convs are
:class:`~hydra_cnn.bricks.conv_module.ConvModule` children named as in mmcv 1.7 (``g``,
``theta``, ``phi``, ``conv_out``, ``concat_project``), so state-dict keys read
``g.conv.weight``, ``conv_out.bn.weight``, and ``g.0.conv.weight`` with ``sub_sample``.
mmcv registers only ``NonLocal2d`` as a plugin; here all three are.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from hydra_cnn.bricks._checks import check_bool, check_choice, check_int, check_real
from hydra_cnn.bricks.conv_module import ConvModule

__all__ = ["NonLocal1d", "NonLocal2d", "NonLocal3d"]

_MODES = ("gaussian", "embedded_gaussian", "dot_product", "concatenation")


def _conv_module(child: nn.Module) -> ConvModule:
    """The ConvModule of ``g``/``phi``, also when ``sub_sample`` wrapped it with a pool."""
    return child if isinstance(child, ConvModule) else child[0]  # type: ignore[index]


class _NonLocalNd(nn.Module):
    """The non-local block for any number of spatial dimensions (mmcv's ``_NonLocalNd``).

    Args:
        in_channels: channels of the input feature map.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``. Default 2.
        use_scale: in ``embedded_gaussian`` mode, divide the pairwise logits by
            ``sqrt(inter_channels)``. Default True.
        conv_cfg: conv config of the 1x1 convs (None, the default, is nn.Conv2d).
        norm_cfg: norm config of ``conv_out`` only. Default None (no norm).
        mode: the pairwise function: ``'gaussian'`` (softmax of ``x_i . x_j``),
            ``'embedded_gaussian'`` (default; softmax of ``theta(x_i) . phi(x_j)``),
            ``'dot_product'`` (``theta(x_i) . phi(x_j) / N``) or ``'concatenation'``
            (``relu(w . [theta(x_i), phi(x_j)]) / N``), N the number of key positions.
        std: standard deviation of the normal init of the convs (mmcv passes it through
            ``**kwargs`` to ``init_weights``). Default 0.01.
        zeros_init: zero ``conv_out`` (its norm's weight and bias when ``norm_cfg`` is set,
            else its conv's), so the block starts as the identity; else draw it with ``std``.
            Default True.
    """

    _abbr_ = "nonlocal_block"
    _pool: ClassVar[Any] = None  # (pool class, kernel size) used by sub_sample

    def __init__(
        self,
        in_channels: int,
        reduction: int = 2,
        use_scale: bool = True,
        conv_cfg: Any = None,
        norm_cfg: Any = None,
        mode: str = "embedded_gaussian",
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_channels = check_int(owner, "in_channels", in_channels)
        self.reduction = check_int(owner, "reduction", reduction)
        self.use_scale = check_bool(owner, "use_scale", use_scale)
        self.mode = check_choice(owner, "mode", mode, _MODES)
        self.std = check_real(owner, "std", std, 0.0)
        self.zeros_init = check_bool(owner, "zeros_init", zeros_init)
        self.inter_channels = max(self.in_channels // self.reduction, 1)
        self.sub_sample = False
        inter = self.inter_channels

        # built (and initialised) in mmcv's order, so the same seed gives the same weights
        self.g: nn.Module = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg, act_cfg=None)
        self.conv_out = ConvModule(inter, in_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                   act_cfg=None)
        if self.mode != "gaussian":
            self.theta = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg, act_cfg=None)
            self.phi: nn.Module = ConvModule(in_channels, inter, 1, conv_cfg=conv_cfg,
                                             act_cfg=None)
        if self.mode == "concatenation":
            # always a 2d conv: the concatenated pairs form an (N, 2*inter, HW, HW') map
            self.concat_project = ConvModule(2 * inter, 1, 1, stride=1, padding=0, bias=False,
                                             act_cfg=dict(type="ReLU"))
        self.init_weights()

    def _wrap_sub_sample(self) -> None:
        """Max-pool the keys and values (``g`` and ``phi``) over the spatial axes."""
        pool_cls, kernel = self._pool
        self.sub_sample = True
        self.g = nn.Sequential(self.g, pool_cls(kernel_size=kernel))
        if self.mode == "gaussian":
            self.phi = pool_cls(kernel_size=kernel)
        else:
            self.phi = nn.Sequential(self.phi, pool_cls(kernel_size=kernel))

    def init_weights(self, std: float | None = None, zeros_init: bool | None = None) -> None:
        """mmcv's init: N(0, std^2) weights and zero biases for the convs of ``g``, ``theta``
        and ``phi``; ``conv_out`` zeroed (or drawn with ``std``, when ``zeros_init`` is False).

        Args:
            std: default None: the value given at construction.
            zeros_init: default None: the value given at construction.
        """
        owner = type(self).__name__
        std = self.std if std is None else check_real(owner, "std", std, 0.0)
        zeros_init = (self.zeros_init if zeros_init is None
                      else check_bool(owner, "zeros_init", zeros_init))
        targets = [self.g] if self.mode == "gaussian" else [self.g, self.theta, self.phi]
        for child in targets:
            conv = _conv_module(child).conv
            weight, bias = getattr(conv, "weight", None), getattr(conv, "bias", None)
            if isinstance(weight, torch.Tensor):
                nn.init.normal_(weight, 0.0, std)
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)
        out = self.conv_out.norm if self.conv_out.norm is not None else self.conv_out.conv
        weight, bias = getattr(out, "weight", None), getattr(out, "bias", None)
        if isinstance(weight, torch.Tensor):
            if zeros_init:
                nn.init.zeros_(weight)
            else:
                nn.init.normal_(weight, 0.0, std)
        if isinstance(bias, torch.Tensor):
            nn.init.zeros_(bias)

    # -- pairwise functions: (N, HW, C') x (N, C', HW') -> (N, HW, HW') -----------------------
    def gaussian(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """``softmax_j(x_i . x_j)``."""
        return torch.matmul(theta_x, phi_x).softmax(dim=-1)

    def embedded_gaussian(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """``softmax_j(theta_i . phi_j / sqrt(C'))`` (without the scale if not ``use_scale``)."""
        logits = torch.matmul(theta_x, phi_x)
        if self.use_scale:
            logits = logits / theta_x.shape[-1] ** 0.5
        return logits.softmax(dim=-1)

    def dot_product(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """``theta_i . phi_j / HW'``."""
        weights = torch.matmul(theta_x, phi_x)
        return weights / weights.shape[-1]

    def concatenation(self, theta_x: torch.Tensor, phi_x: torch.Tensor) -> torch.Tensor:
        """``relu(w . [theta_i, phi_j]) / HW'``; inputs ``(N, C', HW, 1)`` and ``(N, C', 1, HW')``."""
        h, w = theta_x.shape[2], phi_x.shape[3]
        pairs = torch.cat([theta_x.expand(-1, -1, h, w), phi_x.expand(-1, -1, h, w)], dim=1)
        weights = self.concat_project(pairs).squeeze(1)
        return weights / weights.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + conv_out(y)``, ``y_i = sum_j f(x_i, x_j) g(x_j)``."""
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects {self.in_channels} input channels, but got "
                f"shape {tuple(x.shape)}"
            )
        n = x.shape[0]
        inter = self.inter_channels
        g_x = self.g(x).reshape(n, inter, -1).transpose(1, 2)  # (N, HW', C')
        if self.mode == "gaussian":
            theta_x = x.reshape(n, self.in_channels, -1).transpose(1, 2)
            phi_x = (self.phi(x) if self.sub_sample else x).reshape(n, self.in_channels, -1)
        elif self.mode == "concatenation":
            theta_x = self.theta(x).reshape(n, inter, -1, 1)
            phi_x = self.phi(x).reshape(n, inter, 1, -1)
        else:
            theta_x = self.theta(x).reshape(n, inter, -1).transpose(1, 2)
            phi_x = self.phi(x).reshape(n, inter, -1)
        weights = getattr(self, self.mode)(theta_x, phi_x)  # (N, HW, HW')
        y = torch.matmul(weights, g_x).transpose(1, 2).reshape(n, inter, *x.shape[2:])
        return x + self.conv_out(y)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, inter_channels={self.inter_channels}, "
                f"mode={self.mode!r}, sub_sample={self.sub_sample}")


_NonLocalNd.init_weights._is_default_init = True  # type: ignore[attr-defined]


class NonLocal1d(_NonLocalNd):
    """Non-local block for ``(N, C, L)`` sequences (abbreviation ``nonlocal_block``).

    Args:
        in_channels: channels of the input.
        sub_sample: max-pool the keys and values (``g`` and ``phi``) by 2 over the length;
            ``g``/``phi`` become ``nn.Sequential`` (keys ``g.0.conv.weight``). Default False.
        conv_cfg: conv config of the 1x1 convs. Default ``dict(type='Conv1d')``.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``. Default 2.
        use_scale: in ``embedded_gaussian`` mode, divide the pairwise logits by
            ``sqrt(inter_channels)``. Default True.
        norm_cfg: norm config of ``conv_out`` only. Default None (no norm).
        mode: ``'gaussian'``, ``'embedded_gaussian'`` (default), ``'dot_product'`` or
            ``'concatenation'`` (see :class:`_NonLocalNd`).
        std: standard deviation of the normal init of the convs. Default 0.01.
        zeros_init: zero ``conv_out`` (its norm, when ``norm_cfg`` is set), so the block
            starts as the identity. Default True.

    Example:
        >>> block = NonLocal1d(8, sub_sample=True, mode='dot_product')
        >>> block(torch.randn(2, 8, 6)).shape
        torch.Size([2, 8, 6])
    """

    _pool = (nn.MaxPool1d, 2)

    def __init__(
        self,
        in_channels: int,
        sub_sample: bool = False,
        conv_cfg: Any = dict(type="Conv1d"),  # noqa: B006 (never mutated; mmcv's signature)
        *,
        reduction: int = 2,
        use_scale: bool = True,
        norm_cfg: Any = None,
        mode: str = "embedded_gaussian",
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        sub_sample = check_bool("NonLocal1d", "sub_sample", sub_sample)
        super().__init__(in_channels, reduction, use_scale, conv_cfg, norm_cfg, mode, std,
                         zeros_init)
        if sub_sample:
            self._wrap_sub_sample()


class NonLocal2d(_NonLocalNd):
    """Non-local block for ``(N, C, H, W)`` maps (abbreviation ``nonlocal_block``).

    Args:
        in_channels: channels of the input.
        sub_sample: max-pool the keys and values (``g`` and ``phi``) by 2 over H and W;
            ``g``/``phi`` become ``nn.Sequential`` (keys ``g.0.conv.weight``). Default False.
        conv_cfg: conv config of the 1x1 convs. Default ``dict(type='Conv2d')``.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``. Default 2.
        use_scale: in ``embedded_gaussian`` mode, divide the pairwise logits by
            ``sqrt(inter_channels)``. Default True.
        norm_cfg: norm config of ``conv_out`` only. Default None (no norm).
        mode: ``'gaussian'``, ``'embedded_gaussian'`` (default), ``'dot_product'`` or
            ``'concatenation'`` (see :class:`_NonLocalNd`).
        std: standard deviation of the normal init of the convs. Default 0.01.
        zeros_init: zero ``conv_out`` (its norm, when ``norm_cfg`` is set), so the block
            starts as the identity. Default True.

    Example:
        >>> block = NonLocal2d(8, sub_sample=True, mode='dot_product')
        >>> block(torch.randn(2, 8, 6, 6)).shape
        torch.Size([2, 8, 6, 6])
    """

    _pool = (nn.MaxPool2d, (2, 2))

    def __init__(
        self,
        in_channels: int,
        sub_sample: bool = False,
        conv_cfg: Any = dict(type="Conv2d"),  # noqa: B006 (never mutated; mmcv's signature)
        *,
        reduction: int = 2,
        use_scale: bool = True,
        norm_cfg: Any = None,
        mode: str = "embedded_gaussian",
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        sub_sample = check_bool("NonLocal2d", "sub_sample", sub_sample)
        super().__init__(in_channels, reduction, use_scale, conv_cfg, norm_cfg, mode, std,
                         zeros_init)
        if sub_sample:
            self._wrap_sub_sample()


class NonLocal3d(_NonLocalNd):
    """Non-local block for ``(N, C, T, H, W)`` clips (abbreviation ``nonlocal_block``).

    Args:
        in_channels: channels of the input.
        sub_sample: max-pool the keys and values (``g`` and ``phi``) by 2 over H and W (not T);
            ``g``/``phi`` become ``nn.Sequential`` (keys ``g.0.conv.weight``). Default False.
        conv_cfg: conv config of the 1x1 convs. Default ``dict(type='Conv3d')``.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``. Default 2.
        use_scale: in ``embedded_gaussian`` mode, divide the pairwise logits by
            ``sqrt(inter_channels)``. Default True.
        norm_cfg: norm config of ``conv_out`` only. Default None (no norm).
        mode: ``'gaussian'``, ``'embedded_gaussian'`` (default), ``'dot_product'`` or
            ``'concatenation'`` (see :class:`_NonLocalNd`).
        std: standard deviation of the normal init of the convs. Default 0.01.
        zeros_init: zero ``conv_out`` (its norm, when ``norm_cfg`` is set), so the block
            starts as the identity. Default True.

    Example:
        >>> block = NonLocal3d(8, sub_sample=True, mode='dot_product')
        >>> block(torch.randn(2, 8, 3, 6, 6)).shape
        torch.Size([2, 8, 3, 6, 6])
    """

    _pool = (nn.MaxPool3d, (1, 2, 2))

    def __init__(
        self,
        in_channels: int,
        sub_sample: bool = False,
        conv_cfg: Any = dict(type="Conv3d"),  # noqa: B006 (never mutated; mmcv's signature)
        *,
        reduction: int = 2,
        use_scale: bool = True,
        norm_cfg: Any = None,
        mode: str = "embedded_gaussian",
        std: float = 0.01,
        zeros_init: bool = True,
    ) -> None:
        sub_sample = check_bool("NonLocal3d", "sub_sample", sub_sample)
        super().__init__(in_channels, reduction, use_scale, conv_cfg, norm_cfg, mode, std,
                         zeros_init)
        if sub_sample:
            self._wrap_sub_sample()
