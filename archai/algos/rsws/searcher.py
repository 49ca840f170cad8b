"""Random search with weight sharing (Li & Talwalkar, UAI 2019), with single-path uniform
sampling as in SPOS (Guo et al., 2019), as a registered searcher.

1. The space's supernet is trained with the one trainer; before every weight step one
   architecture is drawn uniformly from the space (``space.sample``) and only its path runs
   and learns (:class:`~archai.algos.shared_weights.PathSampler`).
2. Ranking, in rounds of ``round_size`` distinct architectures (``n_samples`` in all): each is
   scored with the shared weights on the same ``eval_batches`` held-out batches, and each
   round's ``rescore_top`` best are scored again on the whole held-out split. Every score is
   kept in ``search/rsws_scores.json`` as its round ends, so a resumed run ranks no round twice.
3. The ``train_top`` best re-scored architectures are trained from scratch for
   ``candidate_epochs`` with the search protocol (through the executor); the best of them by
   validation accuracy is handed on. With ``train_top: 0`` the best re-scored one is handed on
   (the published protocol).

On a benchmark table of the space (``--benchmark``), the Kendall tau and Spearman rho between
the shared-weight scores and the table's test accuracy of every ranked architecture are
reported (``search/rsws_ranking.csv``, the candidates' metrics and the log).
"""

from __future__ import annotations

import csv
import json
import math
import random
from typing import Any

from archai.algos.shared_weights import PathSampler, path_accuracy
from archai.common.checks import Range
from archai.common.jsonio import write_json
from archai.common.seeding import derive_seed, seed_everything
from archai.search.conf_rules import COUNT
from archai.search.searcher import Candidate, Searcher, SearchResult, register_searcher
from archai.search.stats import rank_correlation
from archai.search.tabular import TabularExecutor
from archai.search.trainer import Trainer
from archai.space.cost import measure_cost
from archai.space.model_desc import ModelDesc
from archai.space.supernet import Supernet


