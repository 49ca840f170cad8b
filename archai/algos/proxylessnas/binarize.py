"""ProxylessNAS' binarized paths: sampling, the two-path gradient of the architecture weights,
and the rescaling that keeps the unsampled paths' probabilities (Cai et al., 2019, Section 3.2;
the "two" mode of the published code).

Each mixed edge has weights ``alpha`` (a row of the supernet's alphas of its group) and path
probabilities ``p = softmax(alpha)``. A weight step runs one path drawn from ``p``. An
architecture step draws two distinct candidates from ``p``, makes one of them active by a draw
from the softmax of their two weights, and runs the edge as ``g_a * op_a(x) + g_b * op_b(x)``
with binary gates ``g_a = 1, g_b = 0``. With ``q = softmax(alpha[a], alpha[b])`` and the gates'
gradients ``dL/dg``, each of the two weights gets
``dL/dalpha_i = sum_j dL/dg_j * q_j * (delta_ij - q_i)``; after the optimizer's step both are
shifted by the same offset, ``log(sum exp(new) / sum exp(old))``, so their total probability,
and every other candidate's, stays what it was.

Example:
    >>> alpha = torch.tensor([0.1, 0.2, -0.3, 0.0])
    >>> before = torch.softmax(alpha, 0)
    >>> old = alpha[[0, 2]].clone()
    >>> alpha[[0, 2]] += torch.tensor([0.5, -0.2])  # an optimizer's step on the pair
    >>> rescale_pair(alpha, (0, 2), old)
    >>> after = torch.softmax(alpha, 0)
    >>> torch.allclose(after[[1, 3]], before[[1, 3]]), bool(after[0] > before[0])
    (True, True)
"""

from __future__ import annotations

import random

import torch


def sample_one(alpha: torch.Tensor, rng: random.Random) -> int:
    """One candidate drawn from ``softmax(alpha)`` (a weight step's path)."""
    probs = torch.softmax(alpha.detach().double().cpu(), 0).tolist()
    return rng.choices(range(len(probs)), weights=probs)[0]


def sample_pair(alpha: torch.Tensor, generator: torch.Generator) -> tuple[int, ...]:
    """``(active, inactive)``: two distinct candidates drawn from ``softmax(alpha)``, then the
    active one drawn from the softmax of their two weights (``(0,)`` for one candidate)."""
    a = alpha.detach().float().cpu()
    if len(a) < 2:
        return (0,)
    pair = torch.multinomial(torch.softmax(a, 0), 2, replacement=False, generator=generator).tolist()
    c = int(torch.multinomial(torch.softmax(a[pair], 0), 1, generator=generator))
    return pair[c], pair[1 - c]


def pair_probs(alpha: torch.Tensor, pair: tuple[int, ...]) -> torch.Tensor:
    """A vector over the candidates: the softmax of the pair's two weights at their places,
    zeros elsewhere; differentiable in ``alpha`` (the published "two" mode weighs the
    expected latency by it)."""
    idx = torch.tensor(pair, device=alpha.device)
    return torch.zeros_like(alpha).index_put((idx,), torch.softmax(alpha[idx], 0))


def two_path_grad(alpha: torch.Tensor, pair: tuple[int, ...], gate_grad: torch.Tensor) -> torch.Tensor:
    """The gradient of ``alpha`` from the gates' gradient: for the pair's two weights
    ``sum_j gate_grad[j] * q_j * (delta_ij - q_i)`` with ``q`` their softmax; zero elsewhere."""
    idx = list(pair)
    q = torch.softmax(alpha.detach()[idx], 0)
    g = gate_grad.detach()[idx]
    out = torch.zeros_like(alpha)
    out[idx] = q * g - q * (q * g).sum()  # sum_j g_j q_j (delta_ij - q_i)
    return out


@torch.no_grad()
def rescale_pair(alpha: torch.Tensor, pair: tuple[int, ...], old: torch.Tensor) -> None:
    """Shifts the pair's updated weights in place by ``log(sum exp(new) / sum exp(old))``
    (``old``: the pair's weights before the step), so that the pair's total probability, and
    so every other candidate's, is unchanged."""
    idx = list(pair)
    offset = torch.logsumexp(alpha[idx], 0) - torch.logsumexp(old.to(alpha), 0)
    alpha[idx] -= offset
