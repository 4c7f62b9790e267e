"""``GeneralizedAttention``: the spatial attention block of Zhu et al., 2019 (arXiv 1904.05873).

    >>> import torch
    >>> from hydra_cnn import build_plugin_layer
    >>> name, block = build_plugin_layer(
    ...     dict(type='GeneralizedAttention', in_channels=16, num_heads=4, attention_type='1100'))
    >>> name, block(torch.randn(2, 16, 8, 8)).shape
    ('gen_attention_block', torch.Size([2, 16, 8, 8]))

Multi-head attention from every (query) position to every (key) position, whose energy is the
sum of up to four terms, switched on by the bits of ``attention_type``:

- bit 0, appearance-appearance: ``q_i . k_j`` (query and key content);
- bit 1, appearance-position: ``q_i . r_ij`` (query content and relative position);
- bit 2, bias-appearance: ``u . k_j`` (key content only; ``u`` is ``appr_bias``);
- bit 3, bias-position: ``v . r_ij`` (relative position only; ``v`` is ``geom_bias``).

``r_ij = (W_x e(dx_ij) + W_y e(dy_ij)) / sqrt(2)``, with ``e`` a sinusoidal embedding of the
offset along each axis and ``W_x``/``W_y`` = ``appr_geom_fc_x``/``appr_geom_fc_y``. The output
is ``x + gamma * proj_conv(attention @ value)``; ``gamma`` starts at 0, so the block starts as
the identity. Parameter names are mmcv 1.7's, so mmdet checkpoints load.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hydra_cnn.bricks._checks import check_int, check_real
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError

__all__ = ["GeneralizedAttention"]

# mmcv sizes the local-constraint map for stage outputs after a 3x3 conv: C -> map side
_CONSTRAINT_SIDE = {256: 84, 512: 42}
_WAVE_LENGTH = 1000.0


def _attention_bits(value: Any) -> list[bool]:
    if not isinstance(value, str):
        raise InvalidTypeError(
            f"GeneralizedAttention: attention_type must be a string of four 0/1 bits such as "
            f"'1111', but got {value!r}"
        )
    if len(value) != 4 or any(c not in "01" for c in value):
        raise InvalidArgumentError(
            "GeneralizedAttention: attention_type must be four 0/1 bits (appr-appr, "
            f"appr-position, bias-appr, bias-position), such as '1111', but got {value!r}"
        )
    return [c == "1" for c in value]


def _local_constraint_map(side: int, spatial_range: int, kv_stride: int) -> torch.Tensor:
    """``(side, side, side_kv, side_kv)`` uint8: 0 where a key lies within ``spatial_range``
    of the query (in key-map units, as mmcv computes it), 1 where it is masked out."""
    side_kv = int((side - 1.0) / kv_stride + 1)
    q = torch.arange(side)
    lo = torch.clamp(torch.div(q - spatial_range, kv_stride, rounding_mode="floor"), min=0)
    hi = torch.div(q + spatial_range + 1, kv_stride, rounding_mode="floor") + 1
    k = torch.arange(side_kv)
    inside = (k[None, :] >= lo[:, None]) & (k[None, :] < hi[:, None])  # (side, side_kv)
    allowed = inside[:, None, :, None] & inside[None, :, None, :]
    return (~allowed).to(torch.uint8)


def _mark_for_kaiming(layer: nn.Module) -> None:
    """Set mmcv's ``kaiming_init`` flag: :meth:`GeneralizedAttention.init_weights` inits it."""
    layer.kaiming_init = True  # type: ignore[assignment]


