"""Plaque stress from segmentation masks: the public entry point of the labelling tool.

Plane strain, small strain, linear elasticity; one square bilinear element per
material pixel (selective reduced integration, so no volumetric locking up to
nu = 0.4999); the luminal pressure loads every material side that faces a
lumen pixel with consistent nodal forces; the outer boundary is traction-free
(Loree et al., Circ Res 71, 1992; Cheng et al., Circulation 87, 1993).

Plaque structural stress (PSS) is computed from the tool's own maximum
principal stress map by :func:`latentmine.fea.pss.plaque_structural_stress`,
the one definition the loop and the study use as well.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..backend import core, resolve_device
from ..labels import TISSUES
from ..units import DEFAULT_PRESSURE_KPA
from .assembly import assemble, lame_tables, stiffness_table
from .cholesky import one_blas_thread
from .materials import resolve_materials
from .ordering import kept_nodes
from .pss import pss_and_rule
from .solver import DIRECT_MAX_DOFS, amg_preconditioner, direct_solve, projected_cg, rigid_body_modes
from .validate import check_masks

#: CG iteration limit; a solve that reaches it reports ``converged=False``.
MAX_ITERATIONS = 2000
#: Refinement steps allowed after the sparse Cholesky.
MAX_REFINEMENTS = 10
METHODS = ("auto", "direct", "amg")


@dataclass
class StressResult:
    """Stresses of N masks, kPa, on the pixel grid; NaN where there is no material.

    ``sxx, syy, sxy`` are in image axes (x along columns, y along rows, down);
    ``szz`` is the out-of-plane plane-strain stress; ``max_principal`` is the
    larger in-plane principal stress; ``pss`` is the plaque structural stress
    of each mask and ``pss_rule`` the rule it was taken by
    (:mod:`latentmine.fea.pss`). ``iterations``, ``residual``
    (relative, ``||f - K u|| / ||f||``), ``converged`` and ``seconds`` report
    each solve.
    """

    sxx: np.ndarray
    syy: np.ndarray
    sxy: np.ndarray
    szz: np.ndarray
    von_mises: np.ndarray
    max_principal: np.ndarray
    pss: np.ndarray
    pss_rule: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    converged: np.ndarray
    seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.pss)


def _positive(name, value):
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def check_parameters(pixel_size_mm, pressure_kpa, rtol) -> tuple[float, float, float]:
    """Validated ``(pixel_size_mm, pressure_kpa, rtol)``; ValueError naming the bad one."""
    pressure = float(pressure_kpa)
    if not (math.isfinite(pressure) and pressure >= 0):
        raise ValueError(f"pressure_kpa must be a finite number >= 0, got {pressure}")
    rtol = _positive("rtol", rtol)
    if rtol >= 1:
        raise ValueError(f"rtol must be below 1, got {rtol}")
    return _positive("pixel_size_mm", pixel_size_mm), pressure, rtol


def solve_one(mask, table, lam, mu, *, pixel_size_mm, pressure_kpa, rtol, full_grid=False, method="auto"):
    """Stress planes (6, H, W), iterations and relative residual of one validated mask."""
    # The ersatz voids of a full grid have eigenvalues near the Cholesky's
    # shift: refinement would crawl there, so full grids take AMG-CG.
    small = 2 * int(kept_nodes(np.isin(mask, TISSUES)).sum()) <= DIRECT_MAX_DOFS
    direct = not full_grid and (method == "direct" or (method == "auto" and small))
    system = assemble(mask, table, pixel_size_mm=pixel_size_mm, pressure_kpa=pressure_kpa, full_grid=full_grid,
                      dissect=direct)
    modes = rigid_body_modes(system.pattern.node_id, system.components)
    # One BLAS thread: on a busy 2-core machine threaded BLAS made the whole
    # solve ten times slower (docs/fea.md).
    with one_blas_thread():
        if direct:
            u, iterations, residual = direct_solve(system.stiffness, system.load, modes, system.pattern.dissection,
                                                   rtol=rtol, maxiter=MAX_REFINEMENTS)
        else:
            preconditioner = amg_preconditioner(system.stiffness, modes)
            u, iterations, residual = projected_cg(system.stiffness, system.load, preconditioner, modes,
                                                   rtol=rtol, maxiter=MAX_ITERATIONS)
    planes = core().fea_recover_stress(system.material, mask, lam, mu, system.pattern.node_id, u,
                                       float(pixel_size_mm))
    return planes, iterations, residual


def solve(masks, *, pixel_size_mm: float, pressure_kpa: float = DEFAULT_PRESSURE_KPA, materials=None,
          device: str = "cpu", rtol: float = 1e-6, method: str = "auto", progress: bool = False) -> StressResult:
    """Stress maps of ``(H, W)`` or ``(N, H, W)`` masks under luminal pressure.

    Parameters
    ----------
    masks : array of int
        :class:`~latentmine.labels.Label` codes; every mask must be valid
        (:func:`latentmine.fea.validate.mask_problems`). Invalid masks raise:
        nothing is dropped silently.
    pixel_size_mm : float
        Side of a pixel.
    pressure_kpa : float
        Luminal pressure (default 120 mmHg).
    materials : mapping, optional
        ``{label: (young_kpa, poisson)}`` overriding
        :data:`~latentmine.fea.materials.DEFAULT_MATERIALS`.
    device : {"cpu", "cuda", "auto"}
        "cuda" runs :mod:`latentmine.fea.gpu` (imported only then).
    rtol : float
        Relative residual ``||f - K u|| / ||f||`` to reach; a solve that does
        not reach it (``MAX_ITERATIONS`` CG iterations or ``MAX_REFINEMENTS``
        refinement steps) reports ``converged=False``.
    method : {"auto", "direct", "amg"}
        CPU solver: sparse Cholesky with iterative refinement ("direct"),
        AMG-preconditioned projected CG ("amg"), or "direct" up to
        ``DIRECT_MAX_DOFS`` (250k) unknowns and "amg" above ("auto"). ``iterations``
        counts refinement steps or CG iterations. On the GPU, "auto" and "amg"
        are its batched AMG-CG; "direct" raises with ``device="cuda"`` and runs on
        the CPU with ``device="auto"``.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    StressResult

    Raises
    ------
    ValueError
        For invalid masks (naming the sample and the problem), a pixel size,
        pressure or rtol that is NaN, infinite or out of range, bad materials,
        or an unknown or unavailable device.
    """
    pixel_size_mm, pressure_kpa, rtol = check_parameters(pixel_size_mm, pressure_kpa, rtol)
    table_materials = resolve_materials(materials)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    masks = check_masks(masks)
    target = resolve_device(device)
    if target == "cuda" and method == "direct":
        if device == "cuda":
            raise ValueError("method='direct' (sparse LU) runs on the CPU only; device='cuda' solves by AMG-CG: "
                             "use method='auto' or 'amg', or device='cpu'")
        target = "cpu"  # device="auto": the direct solver is a CPU solver
    if target == "cuda":
        from . import gpu  # written for CUDA devices only; imported lazily
        return gpu.solve(masks, pixel_size_mm=pixel_size_mm, pressure_kpa=pressure_kpa,
                         materials=table_materials, rtol=rtol, progress=progress)
    table = stiffness_table(table_materials)
    lam, mu = lame_tables(table_materials)
    n, height, width = masks.shape
    planes = np.empty((6, n, height, width), np.float32)
    report = {key: np.zeros(n, dtype) for key, dtype in
              [("pss", np.float64), ("iterations", np.int64), ("residual", np.float64), ("seconds", np.float64)]}
    rules = np.empty(n, object)
    for i in tqdm(range(n), desc="fea", unit="mask", disable=not progress):
        start = time.perf_counter()
        planes[:, i], report["iterations"][i], report["residual"][i] = solve_one(
            masks[i], table, lam, mu, pixel_size_mm=pixel_size_mm, pressure_kpa=pressure_kpa, rtol=rtol,
            method=method)
        report["pss"][i], rules[i] = pss_and_rule(planes[5, i], masks[i], pixel_size_mm)
        report["seconds"][i] = time.perf_counter() - start
    return StressResult(*planes, **report, pss_rule=rules, converged=report["residual"] <= rtol)
