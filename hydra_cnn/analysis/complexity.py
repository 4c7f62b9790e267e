"""FLOPs and parameter counts of a model, with mmcv 1.7's conventions and output.

``get_model_complexity_info`` runs one forward pass with counting hooks and returns mmcv's
``(flops, params)`` pair. It works on a model built under ``torch.device('meta')`` (the input
is made on the model's device, so nothing is allocated), leaves the model as it found it
(hooks removed and train/eval mode restored, also when the forward raises) and names every
module it could not count instead of counting it as zero::

    >>> from torch import nn
    >>> from hydra_cnn import get_model_complexity_info
    >>> get_model_complexity_info(nn.Conv2d(3, 8, 3), (3, 16, 16), print_per_layer_stat=False)
    ('0.0 GFLOPs', '224')
    >>> with torch.device('meta'):                          # doctest: +SKIP
    ...     net = hydra_cnn.ResNet(depth=50, num_classes=1000)
    >>> get_model_complexity_info(net, (3, 224, 224), print_per_layer_stat=False)  # doctest: +SKIP
    ('4.11 GFLOPs', '25.56 M')

Conventions (mmcv's: one multiply-add is one FLOP; counts per forward of one sample):

========================  ==========================================================================
conv (1d/2d/3d)           ``prod(kernel) * Cin * (Cout // groups) * N * prod(out_spatial)``, plus
                          ``Cout * N * prod(out_spatial)`` with a bias
deconv (1d/2d/3d)         ``prod(kernel) * Cin * (Cout // groups) * N * prod(in_spatial)`` (the input
                          size), plus ``Cout * N * prod(out_spatial)`` with a bias
linear                    ``numel(input) * out_features`` (the bias is not counted)
activation                ``numel(output)`` (ReLU, PReLU, ELU, LeakyReLU, ReLU6 as in mmcv; also GELU,
                          SiLU, Sigmoid, Tanh, Mish, Hardswish, Softmax, ... and hydra_cnn's Swish,
                          HSigmoid, Clamp)
pool (max/avg/adaptive)   ``numel(input)``
norm (BN/GN/IN/LN)        ``numel(input)``, doubled when the layer is affine
upsample                  ``numel(output)``
multi-head attention      the q/k/v and output projections plus ``QK^T`` and ``attention @ V``
dropout, identity, pad,   0 (they move data)
flatten, unfold, shuffle
========================  ==========================================================================

A module type with no rule is counted through what runs inside it: its child modules, and the
matrix products it calls itself (``torch.matmul``, ``@``, ``F.linear``, ``F.conv*``,
``einsum``, ``scaled_dot_product_attention``; the residual additions and other elementwise
operations of a block cost nothing, as in mmcv). A module that does other arithmetic of its own
with nothing countable (a custom activation, a parameter used elementwise) is *not counted*:
it is named in a warning, in the per-layer print, and in the result's ``uncounted``.

Differences from mmcv 1.7, each a fix: subclasses follow their base's rule (mmcv counts a
subclass of ``nn.Conv2d``, ``nn.Upsample``'s ``UpsamplingNearest2d`` or SyncBatchNorm as 0);
functional matrix products are counted; nothing is silently zero; deconv bias uses
``H_out * W_out`` (mmcv multiplies ``H_out * H_out``) and 1d/3d deconvs are counted; upsample
counts every sample (mmcv: the first); the model is restored and keeps no counting attributes;
a parameter-free model prints 0% instead of raising ZeroDivisionError.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from hydra_cnn.bricks.activation import Clamp, HSigmoid, Swish
from hydra_cnn.bricks.dropout import DropPath
from hydra_cnn.bricks.scale import Scale
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError
from hydra_cnn.models.vit import PositionEmbedding

__all__ = [
    "ComplexityInfo",
    "add_flops_rule",
    "complexity_summary",
    "flops_to_string",
    "get_model_complexity_info",
    "params_to_string",
]

# (module, positional args, keyword args, output) -> FLOPs of one call
Rule = Callable[[nn.Module, tuple[Any, ...], dict[str, Any], Any], int]


# --- strings (mmcv's formats) ---------------------------------------------------------------
def flops_to_string(flops: float, units: str | None = "GFLOPs", precision: int = 2) -> str:
    """A FLOPs count as text, as mmcv 1.7 writes it (one multiply-add counts as one FLOP).

    Args:
        flops: the count.
        units: ``'GFLOPs'``, ``'MFLOPs'`` or ``'KFLOPs'`` (scaled and rounded); None picks
            the largest unit the count reaches (plain ``FLOPs`` below 1000); anything else
            gives the unscaled count with ``' FLOPs'``. Default ``'GFLOPs'``.
        precision: digits after the decimal point. Default 2.

    Example:
        >>> flops_to_string(6.54321e9)
        '6.54 GFLOPs'
        >>> flops_to_string(3.21e7, None)
        '32.1 MFLOPs'
    """
    scales = {"GFLOPs": 10.0**9, "MFLOPs": 10.0**6, "KFLOPs": 10.0**3}
    if units is None:
        units = next((u for u, s in scales.items() if flops // s > 0), "FLOPs")
    if units not in scales:
        return f"{flops} FLOPs"
    return f"{round(flops / scales[units], precision)} {units}"


def params_to_string(num_params: float, units: str | None = None, precision: int = 2) -> str:
    """A parameter count as text, as mmcv 1.7 writes it.

    Args:
        num_params: the count.
        units: ``'M'`` or ``'K'`` (scaled and rounded); None picks ``' M'``, ``' k'`` (lower
            case, as mmcv) or the bare number; anything else gives the bare number.
            Default None.
        precision: digits after the decimal point. Default 2.

    Example:
        >>> params_to_string(25557032)
        '25.56 M'
        >>> params_to_string(4.56e5)
        '456.0 k'
    """
    if units is None:
        if num_params // 10**6 > 0:
            return f"{round(num_params / 10**6, precision)} M"
        if num_params // 10**3:
            return f"{round(num_params / 10**3, precision)} k"
        return str(num_params)
    if units == "M":
        return f"{round(num_params / 10.0**6, precision)} M"
    if units == "K":
        return f"{round(num_params / 10.0**3, precision)} K"
    return str(num_params)


# --- rules per module type --------------------------------------------------------------------
def _first_tensor(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    for value in itertools.chain(args, kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError("no tensor argument to count")


def _out(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple | list) else output


def _lead(shape: torch.Size, spatial: int) -> int:
    """Batch size of a conv input/output with ``spatial`` spatial dims (1 when unbatched)."""
    return math.prod(shape[: -spatial - 1])


def _conv_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    out = _out(output)
    nd = len(m.kernel_size)
    positions = _lead(out.shape, nd) * math.prod(out.shape[-nd:])
    flops = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups) * positions
    return flops + (m.out_channels * positions if m.bias is not None else 0)


def _deconv_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    x, out = _first_tensor(args, kwargs), _out(output)
    nd = len(m.kernel_size)
    inputs = _lead(x.shape, nd) * math.prod(x.shape[-nd:])
    flops = math.prod(m.kernel_size) * m.in_channels * (m.out_channels // m.groups) * inputs
    if m.bias is not None:
        flops += m.out_channels * _lead(out.shape, nd) * math.prod(out.shape[-nd:])
    return flops


def _linear_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    return _first_tensor(args, kwargs).numel() * m.out_features


def _output_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    return _out(output).numel()


def _input_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    return _first_tensor(args, kwargs).numel()


def _norm_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    affine = getattr(m, "affine", False) or getattr(m, "elementwise_affine", False)
    return _first_tensor(args, kwargs).numel() * (2 if affine else 1)


def _free_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    return 0


def _mha_rule(m: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> int:
    names = ("query", "key", "value")
    given = {**dict(zip(names, args, strict=False)), **{k: kwargs[k] for k in names if k in kwargs}}
    query = given["query"]
    key = given.get("key", query)
    value = given.get("value", key)
    batched = query.dim() == 3
    seq_dim = 1 if (m.batch_first and batched) else 0
    batch = query.shape[1 - seq_dim] if batched else 1
    length, source, embed = query.shape[seq_dim], key.shape[seq_dim], m.embed_dim
    projections = length * embed * embed * 2 + source * embed * (key.shape[-1] + value.shape[-1])
    return batch * (projections + 2 * length * source * embed)


_RULES: dict[type, Rule] = {}
_RULE_CACHE: dict[type, Rule | None] = {}  # class -> its rule, found along the MRO


def add_flops_rule(cls: type, rule: Rule) -> None:
    """Count every module of class ``cls`` (and its subclasses) with ``rule``.

    Args:
        cls: an ``nn.Module`` subclass.
        rule: ``rule(module, args, kwargs, output) -> int``, the FLOPs of one call; what runs
            inside the module is then not counted separately.
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise InvalidTypeError(f"add_flops_rule takes an nn.Module subclass, got {cls!r}")
    if not callable(rule):
        raise InvalidTypeError(f"add_flops_rule: rule must be callable, got {rule!r}")
    _RULES[cls] = rule
    _RULE_CACHE.clear()


