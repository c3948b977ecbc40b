"""Which family each offline candidate is written from: stratified rounds, deterministic per seed.

Drawing every candidate's family independently leaves the mix to chance (a five-benchmark
run once gave three of one family). Instead candidates are dealt in *rounds*: round ``r``
covers candidates ``r·F .. r·F + F - 1`` for the ``F`` families in play, one candidate per
family, so the first ``F`` acceptances can all differ. A round's order puts the families
with the fewest benchmarks first (those in the dataset from other runs plus those this run
accepted in earlier rounds), ties broken by a shuffle drawn from the run seed and the round.

The order of round ``r`` depends on the outcomes of every candidate before it, so the
generator commits all of them before it authors the round's first candidate (a barrier per
round). That keeps the plan a function of the seed and the dataset alone: the same whatever
the number of workers, and the same when a killed run is resumed (earlier decisions are
read back from the dataset, and benchmarks of this run's own stream are not "prior").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

_ROUND_STREAM = 0xBA1A
"""Separates the rounds' shuffles from the candidates' streams (``[seed, index]``)."""


class FamilyPlan:
    """The family of every candidate index of one run.

    ``families`` are the names in play, ``prior`` how many benchmarks of each the dataset
    held from other runs when this one started.
    """

    def __init__(self, families: Sequence[str], seed: int, prior: Mapping[str, int] | None = None) -> None:
        if not families:
            raise ValueError("a plan needs at least one family")
        if len(set(families)) != len(families):
            raise ValueError(f"families repeat: {list(families)}")
        self.families = list(families)
        self.seed = seed
        self.prior = Counter({f: int((prior or {}).get(f, 0)) for f in self.families})
        self._orders: dict[int, list[str]] = {}

    @property
    def round_length(self) -> int:
        return len(self.families)

    def round_of(self, index: int) -> int:
        return index // self.round_length

    def starts_round(self, index: int) -> bool:
        """True for the first candidate of a round (where the generator waits for the ones before)."""
        return index % self.round_length == 0

    def open_round(self, index: int, accepted: Mapping[str, int]) -> list[str]:
        """Fix the order of the round that ``index`` starts, from what this run has accepted so
        far (``accepted``: family → count, every candidate before ``index`` decided)."""
        round_ = self.round_of(index)
        if round_ not in self._orders:
            shuffle = np.random.default_rng([self.seed, _ROUND_STREAM, round_]).permutation(self.round_length)
            tie = {family: int(rank) for family, rank in zip(self.families, shuffle, strict=True)}
            count = {f: self.prior[f] + int(accepted.get(f, 0)) for f in self.families}
            self._orders[round_] = sorted(self.families, key=lambda f: (count[f], tie[f]))
        return self._orders[round_]

    def family_for(self, index: int) -> str:
        """The family of candidate ``index``; its round must have been opened."""
        order = self._orders.get(self.round_of(index))
        if order is None:
            raise RuntimeError(f"round {self.round_of(index)} of candidate {index} was not opened")
        return order[index % self.round_length]
