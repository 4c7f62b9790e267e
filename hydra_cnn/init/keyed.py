"""Keyed random init: values that depend on the tensor, not on the random stream.

With ``seed=`` (``initialize(..., seed=1234)``, ``init_weights(seed=...)``,
``build_model(..., seed=...)``), every random fill of a model's tensor during the run is drawn
from generators keyed by ``(seed, the tensor's qualified name, its shape, the distribution)``:

- the tensor, flattened in row-major order, is split into blocks of :data:`BLOCK` elements;
- block ``k`` is drawn from a CPU ``torch.Generator`` seeded with a BLAKE2b hash of
  ``(seed, name, shape, distribution, k)``; the distribution's parameters (mean and std, or
  the bounds, which for Kaiming and Xavier come from the *global* shape's fans) scale it.

So the values are the same whatever the global RNG state, whether the model was built
normally or on the meta device, and whether it is sharded (a DTensor rank draws only the
blocks covering its local shard, at its global offset). Draws happen on the CPU and are copied
to the tensor's device, so CUDA tensors get the same values as CPU ones.

With ``seed=None`` a sharded (DTensor) tensor is filled as one process would fill it: every
rank draws the whole tensor from the global RNG, in the same order, and keeps its shard.

Both work by watching the in-place random ops (``normal_``, ``uniform_``) that the init
functions and ``torch.nn.init`` reduce to, through a ``TorchDispatchMode`` active only while a
keyed or sharded init runs. A random op on a tensor the run does not know (a view, a tensor
created inside an ``init_weights``) is left to the global RNG.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["BLOCK", "KeyedFill", "check_seed", "is_dtensor", "keyed_fill_", "local_region"]

BLOCK = 1 << 16
"""Elements per keyed block (a fixed size: block boundaries depend only on the tensor)."""

_aten = torch.ops.aten
_RANDOM_INPLACE = {
    _aten.normal_.default: "normal",
    _aten.uniform_.default: "uniform",
}
_OTHER_RANDOM = {
    getattr(getattr(_aten, op), name)
    for op, names in (("random_", ("default", "from", "to")), ("bernoulli_", ("Tensor", "float")),
                      ("exponential_", ("default",)), ("geometric_", ("default",)),
                      ("log_normal_", ("default",)), ("cauchy_", ("default",)))
    for name in names
}


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int (or None); TypeError/ValueError naming the value otherwise."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or None, but got {type(seed).__name__}: {seed!r}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, but got {seed!r}")
    return seed


def is_dtensor(t: Any) -> bool:
    """Whether ``t`` is a ``torch.distributed.tensor.DTensor`` (without importing it)."""
    return type(t).__name__ == "DTensor" or (
        isinstance(t, torch.Tensor) and hasattr(t, "_local_tensor") and hasattr(t, "placements")
    )


def _block_seed(seed: int, name: str, shape: tuple[int, ...], kind: str, block: int) -> int:
    key = f"{seed}\0{name}\0{','.join(map(str, shape))}\0{kind}\0{block}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


def _draw(gen: torch.Generator, out: torch.Tensor, kind: str, a: float, b: float) -> None:
    if kind == "normal":
        out.normal_(a, b, generator=gen)
    else:
        out.uniform_(a, b, generator=gen)


def local_region(t: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...], tuple[int, ...]]:
    """``(local tensor, global shape, global offset of the local tensor)`` of a tensor or a
    DTensor (a plain tensor is its own region at offset 0)."""
    if not is_dtensor(t):
        return t, tuple(t.shape), (0,) * t.dim()
    local: torch.Tensor = t._local_tensor  # type: ignore[attr-defined]
    shape = tuple(t.shape)
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    lshape, offset = compute_local_shape_and_global_offset(
        t.shape, t.device_mesh, t.placements  # type: ignore[attr-defined]
    )
    if tuple(lshape) != tuple(local.shape):
        raise RuntimeError(
            f"cannot place the local shard {tuple(local.shape)} of a DTensor {shape} with "
            f"placements {t.placements} (expected {tuple(lshape)})"  # type: ignore[attr-defined]
        )
    return local, shape, tuple(int(o) for o in offset)


def _flat_range(shape: tuple[int, ...], lshape: tuple[int, ...],
                offset: tuple[int, ...]) -> tuple[int, int] | None:
    """``(start, stop)`` in the flattened global tensor when the local region is one
    contiguous run of it, else None."""
    dims = len(shape)
    first = next((d for d in range(dims) if lshape[d] != shape[d]), dims)
    if any(lshape[d] != shape[d] for d in range(first + 1, dims)):
        return None
    if first == dims:
        return 0, math.prod(shape)
    start = offset[first] * math.prod(shape[first + 1:])
    return start, start + math.prod(lshape)


def _fill_range(gen: torch.Generator, flat: torch.Tensor, start: int, stop: int, numel: int,
                seed: int, name: str, shape: tuple[int, ...], kind: str, a: float,
                b: float) -> None:
    """Fill ``flat`` (a contiguous float tensor of ``stop - start`` elements) with the global
    elements ``start:stop`` of the keyed tensor."""
    in_place = flat.dtype == torch.float32 and flat.device.type == "cpu"
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1 if stop > start else 0):
        lo, hi = block * BLOCK, min((block + 1) * BLOCK, numel)
        gen.manual_seed(_block_seed(seed, name, shape, kind, block))
        s, e = max(lo, start), min(hi, stop)
        if in_place and s == lo and e == hi:
            _draw(gen, flat[s - start:e - start], kind, a, b)
            continue
        buf = torch.empty(hi - lo, dtype=torch.float32)
        _draw(gen, buf, kind, a, b)
        flat[s - start:e - start].copy_(buf[s - lo:e - lo])


def keyed_fill_(t: torch.Tensor, seed: int, name: str, kind: str, a: float, b: float) -> None:
    """Fill ``t`` (a tensor or a DTensor) in place with keyed draws: ``kind`` is ``'normal'``
    (mean ``a``, std ``b``) or ``'uniform'`` (``[a, b)``)."""
    local, shape, offset = local_region(t)
    numel = math.prod(shape)
    if local.numel() == 0:
        return
    gen = torch.Generator(device="cpu")
    span = _flat_range(shape, tuple(local.shape), offset)
    if span is not None:
        direct = local.is_contiguous() and local.dtype == torch.float32 and local.device.type == "cpu"
        flat = local.view(-1) if direct else torch.empty(local.numel(), dtype=torch.float32)
        _fill_range(gen, flat, span[0], span[1], numel, seed, name, shape, kind, a, b)
        if not direct:
            local.copy_(flat.view(local.shape))
        return
    # a region that is not one run of the flat tensor (sharded on an inner dim): gather
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    index = torch.zeros(local.shape, dtype=torch.int64)
    for d, (n, o) in enumerate(zip(local.shape, offset, strict=True)):
        view = [1] * len(shape)
        view[d] = n
        index += (torch.arange(o, o + n) * strides[d]).view(view)
    flat_index = index.view(-1)
    blocks = torch.unique(flat_index // BLOCK).tolist()
    values = torch.empty(local.numel(), dtype=torch.float32)
    for block in blocks:
        lo, hi = block * BLOCK, min((block + 1) * BLOCK, numel)
        buf = torch.empty(hi - lo, dtype=torch.float32)
        _fill_range(gen, buf, lo, hi, numel, seed, name, shape, kind, a, b)
        sel = (flat_index >= lo) & (flat_index < hi)
        values[sel] = buf[flat_index[sel] - lo]
    local.copy_(values.view(local.shape))


def _full_then_shard_(t: torch.Tensor, fill: Callable[[torch.Tensor], Any]) -> None:
    """Fill a DTensor as one process fills the whole tensor: draw it in full, keep the shard."""
    local, shape, offset = local_region(t)
    full = torch.empty(shape, dtype=local.dtype, device=local.device)
    fill(full)
    index = tuple(slice(o, o + n) for o, n in zip(offset, local.shape, strict=True))
    local.copy_(full[index])
    del full


class KeyedFill(TorchDispatchMode):
    """While active, in-place random fills of known tensors are keyed (``seed`` set) or, for
    DTensors with ``seed=None``, drawn in full as one process would.

    Args:
        run: the running init (an ``InitTracker``): its ``seed`` (read at each fill, so a
            nested call with its own seed applies) and ``name_of(tensor)``, the qualified name
            of a tensor the run knows (None for others).
    """

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run
        self.name_of: Callable[[torch.Tensor], str | None] = run.name_of
        self.unkeyed: list[str] = []

    @property
    def seed(self) -> int | None:
        """The seed in force now."""
        seed: int | None = self.run.seed
        return seed

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        kind = _RANDOM_INPLACE.get(func)
        if kind is None:
            if func in _OTHER_RANDOM and self.seed is not None and args and \
                    isinstance(args[0], torch.Tensor):
                name = self.name_of(args[0])
                if name is not None:
                    self.unkeyed.append(f"{name} ({func.__name__})")
            return func(*args, **kwargs)
        t = args[0]
        if t.is_meta or kwargs.get("generator") is not None:
            return func(*args, **kwargs)
        a = float(args[1]) if len(args) > 1 else float(kwargs.get("mean", kwargs.get("from", 0)))
        b = float(args[2]) if len(args) > 2 else float(kwargs.get("std", kwargs.get("to", 1)))
        seed = self.seed
        if seed is not None:
            name = self.name_of(t)
            if name is not None:
                with torch.no_grad():
                    keyed_fill_(t, seed, name, kind, a, b)
                return t
        if is_dtensor(t):
            with torch.no_grad():
                _full_then_shard_(t, lambda full: _draw_default(full, kind, a, b))
            return t
        return func(*args, **kwargs)


def _draw_default(full: torch.Tensor, kind: str, a: float, b: float) -> None:
    if kind == "normal":
        full.normal_(a, b)
    else:
        full.uniform_(a, b)
