"""Tasks: what the loop and the study need to know about one problem (see :mod:`latentmine.tasks.base`).

Built-in tasks, by name:

=========================  ==========================================================
``ivus-stress``            IVUS frame -> finite-element stress map (the default)
``ivus-stress-hard-case``  the same on the hard-case cohort (rare thin-cap plaques)
``segmentation``           noisy shapes -> class-code map, ground-truth oracle, Dice
``classification``         images of 1-3 discs -> count class, counting tool, accuracy
=========================  ==========================================================

A user's own task is a :class:`Task` (``load_task("MODULE:FACTORY")`` or
``register_task``); see ``docs/loop.md``.
"""
from .base import LABEL_KINDS, Task, available_tasks, get_task, load_task, no_gate, register_task
from .classification import BlobCounter, classification
from .segmentation import GroundTruthOracle, real_only, segmentation
from .stress import NAME as DEFAULT_TASK
from .stress import ivus_stress, stress_target

__all__ = ["LABEL_KINDS", "Task", "available_tasks", "get_task", "load_task", "no_gate", "register_task",
           "DEFAULT_TASK", "ivus_stress", "stress_target", "segmentation", "classification",
           "GroundTruthOracle", "BlobCounter", "real_only"]
