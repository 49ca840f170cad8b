"""ENAS' controller: an LSTM policy that samples cell architectures autoregressively.

For each cell kind (normal, then reduction) and each node, it samples two (input, op) pairs:
an input by attention over the states so far (the two cell inputs and earlier nodes), then an
op. Logits are ``tanh_constant * tanh(logits / temperature)``; op logits use
``tanh_constant / op_tanh_reduce``. Trained with REINFORCE on a reward, with an entropy bonus
and an exponential-moving-average baseline (Pham et al., 2018).

The op logits carry the published prior: a learned bias added before the squashing, initialised
to ``op_prior`` (10 for both separable convolutions, 0 for the others: their tanh saturates, so
the separable convolutions stay favoured), and, for normal cells only, a fixed bias
``normal_op_bias`` added after it. With the published values the first normal cell picks each
separable convolution with probability 0.315 and every other op with 0.123; reduction cells
0.254 and 0.164.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from archai.algos.enas.child import CellArch

KINDS = ("normal", "reduction")


@dataclass
class Sample:
    arch: dict[str, CellArch]
    log_prob: torch.Tensor
    entropy: torch.Tensor


class Controller(nn.Module):
    def __init__(
        self,
        ops: Sequence[str],
        n_nodes: int,
        hidden: int = 64,
        tanh_constant: float | None = 1.10,
        op_tanh_reduce: float = 2.5,
        temperature: float | None = None,
        op_prior: Sequence[float] | None = None,
        normal_op_bias: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        for name, values in (("op_prior", op_prior), ("normal_op_bias", normal_op_bias)):
            if values is not None and len(values) != len(ops):
                raise ValueError(
                    f"controller.{name} has {len(values)} values for {len(ops)} primitives {list(ops)}; "
                    "give one value per primitive, in the same order"
                )
        self.ops, self.n_nodes, self.hidden = list(ops), n_nodes, hidden
        self.tanh_constant, self.op_tanh_reduce, self.temperature = tanh_constant, op_tanh_reduce, temperature
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.g_emb = nn.Parameter(torch.empty(1, hidden).uniform_(-0.1, 0.1))
        self.op_emb = nn.Embedding(len(self.ops), hidden)
        self.w_soft = nn.Linear(hidden, len(self.ops), bias=False)
        self.attn_anchor = nn.Linear(hidden, hidden, bias=False)
        self.attn_query = nn.Linear(hidden, hidden, bias=False)
        self.attn_v = nn.Linear(hidden, 1, bias=False)
        for p in self.parameters():
            if p is not self.g_emb:
                nn.init.uniform_(p, -0.1, 0.1)
        zeros = [0.0] * len(self.ops)
        self.op_bias = nn.Parameter(torch.tensor([float(v) for v in (op_prior or zeros)]))
        self.register_buffer("normal_op_bias", torch.tensor([float(v) for v in (normal_op_bias or zeros)]))

    def _squash(self, logits: torch.Tensor, reduce: float = 1.0) -> torch.Tensor:
        if self.temperature:
            logits = logits / self.temperature
        if self.tanh_constant:
            logits = self.tanh_constant / reduce * torch.tanh(logits)
        return logits

    def _pick(self, logits: torch.Tensor, greedy: bool) -> tuple[int, torch.Tensor, torch.Tensor]:
        dist = torch.distributions.Categorical(logits=logits)
        idx = logits.argmax() if greedy else dist.sample()
        return int(idx), dist.log_prob(idx), dist.entropy()

    def forward(self, greedy: bool = False) -> Sample:
        """Samples one architecture (``greedy``: the most likely one)."""
        h = c = torch.zeros(1, self.hidden, device=self.g_emb.device)
        arch: dict[str, CellArch] = {}
        log_probs, entropies = [], []
        for kind in KINDS:
            anchors, anchors_w = [], []
            x = self.g_emb
            for _ in range(2):  # the two cell inputs
                h, c = self.lstm(x, (h, c))
                anchors.append(h)
                anchors_w.append(self.attn_anchor(h))
            nodes: CellArch = []
            for _ in range(self.n_nodes):
                picks = []
                for _slot in range(2):
                    h, c = self.lstm(x, (h, c))
                    query = torch.tanh(torch.cat(anchors_w, 0) + self.attn_query(h))
                    logits = self._squash(self.attn_v(query).view(-1))
                    j, lp, ent = self._pick(logits, greedy)
                    log_probs.append(lp)
                    entropies.append(ent)
                    x = anchors[j]
                    h, c = self.lstm(x, (h, c))
                    logits = self._squash(self.w_soft(h).view(-1) + self.op_bias, self.op_tanh_reduce)
                    if kind == "normal":
                        logits = logits + self.normal_op_bias
                    o, lp, ent = self._pick(logits, greedy)
                    log_probs.append(lp)
                    entropies.append(ent)
                    x = self.op_emb.weight[o : o + 1]
                    picks += [j, self.ops[o]]
                nodes.append(tuple(picks))
                h, c = self.lstm(x, (h, c))
                anchors.append(h)
                anchors_w.append(self.attn_anchor(h))
                x = self.g_emb
            arch[kind] = nodes
        return Sample(arch, torch.stack(log_probs).sum(), torch.stack(entropies).sum())


class Reinforce:
    """REINFORCE with an entropy bonus and an exponential-moving-average baseline.

    ``update(rewards_fn)`` draws ``samples_per_update`` architectures, scores them with
    ``rewards_fn(arch) -> float``, and takes one Adam step on the averaged policy-gradient loss.
    """

    def __init__(
        self,
        controller: Controller,
        *,
        lr: float = 0.0035,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        samples_per_update: int = 10,
    ) -> None:
        self.controller = controller
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=lr, betas=(0.0, 0.999), eps=1e-3)
        self.entropy_weight, self.decay, self.n = entropy_weight, baseline_decay, samples_per_update
        self.baseline: float | None = None

    def update(self, reward_fn) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        rewards, entropies, losses = [], [], []
        for _ in range(self.n):
            s = self.controller()
            reward = float(reward_fn(s.arch)) + self.entropy_weight * float(s.entropy.detach())
            self.baseline = (
                reward
                if self.baseline is None
                else self.baseline - (1 - self.decay) * (self.baseline - reward)
            )
            losses.append(-s.log_prob * (reward - self.baseline))
            rewards.append(reward)
            entropies.append(float(s.entropy.detach()))
        (torch.stack(losses).mean()).backward()
        self.optimizer.step()
        return {
            "reward": sum(rewards) / len(rewards),
            "baseline": float(self.baseline),
            "entropy": sum(entropies) / len(entropies),
        }

    def state_dict(self) -> dict:
        return {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
        }

    def load_state_dict(self, state: dict) -> None:
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = state["baseline"]