def _add_rules(rule: Rule, *classes: Any) -> None:
    for cls in classes:
        if isinstance(cls, type):  # a class this torch version lacks is None
            _RULES[cls] = rule


_mod = nn.modules
_add_rules(_conv_rule, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_add_rules(_deconv_rule, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_add_rules(_linear_rule, nn.Linear)
_add_rules(_output_rule, nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6, nn.RReLU, nn.SELU,
           nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish,
           nn.Hardsigmoid, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink, nn.Threshold,
           nn.Softplus, nn.Softsign, nn.LogSigmoid, nn.Softmax, nn.Softmax2d, nn.LogSoftmax,
           nn.Softmin, nn.GLU, Swish, HSigmoid, Clamp, Scale, nn.Upsample)
_add_rules(_input_rule, _mod.pooling._MaxPoolNd, _mod.pooling._AvgPoolNd,
           _mod.pooling._AdaptiveMaxPoolNd, _mod.pooling._AdaptiveAvgPoolNd, _mod.pooling._LPPoolNd)
_add_rules(_norm_rule, _mod.batchnorm._BatchNorm, _mod.instancenorm._InstanceNorm, nn.GroupNorm,
           nn.LayerNorm, getattr(nn, "RMSNorm", None), nn.LocalResponseNorm)
_add_rules(_free_rule, nn.Identity, _mod.dropout._DropoutNd, DropPath, nn.Flatten, nn.Unflatten,
           nn.Unfold, _mod.padding._ConstantPadNd, _mod.padding._ReflectionPadNd,
           _mod.padding._ReplicationPadNd, getattr(_mod.padding, "_CircularPadNd", None),
           nn.PixelShuffle, nn.PixelUnshuffle, nn.ChannelShuffle, nn.Embedding)
_add_rules(_mha_rule, nn.MultiheadAttention)
_add_rules(_output_rule, PositionEmbedding)  # one addition per token element


def _rule_for(module: nn.Module) -> Rule | None:
    """The rule of the module's class or its nearest base class that has one."""
    cls = type(module)
    try:
        return _RULE_CACHE[cls]
    except KeyError:
        rule = next((_RULES[k] for k in cls.__mro__ if k in _RULES), None)
        _RULE_CACHE[cls] = rule
        return rule


# --- functional operations inside modules without a rule ---------------------------------------
def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _einsum_flops(args: tuple[Any, ...]) -> int:
    equation = args[0]
    operands = list(args[1]) if len(args) == 2 and isinstance(args[1], list | tuple) else list(args[1:])
    if not isinstance(equation, str) or len(operands) < 2:
        return 0
    terms = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    widest = max((len(_shape(t)) - len(term.replace("...", "")) for term, t in
                  zip(terms, operands, strict=False) if "..." in term), default=0)
    for term, tensor in zip(terms, operands, strict=False):
        shape = _shape(tensor)
        labels = list(term.replace("...", "\0"))
        if "\0" in labels:
            i = labels.index("\0")
            extra = len(shape) - (len(labels) - 1)
            labels[i: i + 1] = [f"...{widest - extra + j}" for j in range(extra)]
        for label, size in zip(labels, shape, strict=False):
            sizes[label] = max(sizes.get(label, 1), size)
    return math.prod(sizes.values())


def _functional_flops(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
                      ) -> int | None:
    """Multiply-adds of a matrix-product call, or None when ``name`` is not one."""
    result = out[0] if isinstance(out, tuple | list) and out else out
    numel = result.numel() if isinstance(result, torch.Tensor) else 0
    if name in ("matmul", "__matmul__", "mm", "bmm", "mv", "dot", "inner"):
        return numel * (_shape(args[0])[-1:] or (1,))[0]
    if name == "__rmatmul__":
        return numel * (_shape(args[1])[-1:] or (1,))[0]
    if name in ("addmm", "baddbmm", "addmv"):
        return numel * (_shape(args[1])[-1:] or (1,))[0]
    if name == "addbmm":
        shape = _shape(args[1])
        return numel * shape[0] * shape[-1] if len(shape) == 3 else 0
    if name == "linear":
        weight = args[1] if len(args) > 1 else kwargs.get("weight")
        return math.prod(_shape(args[0])) * (_shape(weight)[:1] or (0,))[0]
    if name in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d"):
        weight = _shape(args[1] if len(args) > 1 else kwargs.get("weight"))
        bias = args[2] if len(args) > 2 else kwargs.get("bias")
        per = weight[1] * math.prod(weight[2:])
        base = numel if name.startswith("conv") and "transpose" not in name else math.prod(_shape(args[0]))
        return base * per + (numel if bias is not None else 0)
    if name == "scaled_dot_product_attention":
        q, k, v = (_shape(a) for a in args[:3])
        return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])
    if name == "einsum":
        return _einsum_flops(args)
    return None


