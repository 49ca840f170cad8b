"""Petridish's given seed models (warm start): grow an existing network instead of the seed grid.

``algos.petridish.seed_models`` lists the models to start from, each a mapping:

- ``desc: PATH``: a description file (YAML or JSON, any DARTS-style skeleton), or
  ``genotype: NAME_OR_STRING``: a published genotype (``DARTS_V2``...) or a genotype string,
  built at the search protocol's shape (``search.model``), or at the entry's own
  ``init_channels`` and ``n_cells``;
- optionally ``weights: PATH``: trained weights of exactly that network (a state dict saved with
  ``torch.save``; a run's ``jobs/<id>/weights.pt`` is one). A seed with weights is not trained
  again: its validation accuracy is measured and it joins the pool as it is.

Paths are relative to the working directory. Every entry is checked before the run folder is
made; the weights are copied into the run folder, so a resumed run does not need them again.

Example:
    >>> entries = check_seed_models([{"genotype": "DARTS_V2"}])
    >>> seed_model_desc(entries[0], dict(init_channels=8, n_cells=5)).cells[0].nodes[0].edges[0].op.name
    'sep_conv_3x3'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archai.common.checkpoint import load_checkpoint
from archai.common.config import ConfigError
from archai.space.genotypes import GENOTYPES, GenotypeError, genotype_to_desc, parse_genotype
from archai.space.model import build_model
from archai.space.model_desc import DescError, ModelDesc

KEYS = ("desc", "genotype", "weights", "init_channels", "n_cells")
SHAPE_KEYS = ("init_channels", "n_cells")
WHERE = "algos.petridish.seed_models"


def check_seed_models(entries: Sequence[Any]) -> list[dict]:
    """The entries as plain dicts, each checked: known keys, one of ``desc``/``genotype``,
    files that exist and load, weights that fit their network exactly. Raises ConfigError
    naming the entry and what to change."""
    out = []
    for i, entry in enumerate(entries):
        where = f"{WHERE}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(
                f"{where}: expected a mapping such as {{desc: net.yaml, weights: net.pt}}, got {entry!r}"
            )
        entry = dict(entry)
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(KEYS)}")
        if ("desc" in entry) == ("genotype" in entry):
            raise ConfigError(f"{where}: give exactly one of 'desc' (a description file) and 'genotype'")
        for key in SHAPE_KEYS:
            if key in entry and "desc" in entry:
                raise ConfigError(
                    f"{where}.{key}: a description file has its own shape; {key} is for genotypes"
                )
            if key in entry and (
                isinstance(entry[key], bool) or not isinstance(entry[key], int) or entry[key] < 1
            ):
                raise ConfigError(f"{where}.{key}: expected a positive integer, got {entry[key]!r}")
        for key in ("desc", "weights"):
            if entry.get(key) is not None and not Path(entry[key]).is_file():
                raise ConfigError(f"{where}.{key}: no file {entry[key]} (paths are relative to {Path.cwd()})")
        if "desc" in entry:
            try:
                ModelDesc.load(entry["desc"])
            except DescError as e:
                raise ConfigError(f"{where}.desc: {e}") from None
        else:
            _genotype(entry["genotype"], where)
        out.append(entry)
    return out


def _genotype(value: Any, where: str):
    if str(value) in GENOTYPES:
        return GENOTYPES[str(value)]
    try:
        return parse_genotype(str(value))
    except GenotypeError as e:
        raise ConfigError(f"{where}.genotype: {e}; published ones: {', '.join(sorted(GENOTYPES))}") from None


def seed_model_desc(entry: Mapping[str, Any], shape: Mapping[str, Any]) -> ModelDesc:
    """The description of a checked entry; a genotype is built at ``shape`` (builder arguments)."""
    if "desc" in entry:
        return ModelDesc.load(entry["desc"])
    own = {k: int(entry[k]) for k in SHAPE_KEYS if k in entry}
    return genotype_to_desc(_genotype(entry["genotype"], WHERE), **{**shape, **own})


def check_fits(desc: ModelDesc, entry: Mapping[str, Any], index: int, data: Mapping[str, int]) -> None:
    """Raises ConfigError unless ``desc`` takes the run's images and classes (``data``:
    ``in_channels``, ``image_size``, ``n_classes``) and its ``weights``, if any, hold exactly
    the network's tensors."""
    where = f"{WHERE}[{index}]"
    for key, value in data.items():
        if getattr(desc, key) != value:
            raise ConfigError(
                f"{where}: the seed has {key} {getattr(desc, key)}, the run's dataset {value}; "
                f"write the description for this dataset"
            )
    if entry.get("weights") is None:
        return
    own = build_model(desc).state_dict()
    state = load_checkpoint(entry["weights"])
    if not isinstance(state, Mapping):
        raise ConfigError(f"{where}.weights: {entry['weights']} holds no state dict")
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    extra = [k for k in state if k not in own]
    if missing or wrong or extra:
        parts = [
            f"{name}: {', '.join(ks[:3])}{' ...' if len(ks) > 3 else ''}"
            for name, ks in (("missing", missing), ("other shape", wrong), ("unknown", extra))
            if ks
        ]
        raise ConfigError(
            f"{where}.weights: {entry['weights']} does not fit the seed's network ({'; '.join(parts)}); "
            "give the weights trained for exactly this description, or leave 'weights' out to train it"
        )
