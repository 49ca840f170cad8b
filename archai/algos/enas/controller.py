"""ENAS' controller: an LSTM policy that samples architectures of a space decision by decision.

The space lists its decisions (:meth:`SearchSpace.decisions`: per cell kind and node, inputs
and ops; NAS-Bench-201: one op per edge). The controller runs one LSTM step per decision, as the
published micro controller does: an input is picked by attention over the anchors (the LSTM's
states at the cell's inputs and at each finished node), an op by a linear layer over the op
embedding; the chosen input's anchor or op's embedding is the next step's input. Logits are
``tanh_constant * tanh(logits / temperature)``; op logits use ``tanh_constant / op_tanh_reduce``.
An input marked ``distinct`` is never one its node already chose (a DARTS cell reads two
different states; the published controller could pick one twice). Trained with REINFORCE on a
reward, with an entropy bonus and an exponential-moving-average baseline (Pham et al., 2018).

The op logits carry the published prior: a learned bias added before the squashing, initialised
from ``op_prior`` (``{op: value}``; published: 10 for both separable convolutions, 0 for the
others, whose tanh saturates, so the separable convolutions stay favoured), and, for normal
cells only, a fixed bias ``normal_op_bias`` added after it. With the published values the first
normal cell picks each separable convolution with probability 0.315 and every other op with
0.123; reduction cells 0.254 and 0.164. Ops a prior does not name start at 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from archai.space.spaces import Decision


@dataclass
class Sample:
    """One architecture: a value per decision (``space.from_decisions(sample.values)``)."""

    values: list[Any]
    log_prob: torch.Tensor
    entropy: torch.Tensor


class Controller(nn.Module):
    def __init__(
        self,
        decisions: Sequence[Decision],
        hidden: int = 64,
        tanh_constant: float | None = 1.10,
        op_tanh_reduce: float = 2.5,
        temperature: float | None = None,
        op_prior: Mapping[str, float] | None = None,
        normal_op_bias: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.decisions = list(decisions)
        self.ops = list(dict.fromkeys(o for d in self.decisions if d.what == "op" for o in d.options))
        self.hidden = hidden
        self.tanh_constant, self.op_tanh_reduce, self.temperature = tanh_constant, op_tanh_reduce, temperature
        # per cell kind, how many anchors its inputs give (input decisions of node i see 2 + i)
        self.n_inputs = {d.group: len(d.options) - d.node for d in self.decisions if d.what == "input"}
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
        self.op_bias = nn.Parameter(torch.tensor([float((op_prior or {}).get(o, 0.0)) for o in self.ops]))
        fixed = [float((normal_op_bias or {}).get(o, 0.0)) for o in self.ops]
        self.register_buffer("normal_op_bias", torch.tensor(fixed))

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
        values: list[Any] = []
        log_probs, entropies = [], []
        group = node = None
        anchors: list[torch.Tensor] = []
        anchors_w: list[torch.Tensor] = []
        chosen: list[int] = []  # the inputs the current node chose
        x = self.g_emb

        def add_anchor() -> None:
            nonlocal h, c
            h, c = self.lstm(x, (h, c))
            anchors.append(h)
            anchors_w.append(self.attn_anchor(h))

        for d in self.decisions:
            if d.group != group:  # a new cell kind: anchors of its inputs first
                if group is not None:
                    add_anchor()
                group, node, anchors, anchors_w, x = d.group, d.node, [], [], self.g_emb
                for _ in range(self.n_inputs.get(group, 0)):
                    add_anchor()
                chosen = []
            elif d.node != node:  # the previous node is finished: its anchor
                add_anchor()
                node, x, chosen = d.node, self.g_emb, []
            h, c = self.lstm(x, (h, c))
            if d.what == "input":
                query = torch.tanh(torch.cat(anchors_w[: len(d.options)], 0) + self.attn_query(h))
                logits = self._squash(self.attn_v(query).view(-1))
                if d.distinct and chosen:
                    logits = logits.index_fill(0, torch.tensor(chosen, device=logits.device), float("-inf"))
                j, lp, ent = self._pick(logits, greedy)
                chosen.append(j)
                x = anchors[j]
                values.append(d.options[j])
            else:
                idx = torch.tensor([self.ops.index(o) for o in d.options], device=h.device)
                logits = self._squash(self.w_soft(h).view(-1)[idx] + self.op_bias[idx], self.op_tanh_reduce)
                if d.group == "normal":
                    logits = logits + self.normal_op_bias[idx]
                o, lp, ent = self._pick(logits, greedy)
                x = self.op_emb.weight[idx[o] : idx[o] + 1]
                values.append(d.options[o])
            log_probs.append(lp)
            entropies.append(ent)
        return Sample(values, torch.stack(log_probs).sum(), torch.stack(entropies).sum())


class Reinforce:
    """REINFORCE with an entropy bonus and an exponential-moving-average baseline.

    ``update(rewards_fn)`` draws ``samples_per_update`` architectures, scores them with
    ``rewards_fn(values) -> float`` (a :class:`Sample`'s values), and takes one Adam step on the averaged policy-gradient loss.
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
            reward = float(reward_fn(s.values)) + self.entropy_weight * float(s.entropy.detach())
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
