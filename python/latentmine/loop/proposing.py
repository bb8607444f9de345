"""One round's proposals through the task's validity gate, with no silent starvation.

Rejected proposals are replaced by calling the strategy again for the
shortfall, up to ``max_attempts`` calls. A round that ends with nothing to
label raises :class:`latentmine.errors.Starvation` (the gate rejected every
proposal, or the strategy proposed nothing) or, when the pool has no sample
left, :class:`latentmine.errors.PoolExhausted`; the loop stores nothing of
such a round, so F never trains on an empty set. A real pool sample that the
gate rejects is reported (a warning, and ``rejected_real`` with its ids in the
round's metadata): real samples are normally valid by definition, so this
points at a gate that does not fit the data.
"""
from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

from ..errors import PoolExhausted, Starvation
from ..sampling import Proposals


@dataclass
class GatedRound:
    """What passed the gate in one round, and how the gate and the strategy fared."""

    chosen: Proposals | None
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    rejected_real: list = field(default_factory=list)
    attempts: int = 0
    seconds: Counter = field(default_factory=Counter)


def propose_gated(strategy, ctx, task, config, need: int, rng, *, where: str) -> GatedRound:
    """Propose until ``need`` samples pass ``task``'s gate (or ``config.max_attempts`` calls).

    ``where`` names the round in messages (e.g. "round 2, strategy 'gradient'").
    """
    out, parts, requested = GatedRound(None), [], need
    while need > 0 and out.attempts < config.max_attempts:
        start, ctx.attempt = perf_counter(), out.attempts
        proposals = strategy.propose(ctx, need, rng)
        out.seconds["propose"] += perf_counter() - start
        out.attempts += 1
        if not len(proposals):
            break
        start = perf_counter()
        passed, why = task.passes(proposals, config)
        out.seconds["gate"] += perf_counter() - start
        real = proposals.pool_index >= 0
        ctx.available[proposals.pool_index[real]] = False
        out.rejected_real += [ctx.pool_ids[i] for i in proposals.pool_index[real & ~passed]]
        parts.append(proposals.take(np.flatnonzero(passed)))
        out.reasons.update(why)
        out.rejected += int((~passed).sum())
        need -= int(passed.sum())
    if out.rejected_real:
        warnings.warn(f"task {task.name!r}, {where}: the validity gate rejected {len(out.rejected_real)} real pool "
                      f"sample(s) {out.rejected_real[:5]}; real samples are normally valid by definition, so the "
                      f"gate may not fit this data (reasons: {dict(out.reasons)})", stacklevel=3)
    out.chosen = Proposals.concat(parts) if parts else None
    if requested > 0 and (out.chosen is None or not len(out.chosen)):
        _starve(out, task, ctx, where)
    return out


def _starve(out: GatedRound, task, ctx, where: str):
    if out.rejected:
        raise Starvation(
            f"task {task.name!r}, {where}: the validity gate rejected all {out.rejected} proposal(s) in "
            f"{out.attempts} attempt(s) (reasons: {dict(sorted(out.reasons.items()))}); nothing was labelled and "
            "F was not trained. Check the task's gate against the generator's samples, use a strategy it "
            "accepts, or bypass it (task.without_gate()).")
    if not ctx.available.any():
        raise PoolExhausted(f"task {task.name!r}, {where}: no pool sample is left to label")
    raise Starvation(f"task {task.name!r}, {where}: the strategy proposed no samples "
                     f"({int(ctx.available.sum())} pool samples are still available)")
