"""The init functions: mmcv's defaults, skipping missing tensors, bad arguments, and the
distributions they draw from (hand-written Kolmogorov-Smirnov statistics on 10^6 samples)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import nn

from hydra_cnn.init import (
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

# KS critical value at alpha=0.001 is 1.95/sqrt(n) ~ 0.002 for n=10^6; a fixed seed keeps it exact
KS_TOL = 0.003


def _phi(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def normal_cdf(mean: float, std: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: _phi((x - mean) / std)


def uniform_cdf(a: float, b: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: ((x - a) / (b - a)).clamp(0, 1)


def trunc_normal_cdf(mean: float, std: float, a: float, b: float
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
    lo, hi = _phi(torch.tensor((a - mean) / std)), _phi(torch.tensor((b - mean) / std))
    return lambda x: ((_phi((x - mean) / std) - lo) / (hi - lo)).clamp(0, 1)


def ks_statistic(sample: torch.Tensor, cdf: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """sup |F_n(x) - F(x)| over the sample points (both one-sided gaps)."""
    x = sample.detach().flatten().double().sort().values
    n = x.numel()
    f = cdf(x)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(torch.maximum(i / n - f, f - (i - 1) / n).max())


@pytest.fixture
def big_linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(800, 1250)  # weight (1250, 800): fan_in 800, fan_out 1250, 10^6 values


# -- exact values, defaults and skips -----------------------------------------------------------
def test_constant_init() -> None:
    conv = nn.Conv2d(3, 3, 1)
    constant_init(conv, 1, 0)
    assert torch.equal(conv.weight, torch.ones_like(conv.weight))
    assert torch.equal(conv.bias, torch.zeros(3))
    constant_init(conv, 0.5, bias=2)
    assert conv.weight.unique().tolist() == [0.5] and conv.bias.unique().tolist() == [2.0]


def test_bias_init_with_prob() -> None:
    assert bias_init_with_prob(0.01) == -4.59511985013459
    assert bias_init_with_prob(0.5) == 0.0
    with pytest.raises(ValueError, match=r"prior_prob must be in \(0, 1\)"):
        bias_init_with_prob(1.0)


@pytest.mark.parametrize("fn", [
    lambda m: constant_init(m, 1), xavier_init, normal_init, trunc_normal_init, uniform_init,
    kaiming_init, caffe2_xavier_init,
])
def test_missing_weight_or_bias_is_skipped(fn: Callable[[nn.Module], None]) -> None:
    no_bias = nn.Conv2d(3, 4, 3, bias=False)
    fn(no_bias)  # bias None
    assert no_bias.bias is None
    no_affine = nn.BatchNorm2d(4, affine=False)
    fn(no_affine)  # weight and bias None
    fn(nn.ReLU())  # no attributes at all
    bias_only = nn.Module()
    bias_only.bias = nn.Parameter(torch.ones(3))
    fn(bias_only)
    assert torch.equal(bias_only.bias, torch.zeros(3))  # default bias=0 written


@pytest.mark.parametrize("call", [
    lambda m: normal_init(m, std=0.01, bias=3),
    lambda m: uniform_init(m, a=0, b=1, bias=3),
    lambda m: xavier_init(m, distribution="uniform", bias=3),
    lambda m: kaiming_init(m, bias=3),
    lambda m: caffe2_xavier_init(m, bias=3),
    lambda m: trunc_normal_init(m, std=0.02, bias=3),
])
def test_bias_value(call: Callable[[nn.Module], None]) -> None:
    conv = nn.Conv2d(3, 3, 1)
    call(conv)
    assert conv.bias.unique().tolist() == [3.0]


@pytest.mark.parametrize(("call", "accepted"), [
    (lambda m: xavier_init(m, distribution="student-t"), "'uniform', 'normal'"),
    (lambda m: kaiming_init(m, distribution="student-t"), "'uniform', 'normal'"),
    (lambda m: kaiming_init(m, mode="fan_avg"), "'fan_in', 'fan_out'"),
])
def test_bad_choices_name_accepted_values(call: Callable[[nn.Module], None],
                                          accepted: str) -> None:
    conv = nn.Conv2d(3, 3, 1)
    before = conv.weight.detach().clone()
    with pytest.raises(ValueError, match=f"must be one of {accepted}, but got"):
        call(conv)
    # mmcv asserts the distribution: code written against it catches AssertionError
    with pytest.raises(AssertionError, match=f"must be one of {accepted}, but got"):
        call(conv)
    assert torch.equal(conv.weight.detach(), before)


def test_trunc_normal_bounds_and_warning() -> None:
    torch.manual_seed(0)
    t = trunc_normal_(torch.empty(10_000), mean=0.0, std=1.0, a=-0.5, b=0.25)
    assert float(t.min()) >= -0.5 and float(t.max()) <= 0.25
    with pytest.warns(UserWarning, match="more than 2 std"):
        trunc_normal_(torch.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)
    with pytest.raises(ValueError, match="a < b"):
        trunc_normal_(torch.empty(3), a=1.0, b=0.0)


# -- distributions ------------------------------------------------------------------------------
def test_normal_distribution(big_linear: nn.Linear) -> None:
    normal_init(big_linear, mean=0.5, std=2.0)
    assert ks_statistic(big_linear.weight, normal_cdf(0.5, 2.0)) < KS_TOL


def test_uniform_distribution(big_linear: nn.Linear) -> None:
    uniform_init(big_linear, a=-1.0, b=3.0)
    assert ks_statistic(big_linear.weight, uniform_cdf(-1.0, 3.0)) < KS_TOL
    w = big_linear.weight.detach()
    assert float(w.min()) >= -1.0 and float(w.max()) < 3.0


def test_default_uniform_is_zero_one(big_linear: nn.Linear) -> None:
    uniform_init(big_linear)
    assert ks_statistic(big_linear.weight, uniform_cdf(0.0, 1.0)) < KS_TOL


def test_trunc_normal_distribution(big_linear: nn.Linear) -> None:
    trunc_normal_init(big_linear, mean=0.2, std=1.5, a=-1.0, b=2.5)
    w = big_linear.weight.detach()
    assert float(w.min()) >= -1.0 and float(w.max()) <= 2.5
    assert ks_statistic(w, trunc_normal_cdf(0.2, 1.5, -1.0, 2.5)) < KS_TOL


def test_trunc_normal_defaults(big_linear: nn.Linear) -> None:
    trunc_normal_init(big_linear)  # mean 0, std 1 cut at +-2
    assert ks_statistic(big_linear.weight, trunc_normal_cdf(0.0, 1.0, -2.0, 2.0)) < KS_TOL


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_normal(big_linear: nn.Linear, gain: float) -> None:
    xavier_init(big_linear, gain=gain)  # default distribution: normal
    std = gain * math.sqrt(2.0 / (800 + 1250))
    assert ks_statistic(big_linear.weight, normal_cdf(0.0, std)) < KS_TOL


def test_xavier_uniform(big_linear: nn.Linear) -> None:
    xavier_init(big_linear, gain=1.5, distribution="uniform")
    bound = 1.5 * math.sqrt(6.0 / (800 + 1250))
    assert ks_statistic(big_linear.weight, uniform_cdf(-bound, bound)) < KS_TOL


@pytest.mark.parametrize(("mode", "fan"), [("fan_out", 1250), ("fan_in", 800)])
def test_kaiming_normal_modes(big_linear: nn.Linear, mode: str, fan: int) -> None:
    kaiming_init(big_linear, mode=mode)
    std = math.sqrt(2.0) / math.sqrt(fan)  # relu gain
    assert ks_statistic(big_linear.weight, normal_cdf(0.0, std)) < KS_TOL


@pytest.mark.parametrize(("mode", "fan"), [("fan_out", 1250), ("fan_in", 800)])
def test_kaiming_uniform_modes(big_linear: nn.Linear, mode: str, fan: int) -> None:
    kaiming_init(big_linear, mode=mode, distribution="uniform")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)
    assert ks_statistic(big_linear.weight, uniform_cdf(-bound, bound)) < KS_TOL


def test_kaiming_default_is_fan_out_relu_normal_on_conv() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 192, 9)  # fan_in 64*81, fan_out 192*81; ~10^6 values
    kaiming_init(conv)
    std = math.sqrt(2.0 / (192 * 81))
    assert ks_statistic(conv.weight, normal_cdf(0.0, std)) < KS_TOL
    assert conv.bias.unique().tolist() == [0.0]


def test_kaiming_leaky_relu(big_linear: nn.Linear) -> None:
    kaiming_init(big_linear, a=0.2, nonlinearity="leaky_relu")
    std = math.sqrt(2.0 / (1 + 0.2**2)) / math.sqrt(1250)
    assert ks_statistic(big_linear.weight, normal_cdf(0.0, std)) < KS_TOL


def test_caffe2_xavier(big_linear: nn.Linear) -> None:
    caffe2_xavier_init(big_linear)  # kaiming uniform a=1, fan_in, leaky_relu: gain 1
    bound = math.sqrt(3.0 / 800)
    assert ks_statistic(big_linear.weight, uniform_cdf(-bound, bound)) < KS_TOL
    assert big_linear.bias.unique().tolist() == [0.0]


def test_ks_statistic_detects_a_wrong_distribution(big_linear: nn.Linear) -> None:
    """The KS check has power: fan_in vs fan_out scales are told apart."""
    kaiming_init(big_linear, mode="fan_in")
    assert ks_statistic(big_linear.weight, normal_cdf(0.0, math.sqrt(2.0 / 1250))) > 0.05