class GeneralizedAttention(nn.Module):
    """Generalized spatial attention with switchable energy terms (``attention_type`` bits).

    Registered in ``PLUGIN_LAYERS`` as ``GeneralizedAttention`` (abbreviation
    ``gen_attention_block``). Convs and linears get mmcv's init (kaiming uniform, ``fan_in``,
    ``leaky_relu`` with ``a=1``; zero bias); ``appr_bias``/``geom_bias`` are drawn from
    U(-s, s), ``s = 1/sqrt(2 * qk_embed_dim)``; ``gamma`` is 0.

    Differences from mmcv 1.7 (fixes): with the appr-position term but not the bias-position
    term (``attention_type`` ``'x1x0'``), mmcv pairs the y-offset features with the transposed
    query map (wrong values on square maps, a shape error on others); here every term is
    ``q_i . r_ij`` as in the paper. Bad arguments raise at construction, naming the argument,
    where mmcv fails later or deep inside torch.

    Args:
        in_channels: channels of the input map.
        spatial_range: keys farther than this (in input pixels) from the query are masked out;
            -1 (default) means no limit. A limit is supported for ``in_channels`` 256 and 512
            only (as in mmcv, whose ``local_constraint_map`` is sized for those stages).
        num_heads: attention heads; each has ``in_channels // num_heads`` channels. Default 9.
        position_embedding_dim: size of the sinusoidal offset embedding (a multiple of 4);
            <= 0 (default -1) means ``in_channels``.
        position_magnitude: multiplier of the query-key offsets. Default 1.
        kv_stride: stride of the key/value map (average pooling with kernel 1). Default 2.
        q_stride: stride of the query map; the output is upsampled back. Default 1.
        attention_type: four 0/1 bits enabling the appr-appr, appr-position, bias-appr and
            bias-position energy terms. Default ``'1111'``.

    Example:
        >>> block = GeneralizedAttention(16, num_heads=4, kv_stride=1, attention_type='1000')
        >>> block(torch.randn(1, 16, 5, 5)).shape
        torch.Size([1, 16, 5, 5])
    """

    _abbr_ = "gen_attention_block"

    def __init__(
        self,
        in_channels: int,
        spatial_range: int = -1,
        num_heads: int = 9,
        position_embedding_dim: int = -1,
        position_magnitude: float = 1,
        kv_stride: int = 2,
        q_stride: int = 1,
        attention_type: str = "1111",
    ) -> None:
        super().__init__()
        owner = "GeneralizedAttention"
        in_channels = check_int(owner, "in_channels", in_channels)
        num_heads = check_int(owner, "num_heads", num_heads)
        spatial_range = check_int(owner, "spatial_range", spatial_range, minimum=None)
        position_embedding_dim = check_int(owner, "position_embedding_dim",
                                           position_embedding_dim, minimum=None)
        position_magnitude = check_real(owner, "position_magnitude", position_magnitude)
        self.kv_stride = check_int(owner, "kv_stride", kv_stride)
        self.q_stride = check_int(owner, "q_stride", q_stride)
        bits = _attention_bits(attention_type)
        if in_channels < num_heads:
            raise InvalidArgumentError(
                f"{owner}: in_channels={in_channels} leaves no channels per head with "
                f"num_heads={num_heads}; use num_heads <= in_channels"
            )
        pos_dim = position_embedding_dim if position_embedding_dim > 0 else in_channels
        uses_position = bits[1] or bits[3]
        if uses_position and pos_dim % 4:
            raise InvalidArgumentError(
                f"{owner}: the position embedding has sin and cos halves of two axes, so its "
                f"size must be a multiple of 4, but position_embedding_dim resolves to {pos_dim}"
                + ("" if position_embedding_dim > 0 else " (in_channels)")
                + "; set position_embedding_dim"
            )
        if spatial_range >= 0 and in_channels not in _CONSTRAINT_SIDE:
            raise InvalidArgumentError(
                f"{owner}: spatial_range={spatial_range} needs in_channels 256 or 512 (the "
                f"local constraint map is sized for those stages, as in mmcv), but got "
                f"in_channels={in_channels}; use spatial_range=-1"
            )

        self.in_channels = in_channels
        self.num_heads = num_heads
        self.spatial_range = spatial_range
        self.position_embedding_dim = pos_dim
        self.position_magnitude = position_magnitude
        self.attention_type = bits  # mmcv's attribute: the bits as a list of bools
        self.qk_embed_dim = in_channels // num_heads
        self.v_dim = in_channels // num_heads
        out_c = self.qk_embed_dim * num_heads

        # created (and drawn) in mmcv's order, so the same seed gives the same weights
        if bits[0] or bits[1]:
            self.query_conv = nn.Conv2d(in_channels, out_c, kernel_size=1, bias=False)
            _mark_for_kaiming(self.query_conv)
        if bits[0] or bits[2]:
            self.key_conv = nn.Conv2d(in_channels, out_c, kernel_size=1, bias=False)
            _mark_for_kaiming(self.key_conv)
        self.value_conv = nn.Conv2d(in_channels, self.v_dim * num_heads, kernel_size=1,
                                    bias=False)
        _mark_for_kaiming(self.value_conv)
        if uses_position:
            self.appr_geom_fc_x = nn.Linear(pos_dim // 2, out_c, bias=False)
            _mark_for_kaiming(self.appr_geom_fc_x)
            self.appr_geom_fc_y = nn.Linear(pos_dim // 2, out_c, bias=False)
            _mark_for_kaiming(self.appr_geom_fc_y)
        if bits[2]:
            self.appr_bias = nn.Parameter(self._bias_draw(out_c))
        if bits[3]:
            self.geom_bias = nn.Parameter(self._bias_draw(out_c))
        self.proj_conv = nn.Conv2d(self.v_dim * num_heads, in_channels, kernel_size=1, bias=True)
        _mark_for_kaiming(self.proj_conv)
        self.gamma = nn.Parameter(torch.zeros(1))
        if spatial_range >= 0:
            # a parameter (not a buffer) because mmcv checkpoints store it
            self.local_constraint_map = nn.Parameter(
                _local_constraint_map(_CONSTRAINT_SIDE[in_channels], spatial_range, self.kv_stride),
                requires_grad=False,
            )
        self.q_downsample = (nn.AvgPool2d(kernel_size=1, stride=self.q_stride)
                             if self.q_stride > 1 else None)
        self.kv_downsample = (nn.AvgPool2d(kernel_size=1, stride=self.kv_stride)
                              if self.kv_stride > 1 else None)
        self.init_weights()

    def _bias_draw(self, size: int) -> torch.Tensor:
        """U(-s, s) with ``s = 1 / sqrt(2 * qk_embed_dim)``, drawn as mmcv draws it."""
        bound = 1.0 / math.sqrt(self.qk_embed_dim * 2)
        return -2 * bound * torch.rand(size) + bound

    def init_weights(self) -> None:
        """mmcv's init of the convs and linears: kaiming uniform (``fan_in``, ``leaky_relu``,
        ``a=1``, i.e. U(-sqrt(3/fan_in), sqrt(3/fan_in))) and zero bias."""
        for m in self.modules():
            if getattr(m, "kaiming_init", False) is not True:
                continue
            weight, bias = getattr(m, "weight", None), getattr(m, "bias", None)
            if isinstance(weight, torch.Tensor):
                nn.init.kaiming_uniform_(weight, a=1, mode="fan_in", nonlinearity="leaky_relu")
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)

    def reset_parameters(self) -> None:
        """Re-initialise every tensor: the biases' draws, ``gamma = 0``, the constraint map and
        :meth:`init_weights` (used after ``to_empty``)."""
        with torch.no_grad():
            for name in ("appr_bias", "geom_bias"):
                param = getattr(self, name, None)
                if param is not None:
                    param.copy_(self._bias_draw(param.numel()).to(param.device, param.dtype))
            self.gamma.zero_()
            mask = getattr(self, "local_constraint_map", None)
            if mask is not None:
                mask.copy_(_local_constraint_map(mask.shape[0], self.spatial_range, self.kv_stride))
        self.init_weights()

    def get_position_embedding(
        self, h: int, w: int, h_kv: int, w_kv: int, q_stride: int, kv_stride: int,
        device: torch.device, dtype: torch.dtype, feat_dim: int, wave_length: float = _WAVE_LENGTH,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sinusoidal embeddings of the query-key offsets along x and y (mmcv's method).

        Returns:
            ``(emb_x, emb_y)`` of shapes ``(w, w_kv, feat_dim // 2)`` and
            ``(h, h_kv, feat_dim // 2)``: ``[sin(d / f_k), cos(d / f_k)]`` for the offset ``d``
            (in input pixels, times ``position_magnitude``) and ``f_k =
            wave_length ** (4k / feat_dim)``, ``k = 0 .. feat_dim/4 - 1``.
        """
        def offsets(n_q: int, n_kv: int) -> torch.Tensor:
            q = torch.arange(n_q, device=device, dtype=dtype) * q_stride
            kv = torch.arange(n_kv, device=device, dtype=dtype) * kv_stride
            return ((q[:, None] - kv[None, :]) * self.position_magnitude)[..., None]

        k = torch.arange(0, feat_dim / 4, device=device, dtype=dtype)
        freq = torch.tensor(wave_length, device=device, dtype=dtype) ** ((4.0 / feat_dim) * k)
        out = []
        for d in (offsets(w, w_kv), offsets(h, h_kv)):
            out.append(torch.cat(((d / freq).sin(), (d / freq).cos()), dim=2))
        return out[0], out[1]

    def forward(self, x_input: torch.Tensor) -> torch.Tensor:
        """``x + gamma * proj_conv(softmax(energy) @ value)`` for an ``(N, C, H, W)`` map."""
        if x_input.dim() != 4 or x_input.shape[1] != self.in_channels:
            raise ValueError(
                f"GeneralizedAttention expects an (N, {self.in_channels}, H, W) input, but got "
                f"shape {tuple(x_input.shape)}"
            )
        heads, dim = self.num_heads, self.qk_embed_dim
        bits = self.attention_type
        x_q = x_input if self.q_downsample is None else self.q_downsample(x_input)
        x_kv = x_input if self.kv_downsample is None else self.kv_downsample(x_input)
        n, _, h, w = x_q.shape
        h_kv, w_kv = x_kv.shape[2:]
        if self.spatial_range >= 0:
            side = self.local_constraint_map.shape[0]
            if max(h, w) > side:
                raise ValueError(
                    f"GeneralizedAttention: with spatial_range, query maps up to {side}x{side} "
                    f"are supported (in_channels={self.in_channels}), but got {h}x{w}"
                )

        if bits[0] or bits[1]:  # (n, heads, hw, dim)
            query = self.query_conv(x_q).view(n, heads, dim, h * w).transpose(2, 3)
        if bits[0] or bits[2]:  # (n, heads, dim, hw_kv)
            key = self.key_conv(x_kv).view(n, heads, dim, h_kv * w_kv)

        if bits == [False, False, True, False]:
            # key content only: the same energy for every query, so compute one query row
            bias = self.appr_bias.view(1, heads, 1, dim)
            energy = torch.matmul(bias, key)  # (n, heads, 1, hw_kv)
            h = w = 1
        else:
            terms: list[torch.Tensor] = []  # each broadcasts to (n, heads, h, w, h_kv, w_kv)
            if bits[0]:
                content = query + self.appr_bias.view(1, heads, 1, dim) if bits[2] else query
                terms.append(torch.matmul(content, key).view(n, heads, h, w, h_kv, w_kv))
            elif bits[2]:
                key_only = torch.matmul(self.appr_bias.view(1, heads, 1, dim), key)
                terms.append(key_only.view(n, heads, 1, 1, h_kv, w_kv))
            if bits[1] or bits[3]:
                terms.append(self._position_energy(query if bits[1] else None,
                                                   n, h, w, h_kv, w_kv, x_input))
            if terms:  # '0000' enables no term: uniform attention over the keys
                energy = (terms[0] if len(terms) == 1 else terms[0] + terms[1]).expand(
                    n, heads, h, w, h_kv, w_kv)
            else:
                energy = x_input.new_zeros(n, heads, h, w, h_kv, w_kv)
            energy = energy.reshape(n, heads, h * w, h_kv * w_kv)

        if self.spatial_range >= 0:
            mask = self.local_constraint_map[:h, :w, :h_kv, :w_kv].reshape(1, 1, h * w,
                                                                            h_kv * w_kv)
            energy = energy.masked_fill(mask.bool(), float("-inf"))
        attention = F.softmax(energy, dim=3)

        value = self.value_conv(x_kv).view(n, heads, self.v_dim, h_kv * w_kv).transpose(2, 3)
        out = torch.matmul(attention, value)  # (n, heads, hw, v_dim)
        out = out.transpose(2, 3).reshape(n, self.v_dim * heads, h, w)
        out = self.proj_conv(out)
        if self.q_downsample is not None:
            out = F.interpolate(out, size=x_input.shape[2:], mode="bilinear", align_corners=False)
        return self.gamma * out + x_input

    def _position_energy(self, query: torch.Tensor | None, n: int, h: int, w: int, h_kv: int,
                         w_kv: int, x: torch.Tensor) -> torch.Tensor:
        """The appr-position and/or bias-position terms, ``(n, heads, h, w, h_kv, w_kv)``."""
        heads, dim = self.num_heads, self.qk_embed_dim
        emb_x, emb_y = self.get_position_embedding(
            h, w, h_kv, w_kv, self.q_stride, self.kv_stride, x.device, x.dtype,
            self.position_embedding_dim,
        )
        # relative-position features per head: (heads, w, w_kv, dim) and (heads, h, h_kv, dim)
        feat_x = self.appr_geom_fc_x(emb_x).view(w, w_kv, heads, dim).permute(2, 0, 1, 3)
        feat_y = self.appr_geom_fc_y(emb_y).view(h, h_kv, heads, dim).permute(2, 0, 1, 3)
        feat_x = feat_x / math.sqrt(2)
        feat_y = feat_y / math.sqrt(2)
        if query is None:  # bias-position only: v . r_ij
            vec = self.geom_bias.view(heads, 1, 1, dim)
            energy_x = (feat_x * vec).sum(-1)  # (heads, w, w_kv)
            energy_y = (feat_y * vec).sum(-1)  # (heads, h, h_kv)
            return (energy_x.view(1, heads, 1, w, 1, w_kv)
                    + energy_y.view(1, heads, h, 1, h_kv, 1))
        q = query.reshape(n, heads, h, w, dim)
        if self.attention_type[3]:
            q = q + self.geom_bias.view(1, heads, 1, 1, dim)
        # x term: query (y, x) against columns (x, x_kv); y term: against rows (y, y_kv)
        energy_x = torch.einsum("nmyxd,mxkd->nmyxk", q, feat_x)  # (n, heads, h, w, w_kv)
        energy_y = torch.einsum("nmyxd,mykd->nmyxk", q, feat_y)  # (n, heads, h, w, h_kv)
        return energy_x[:, :, :, :, None, :] + energy_y[:, :, :, :, :, None]

    def extra_repr(self) -> str:
        bits = "".join("1" if b else "0" for b in self.attention_type)
        return (f"in_channels={self.in_channels}, num_heads={self.num_heads}, "
                f"attention_type={bits!r}, kv_stride={self.kv_stride}, q_stride={self.q_stride}, "
                f"spatial_range={self.spatial_range}")


GeneralizedAttention.init_weights._is_default_init = True  # type: ignore[attr-defined]