@register_searcher("rsws")
class RswsSearcher(Searcher):
    """Random search with weight sharing on the one-shot view of the run's space (module docstring)."""

    space_needs = ("one_shot", "sample")
    value_checks = {
        "n_samples": Range(1, integer=True),
        "round_size": Range(1, integer=True),
        "eval_batches": Range(1, integer=True),
        "rescore_top": Range(1, integer=True),
        "train_top": Range(0, integer=True),
        "candidate_epochs": COUNT,
    }
    defaults_file = "algos/rsws.yaml"
    toy_file = "algos/rsws_toy.yaml"

    def search(self) -> SearchResult:
        ctx, conf = self.ctx, self.conf
        loaders, _ = ctx.held_out_loaders("ranks architectures")
        seed_everything(ctx.seed)
        space = ctx.space
        sdesc = space.supernet_desc()
        net = Supernet(sdesc)
        trainer = Trainer(
            net,
            ctx.conf.search.trainer,
            device=ctx.device,
            hooks=[
                PathSampler(net, lambda rng: space.path(sdesc, space.sample(rng)), ctx.seed, "rsws/uniform")
            ],
            checkpoint_path=ctx.run_dir / "search" / "supernet.pt",
            seed=ctx.seed,
            logger=self.log,
            scope="supernet",
        )
        trainer.fit(loaders.train)
        scores = self._rank(net, sdesc, trainer, loaders.val)
        rescored = sorted((s for s in scores if "full_top1" in s), key=lambda s: -s["full_top1"])
        correlation = self._table_correlation(scores)
        descs = {s["digest"]: ModelDesc.from_data(s["desc"]) for s in rescored}
        extra = {f"table_{k}": v for k, v in correlation.items()} if correlation else {}
        n_train = int(conf.train_top)
        if n_train == 0:
            cands = []
            for i, s in enumerate(rescored):
                desc = descs[s["digest"]]
                desc.meta.update(searcher="rsws", architecture=s["label"])
                cost = measure_cost(desc)
                metrics = {
                    "val_top1": s["full_top1"],
                    "shared_val_top1": s["full_top1"],
                    "params": cost.params,
                    "macs": cost.macs,
                    **extra,
                }
                cands.append(Candidate(f"shared_{i:03d}", desc, metrics))
                self.log_candidate(cands[-1])
            return SearchResult(cands, final=[cands[0].id])
        items = []
        for i, s in enumerate(rescored[:n_train]):
            desc = descs[s["digest"]]
            desc.meta.update(searcher="rsws", architecture=s["label"], shared_val_top1=s["full_top1"])
            trainer_conf = {**ctx.conf.search.trainer.to_dict(), "epochs": int(conf.candidate_epochs)}
            job = ctx.train_job(f"best_{i:03d}", desc, trainer=trainer_conf)
            items.append((f"best_{i:03d}", desc, job))
        cands = self.ctx.train_candidates(items)
        for cand, s in zip(cands, rescored):
            cand.metrics.update(shared_val_top1=s["full_top1"], **extra)
        ok = [c for c in cands if not c.metrics.get("failed")]
        best = max(ok or cands, key=lambda c: c.metrics.get("val_top1") or -math.inf)
        self.log.info(f"found {space.label(best.desc)} ({best.id})")
        return SearchResult(cands, final=[best.id, *(c.id for c in cands if c.id != best.id)])

    # ------------------------------------------------------------------ ranking

    def _rank(self, net: Supernet, sdesc: ModelDesc, trainer: Trainer, val_loader) -> list[dict[str, Any]]:
        """Every ranked architecture: digest, label, description, its score on the rounds'
        batches (``top1``) and, for the re-scored ones, on the whole held-out split (``full_top1``)."""
        ctx, conf, space = self.ctx, self.conf, self.ctx.space
        path = ctx.run_dir / "search" / "rsws_scores.json"
        done = json.loads(path.read_text())["rounds"] if path.is_file() else []
        total, size = int(conf.n_samples), int(conf.round_size)
        n_rounds = math.ceil(total / size)
        seen = {s["digest"] for r in done for s in r}
        for r in range(len(done), n_rounds):
            rng = random.Random(derive_seed(ctx.seed, f"rsws/ranking round {r}"))
            batches = self._round_batches(val_loader, r)
            want, tries, round_scores = min(size, total - r * size), 0, []
            # distinct architectures; a small space may run out before the round is full
            while len(round_scores) < want and tries < 50 * want:
                tries += 1
                desc = space.sample(rng)
                digest = space.digest(desc)
                if digest in seen:
                    continue
                seen.add(digest)
                acc = path_accuracy(net, space.path(sdesc, desc), batches, trainer)
                round_scores.append(
                    {
                        "digest": digest,
                        "label": space.label(desc),
                        "desc": desc.to_data(),
                        "top1": acc["top1"],
                        "loss": acc["loss"],
                    }
                )
            round_scores.sort(key=lambda s: (-s["top1"], s["loss"]))
            for s in round_scores[: int(conf.rescore_top)]:
                full = path_accuracy(
                    net, space.path(sdesc, ModelDesc.from_data(s["desc"])), val_loader, trainer
                )
                s["full_top1"] = full["top1"]
            done.append(round_scores)
            write_json(path, {"rounds": done})
            best = max(
                (s for s in round_scores if "full_top1" in s), key=lambda s: s["full_top1"], default=None
            )
            if best is not None:
                self.log.info(
                    f"ranking round {r + 1}/{n_rounds}: {len(round_scores)} architectures, best "
                    f"{best['label']} ({100 * best['full_top1']:.2f}% on the held-out split)"
                )
            if not round_scores:
                break
        return [s for r in done for s in r]

    def _round_batches(self, val_loader, r: int) -> list:
        """The held-out batches every architecture of round ``r`` is scored on."""
        gen = getattr(val_loader, "generator", None)
        if gen is not None:
            gen.manual_seed(derive_seed(self.ctx.seed, f"rsws/ranking batches/round {r}"))
        out = []
        for i, batch in enumerate(val_loader):
            if i >= int(self.conf.eval_batches):
                break
            out.append(batch)
        return out

    def _table_correlation(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        """On a benchmark table: rank correlation of the shared-weight scores with the table's
        test accuracy (mean over its seeds), written to ``search/rsws_ranking.csv``."""
        executor = self.ctx.executor
        if not isinstance(executor, TabularExecutor):
            return {}
        table, test = executor.table, executor.table.mean_test()
        rows = [(s, float(test[table.index[s["digest"]]])) for s in scores if s["digest"] in table]
        with (self.ctx.run_dir / "search" / "rsws_ranking.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["digest", "label", "shared_top1", "table_test_top1"])
            w.writerows([s["digest"], s["label"], s["top1"], t] for s, t in rows)
        corr = rank_correlation([s["top1"] for s, _ in rows], [t for _, t in rows])
        self.log.info(
            f"shared-weight ranking against the table ({corr['n']} architectures): Kendall tau "
            f"{corr['kendall']:.3f} (p {corr['kendall_p']:.3g}), Spearman {corr['spearman']:.3f}"
        )
        return corr