# calls that move or describe data: no arithmetic to count
_FREE_NAMES = """
__get__ __set__ __len__ __getitem__ __setitem__ __iter__ __bool__ __index__ __int__ __float__
__format__ __repr__ __hash__ __contains__ __reversed__ __deepcopy__ __reduce_ex__ size dim numel
nelement ndimension stride storage_offset data_ptr element_size is_contiguous is_floating_point
is_complex get_device item tolist view view_as reshape reshape_as permute transpose transpose_ t
flatten unflatten contiguous pad cat concat concatenate stack hstack vstack split split_with_sizes
tensor_split chunk unbind squeeze squeeze_ unsqueeze unsqueeze_ expand expand_as repeat
repeat_interleave tile narrow select movedim moveaxis swapaxes swapdims clone detach detach_ to
type type_as float double half bfloat16 int long bool cpu cuda new_empty new_zeros new_ones
new_full new_tensor zeros_like ones_like empty_like full_like zeros ones empty full arange
tensor as_tensor randn rand randint randn_like rand_like unfold pixel_shuffle pixel_unshuffle
channel_shuffle native_channel_shuffle roll flip fliplr flipud rot90 gather index_select
diagonal as_strided requires_grad_ retain_grad register_hook dropout dropout1d dropout2d
dropout3d alpha_dropout feature_alpha_dropout embedding one_hot zero_ fill_ copy_ masked_fill
masked_fill_ broadcast_to broadcast_tensors meshgrid
"""
_FREE = frozenset(_FREE_NAMES.split())


