"""The labelling tool as a picklable callable: masks in, stress maps out."""
from __future__ import annotations

import numpy as np

from .. import __version__
from ..units import DEFAULT_PRESSURE_KPA
from .materials import resolve_materials
from .solve import METHODS, StressResult, check_parameters, solve

_DEVICES = ("cpu", "cuda", "auto")


class Labeller:
    """Label masks with their maximum principal stress (kPa).

    ``labeller(masks)`` takes ``(H, W)`` or ``(N, H, W)`` masks and returns a
    float32 ``(N, H, W)`` array of the in-plane maximum principal stress, with
    **0.0 where there is no material** (lumen and outside): the target the
    network F trains on. The full :class:`~latentmine.fea.solve.StressResult`
    of the last call (NaN off material, PSS, solver report) is kept in
    ``last_result``.

    Parameters are validated here, so a bad one fails before any work is
    shipped. Instances hold only plain settings and pickle cheaply (e.g. to
    Dask workers): ``last_result`` is not pickled, and the device is resolved
    at each call, on the machine that runs it.
    """

    def __init__(self, pixel_size_mm: float, *, pressure_kpa: float = DEFAULT_PRESSURE_KPA, materials=None,
                 device: str = "cpu", rtol: float = 1e-6, method: str = "auto"):
        self.pixel_size_mm, self.pressure_kpa, self.rtol = check_parameters(pixel_size_mm, pressure_kpa, rtol)
        self.materials = {int(label): value for label, value in resolve_materials(materials).items()}
        if device not in _DEVICES:
            raise ValueError(f"device must be one of {_DEVICES}, got {device!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.device, self.method = device, method
        self.version = f"fea-q4sri-{__version__}"
        self.last_result: StressResult | None = None

    def __call__(self, masks) -> np.ndarray:
        result = solve(masks, pixel_size_mm=self.pixel_size_mm, pressure_kpa=self.pressure_kpa,
                       materials=self.materials, device=self.device, rtol=self.rtol,
                       method=self.method)
        self.last_result = result
        return np.nan_to_num(result.max_principal, nan=0.0).astype(np.float32, copy=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["last_result"] = None
        return state

    def __repr__(self) -> str:
        return (f"Labeller(pixel_size_mm={self.pixel_size_mm}, pressure_kpa={self.pressure_kpa}, "
                f"device={self.device!r}, rtol={self.rtol}, version={self.version!r})")
