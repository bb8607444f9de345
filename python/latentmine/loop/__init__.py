"""The suggestive-labelling loop (Mo et al., arXiv 2004.02757).

Stable Python API::

    from latentmine import loop, models, phantoms

    cohort = phantoms.generate(200, size=64, seed=0)
    vae = models.train_vae(cohort.images[:160], cohort.masks[:160], epochs=30)
    pool = loop.Samples(cohort.images[:160], cohort.masks[:160], cohort.ids[:160])
    test = loop.Samples(cohort.images[160:], cohort.masks[160:], cohort.ids[160:])
    config = loop.LoopConfig(strategy="gradient", rounds=4, per_round=16, initial=16, epochs=20, seed=0)
    run = loop.SuggestiveLoop(vae, labeller, pool=pool, test=test, config=config, run_dir="runs/demo")
    rows = run.run()             # one metrics dict per round; resumes when run_dir holds a run
    run.train_set                # Samples: images, masks, labels (kPa), ids
    loop.evaluate(run.target, run.test)   # {"mse", "mae", "pss_error", "n"} in kPa

* :class:`LoopConfig` — every knob (strategy, rounds, per_round, initial,
  epochs, batch_size, lr, seed, input_mode, step_size, steps, ...).
* :class:`SuggestiveLoop` ``(generator, labeller, *, pool, test, config,
  run_dir=None, target=None, loss=None)``. ``generator`` follows
  :class:`latentmine.models.Generator`; ``labeller`` is any callable
  ``masks (N, H, W) uint8 -> labels (N, H, W) float32`` (e.g.
  ``latentmine.fea.Labeller``), or ``None`` for labelling by hand
  (:meth:`~SuggestiveLoop.propose_next` / :meth:`~SuggestiveLoop.ingest`).
  ``pool`` and ``test`` are :class:`Samples`, phantom cohorts or loaded
  datasets; a test set without labels is labelled once. ``target`` is a
  factory ``config -> nn.Module`` for F, ``loss`` a
  :class:`latentmine.models.TargetLoss`. Without ``run_dir`` the run lives in
  a temporary folder (no plots).
* ``run(rounds=None, progress=True)`` runs until ``rounds`` acquisition rounds
  (default ``config.rounds``) are complete and returns the metric rows:
  ``round, strategy, n_train, n_acquired, requested, rejected,
  reject_reasons, attempts, train_loss, test_mse, test_mae, test_pss_error,
  label_seconds, t_propose, t_gate, t_label, t_train, t_eval``. Round 0 is
  the initial set (``initial`` samples by ``config.first_strategy``).
* ``train_set``, ``provenance``, ``metrics``, ``target`` (F), ``test`` (the
  test set with its labels), ``rounds_done``, ``run_dir``.
* :func:`evaluate` ``(model, test, *, label_scale)`` — test metrics in kPa.
* :func:`gate_problems` / :func:`gate` — the validity gate.

Resume: a new :class:`SuggestiveLoop` on the same ``run_dir`` with the same
config continues from the last durable step (see :mod:`latentmine.loop.store`);
nothing durable is recomputed and no sample is labelled twice.
"""
from .config import LoopConfig
from .core import LabelsPending, SuggestiveLoop, default_target
from .evaluate import evaluate
from .gate import gate, gate_problems, wall_thickness
from .samples import Samples, as_samples

__all__ = ["LoopConfig", "SuggestiveLoop", "LabelsPending", "Samples", "as_samples", "evaluate", "gate",
           "gate_problems", "wall_thickness", "default_target"]