class _Counter:
    """The state of one counting pass: a stack of running modules and what each did."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: list[nn.Module] = []
        self.covered = 0  # modules with a rule on the stack: what runs inside them is covered
        self.own: dict[nn.Module, int] = {}  # FLOPs each module did itself, summed over calls
        self.ran: set[nn.Module] = set()
        self.arithmetic: dict[nn.Module, set[str]] = {}
        self.batches = 0

    # hooks
    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.stack.append(module)
        if self.covered == 0:
            self.ran.add(module)
        if _rule_for(module) is not None:
            self.covered += 1

    def post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
             output: Any) -> None:
        if self.stack and self.stack[-1] is module:
            self.stack.pop()
        rule = _rule_for(module)
        if rule is None:
            return
        self.covered -= 1
        if self.covered == 0:
            self.own[module] = self.own.get(module, 0) + int(rule(module, args, kwargs, output))

    def batch(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if args:
            self.batches += len(args[0])
        else:
            warnings.warn("No positional inputs found for a module, assuming batch size is 1.",
                          stacklevel=2)
            self.batches += 1

    def function(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any) -> None:
        if self.covered or not self.stack:
            return
        module = self.stack[-1]
        name = getattr(func, "__name__", "")
        flops = _functional_flops(name, args, kwargs, out)
        if flops is not None:
            self.own[module] = self.own.get(module, 0) + int(flops)
        elif name not in _FREE:
            self.arithmetic.setdefault(module, set()).add(name)

    # results
    def uncounted(self) -> list[nn.Module]:
        """Modules that ran arithmetic of their own with no rule and nothing countable."""
        out = []
        for module in self.ran:
            if _rule_for(module) is not None or self.own.get(module, 0) or module not in self.arithmetic:
                continue
            children_ran = any(c in self.ran for c in module.children())
            has_params = any(True for _ in module.parameters(recurse=False))
            if not children_ran or has_params:
                out.append(module)
        return out


class _FunctionMode(TorchFunctionMode):
    def __init__(self, counter: _Counter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.counter.function(func, args, kwargs, out)
        return out


# --- the entry point -------------------------------------------------------------------------
class ComplexityInfo(tuple[Any, Any]):
    """``(flops, params)`` as mmcv returns them, plus ``uncounted``: the modules (``'name
    (Class)'``) whose own arithmetic has no FLOPs rule, empty when everything was counted."""

    uncounted: tuple[str, ...]

    def __new__(cls, flops: Any, params: Any, uncounted: tuple[str, ...] = ()) -> ComplexityInfo:
        self = super().__new__(cls, (flops, params))
        self.uncounted = tuple(uncounted)
        return self

    @property
    def flops(self) -> Any:
        """The FLOPs (a float, or mmcv's string)."""
        return self[0]

    @property
    def params(self) -> Any:
        """The trainable parameter count (an int, or mmcv's string)."""
        return self[1]


def _check_args(model: Any, input_shape: Any) -> None:
    if type(input_shape) is not tuple:
        raise InvalidTypeError(
            f"input_shape must be a tuple of the input's sizes without the batch dimension, "
            f"e.g. (3, 224, 224), but got {type(input_shape).__name__}: {input_shape!r}")
    if len(input_shape) < 1:
        raise InvalidArgumentError("input_shape must have at least one size, e.g. (3, 224, 224), "
                                   "but got ()")
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be an nn.Module, but got {type(model).__name__}")


def _default_input(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """A batch of one, with the dtype and device of the model's first floating tensor."""
    ref = next((t for t in itertools.chain(model.parameters(), model.buffers())
                if t.is_floating_point()), None)
    if ref is None:
        return torch.zeros((1, *input_shape), device="cpu")
    return torch.zeros((1, *input_shape), dtype=ref.dtype, device=ref.device)


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _label(names: dict[nn.Module, str], module: nn.Module) -> str:
    return f"{names.get(module) or '<model>'} ({type(module).__name__})"


def _print_per_layer(model: nn.Module, counter: _Counter, total_flops: float, total_params: int,
                     ost: TextIO, flush: bool, units: str = "GFLOPs", precision: int = 3) -> None:
    """mmcv's per-layer print: the model's repr with params and FLOPs in front of each line."""
    batches = max(counter.batches, 1)

    def flops_of(m: nn.Module) -> float:
        own = counter.own.get(m, 0) / batches
        if _rule_for(m) is not None:
            return own
        return own + sum(flops_of(c) for c in m.children())

    def text(m: nn.Module, original: Callable[[], str]) -> Callable[[], str]:
        def extra_repr() -> str:
            params, flops = _trainable(m), flops_of(m)
            return ", ".join([
                params_to_string(params, units="M", precision=precision),
                f"{params / total_params if total_params else 0:.3%} Params",
                flops_to_string(flops, units=units, precision=precision),
                f"{flops / total_flops if total_flops else 0:.3%} FLOPs",
                original(),
            ])
        return extra_repr

    saved: list[tuple[nn.Module, Any]] = []
    try:
        for m in model.modules():
            saved.append((m, m.__dict__.get("extra_repr", _MISSING)))
            m.extra_repr = text(m, m.extra_repr)  # type: ignore[method-assign]
        print(model, file=ost, flush=flush)
    finally:
        for m, old in saved:
            if old is _MISSING:
                m.__dict__.pop("extra_repr", None)
            else:
                m.extra_repr = old  # type: ignore[method-assign]


_MISSING = object()


def _forward(model: nn.Module, counter: _Counter, input_shape: tuple[int, ...],
             input_constructor: Callable[[tuple[int, ...]], Mapping[str, Any]] | None) -> None:
    """The one counted forward; an error in it names the module that raised it."""
    try:
        if input_constructor:
            inputs = input_constructor(input_shape)
            if not isinstance(inputs, Mapping):
                raise TypeError(
                    "input_constructor must return a mapping of the forward's keyword arguments "
                    f"(the model is called as model(**inputs)), but returned {type(inputs).__name__}")
            with _FunctionMode(counter):
                model(**inputs)
        else:
            batch = _default_input(model, input_shape)
            with _FunctionMode(counter):
                model(batch)
    except Exception as exc:
        if counter.stack and hasattr(exc, "add_note"):  # Python >= 3.11
            names = {m: n for n, m in model.named_modules()}
            exc.add_note(f"raised in {_label(names, counter.stack[-1])} while counting FLOPs "
                         f"at input_shape={input_shape}")
        raise


def get_model_complexity_info(
    model: nn.Module,
    input_shape: tuple[int, ...],
    print_per_layer_stat: bool = True,
    as_strings: bool = True,
    input_constructor: Callable[[tuple[int, ...]], Mapping[str, Any]] | None = None,
    flush: bool = False,
    ost: TextIO = sys.stdout,
) -> ComplexityInfo:
    """Count a model's FLOPs (multiply-adds, mmcv 1.7's convention) and trainable parameters.

    Args:
        model: the model; its parameters may live on any device, ``meta`` included.
        input_shape: the input's sizes without the batch dimension, an exact ``tuple``
            (e.g. ``(3, 224, 224)``); the model is called on one zero-filled sample of that
            shape, on the device and with the dtype of the model's parameters.
        print_per_layer_stat: print the model with params and FLOPs (and their shares) in
            front of each module's line, as mmcv does. Default True.
        as_strings: return ``('4.11 GFLOPs', '25.56 M')`` (:func:`flops_to_string`,
            :func:`params_to_string`) instead of ``(flops: float, params: int)``. Default True.
        input_constructor: called as ``input_constructor(input_shape)``; must return the
            keyword arguments of the forward call (a mapping). The batch is whatever it
            builds and the result is not divided by it (mmcv's behaviour). Default None.
        flush: passed to ``print``. Default False.
        ost: where the per-layer print goes. Default ``sys.stdout``.

    Returns:
        A :class:`ComplexityInfo`: the ``(flops, params)`` pair, plus ``.uncounted``, the
        modules that could not be counted (also named in a warning and the per-layer print).

    Raises:
        AssertionError: (:class:`~hydra_cnn.InvalidTypeError` /
            :class:`~hydra_cnn.InvalidArgumentError`) for an ``input_shape`` that is not a
            non-empty tuple, or a ``model`` that is not an ``nn.Module``, as mmcv asserts.
        TypeError: ``input_constructor`` returned something other than a mapping.

    Example:
        >>> get_model_complexity_info(nn.Linear(1024, 2), (1024,), False, False)
        (2048.0, 2050)
    """
    _check_args(model, input_shape)
    counter = _Counter(model)
    modes = [(m, m.training) for m in model.modules()]
    handles: list[Any] = []
    try:
        model.eval()
        handles.append(model.register_forward_pre_hook(counter.batch, with_kwargs=True))
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(counter.pre, with_kwargs=True))
            handles.append(m.register_forward_hook(counter.post, with_kwargs=True))
        _forward(model, counter, input_shape, input_constructor)
        for handle in handles:
            handle.remove()
        handles.clear()
        unique = {id(m): m for m in model.modules()}
        flops = sum(counter.own.get(m, 0) for m in unique.values()) / max(counter.batches, 1)
        params = _trainable(model)
        names = {m: n for n, m in model.named_modules()}
        uncounted = sorted(_label(names, m) for m in counter.uncounted())
        if print_per_layer_stat:
            _print_per_layer(model, counter, flops, params, ost, flush)
            if uncounted:
                print(f"Not counted (no FLOPs rule): {', '.join(uncounted)}", file=ost, flush=flush)
    finally:
        for handle in handles:
            handle.remove()
        for m, training in modes:
            m.training = training
    if uncounted:
        warnings.warn(
            f"get_model_complexity_info: {len(uncounted)} module(s) do arithmetic that has no "
            f"FLOPs rule and are counted as 0: {', '.join(uncounted)}. Count them with "
            "hydra_cnn.analysis.complexity.add_flops_rule(cls, rule).", stacklevel=2)
    if as_strings:
        return ComplexityInfo(flops_to_string(flops), params_to_string(params), tuple(uncounted))
    return ComplexityInfo(flops, params, tuple(uncounted))


def complexity_summary(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Params, FLOPs and their text for the summaries (model.txt, the init report, preflight).

    Returns:
        ``{'params': int, 'flops': float, 'input_shape': [...], 'uncounted': [...],
        'text': '11.17 M params, 0.56 GFLOPs at input (3, 32, 32)'}``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = get_model_complexity_info(model, tuple(input_shape), print_per_layer_stat=False,
                                         as_strings=False)
    flops, params = info
    text = (f"{params_to_string(params)} params, {flops_to_string(flops, None)} at input "
            f"{tuple(input_shape)}")
    if info.uncounted:
        text += f" (not counted: {', '.join(info.uncounted)})"
    return {"params": params, "flops": flops, "input_shape": list(input_shape),
            "uncounted": list(info.uncounted), "text": text}
