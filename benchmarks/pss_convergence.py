"""PSS candidates under mesh refinement, against exact or boundary-fitted wall peaks.

    PYTHONPATH=python .venv/bin/python benchmarks/pss_convergence.py \
        --json benchmarks/results/pss_convergence.json

Solves each ring of ``tests/test_fea_pss_convergence.py`` (8 mm field of view,
lumen radius 0.2 N, outer radius 0.45 N, 16 kPa) once per frame size, then
scores every candidate definition on the same stress maps and prints one
markdown table per ring: the relative error of each candidate per size
(``fibrous-in-calcium``, whose wall hoop stress is compressive, relative to p).
Candidates (docs/fea.md, "PSS", derives them):

* ``components, band 2-3 px``: the first definition -- each stress component
  nodally averaged, the principal stress of those, largest 2-3 taxicab steps
  from the lumen;
* ``map, band 2-3 px``: the same on the maximum principal map (the thin-wall rule);
* ``map, band 0.05-0.1 mm``: a band of fixed physical depth;
* ``patch x,y (ZZ), 3-7 px``: a linear polynomial in x, y fitted per wall pixel
  over the same boxes as the chosen fit, evaluated at the wall;
* ``wall fit, depth = EDT - 0.5``: the chosen fit with the distance to the
  lumen pixel centres as depth;
* ``wall fit, box 4 px``: the chosen fit with a box fixed in pixels;
* ``wall fit, Lamé basis``: ``s = c0 + c1 (R / (R + d))²`` with R the
  equivalent lumen radius;
* ``chosen``: :func:`latentmine.fea.plaque_structural_stress`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from scipy import ndimage

from latentmine.fea import solve
from latentmine.fea import pss as chosen
from latentmine.fea.examples import ring_mask
from latentmine.fea.reference import eccentric_ring_wall_peak, lame_stresses, two_layer_stresses
from latentmine.fea.materials import DEFAULT_MATERIALS
from latentmine.labels import Label

FOV_MM, P = 8.0, 16.0
A, C, B, OFFSET = 0.2, 0.32, 0.45, 0.1
FIBROUS, LIPID, CALCIUM = (DEFAULT_MATERIALS[k] for k in (Label.FIBROUS, Label.LIPID, Label.CALCIUM))


def case_setup(case, n):
    """Mask, exact (or reference) wall peak of one ring at ``n``², and the scale its error is relative to."""
    a, c, b = (FOV_MM * f for f in (A, C, B))
    if case == "lame":
        peak = float(lame_stresses(a, a, b, P, FIBROUS[1])[1])
        return ring_mask(n, A * n, B * n), peak, peak
    if case == "two-layer":
        peak = float(two_layer_stresses(a, a, c, b, P, FIBROUS, LIPID)[1])
        return ring_mask(n, A * n, B * n, middle=C * n, outer_label=Label.LIPID), peak, peak
    if case == "fibrous-in-calcium":
        # The FE accuracy test's composite: the hoop stress at the lumen is compressive (above -p, so it is
        # the maximum principal stress there), so the error is relative to p.
        peak = float(two_layer_stresses(a, a, c, b, P, FIBROUS, CALCIUM)[1])
        return ring_mask(n, A * n, B * n, middle=C * n, outer_label=Label.CALCIUM), peak, P
    peak = eccentric_ring_wall_peak(a, b, OFFSET * FOV_MM, P, *FIBROUS)
    return ring_mask(n, A * n, B * n, lumen_offset=OFFSET * n), peak, peak


def band_max(field, mask, steps=(2, 3)):
    material = np.isin(mask, [2, 3, 4])
    taxicab = ndimage.distance_transform_cdt(mask != Label.LUMEN, metric="taxicab")
    band = material & (taxicab >= steps[0]) & (taxicab <= steps[1])
    return float(np.max(field[band]))


def components_band(result, mask):
    material = np.isin(mask, [2, 3, 4])
    sxx, syy, sxy = (chosen.nodal_average(np.nan_to_num(q[0].astype(float)), material)
                     for q in (result.sxx, result.syy, result.sxy))
    return band_max((sxx + syy) / 2 + np.hypot((sxx - syy) / 2, sxy), mask)


def fixed_depth_band(principal, mask, h, low_mm=0.05, high_mm=0.1):
    material = np.isin(mask, [2, 3, 4])
    depth = (ndimage.distance_transform_edt(mask != Label.LUMEN) - 0.5) * h
    near = material & (depth >= low_mm) & (depth <= high_mm)
    return float(np.max(chosen.nodal_average(principal, material)[near]))


def local_fit(principal, mask, h, *, basis="depth", depth_kind="subpixel", half=None):
    """Per-wall-pixel least squares over a box; the largest wall value (no thin-wall rule: thick rings only)."""
    lumen = mask == Label.LUMEN
    to_lumen, (near_r, near_c) = ndimage.distance_transform_edt(~lumen, return_indices=True)
    low, high = chosen.FIT_DEPTH_PX
    if depth_kind == "subpixel":
        depth = chosen.lumen_depth(lumen, np.isin(mask, [2, 3, 4]) & (to_lumen <= high + 2))
    else:
        depth = to_lumen - 0.5
    half = chosen.fit_half_width_px(h) if half is None else half
    rows, cols = np.nonzero(np.isin(mask, [2, 3, 4]) & (to_lumen < 1.5))
    grid_r, grid_c = np.mgrid[0:mask.shape[0], 0:mask.shape[1]] / mask.shape[0]
    radius = np.sqrt(lumen.sum() / np.pi)
    d = np.where(np.isfinite(depth), depth, 0.0)
    bases = {"depth": [np.ones_like(d), d], "lame": [np.ones_like(d), (radius / (radius + d)) ** 2],
             "xy": [np.ones_like(d), grid_r, grid_c]}[basis]
    at_wall = {"depth": [1.0, 0.0], "lame": [1.0, 1.0]}.get(basis)
    if at_wall is None:  # x, y at the wall point: the pixel centre moved by its depth towards the lumen
        toward = np.stack([near_r - np.mgrid[0:mask.shape[0], 0:mask.shape[1]][0],
                           near_c - np.mgrid[0:mask.shape[0], 0:mask.shape[1]][1]]) / np.maximum(to_lumen, 1e-12)
        at_wall = [np.ones(len(rows)), (rows + d[rows, cols] * toward[0][rows, cols]) / mask.shape[0],
                   (cols + d[rows, cols] * toward[1][rows, cols]) / mask.shape[0]]
    values = np.full(len(rows), np.nan)
    for tissue in np.unique(mask[rows, cols]):
        mine = mask[rows, cols] == tissue
        window = ((mask == tissue) & (depth >= low) & (depth <= high)).astype(float)
        k = len(bases)
        images = [window * bases[i] * bases[j] for i in range(k) for j in range(k)] + \
                 [window * bases[i] * principal for i in range(k)]
        sums = chosen._box_sums(np.stack(images), rows[mine], cols[mine], half)
        normal = np.moveaxis(sums[:k * k].reshape(k, k, -1), 2, 0)
        coef = np.linalg.solve(normal + 1e-12 * np.eye(k), sums[k * k:].T[..., None])[..., 0]
        wall = np.stack([np.broadcast_to(np.asarray(w)[mine] if np.ndim(w) else w, (mine.sum(),))
                         for w in at_wall], 1)
        values[mine] = (coef * wall).sum(1)
    return float(np.nanmax(values))


CANDIDATES = {
    "components, band 2-3 px": lambda r, p, m, h: components_band(r, m),
    "map, band 2-3 px": lambda r, p, m, h: band_max(chosen.nodal_average(p, np.isin(m, [2, 3, 4])), m),
    "map, band 0.05-0.1 mm": lambda r, p, m, h: fixed_depth_band(p, m, h),
    "patch x,y (ZZ), 3-7 px": lambda r, p, m, h: local_fit(p, m, h, basis="xy"),
    "wall fit, depth = EDT - 0.5": lambda r, p, m, h: local_fit(p, m, h, depth_kind="edt"),
    "wall fit, box 4 px": lambda r, p, m, h: local_fit(p, m, h, half=4),
    "wall fit, Lamé basis": lambda r, p, m, h: local_fit(p, m, h, basis="lame"),
    "chosen": lambda r, p, m, h: chosen.plaque_structural_stress(p, m, h),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,128,256,512")
    parser.add_argument("--cases", default="lame,two-layer,eccentric,fibrous-in-calcium")
    parser.add_argument("--json", help="write the errors here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    out = {"loadavg_start": os.getloadavg(), "sizes": sizes, "cases": {}}
    for case in args.cases.split(","):
        rows = {name: [] for name in CANDIDATES}
        rules, seconds = [], []
        for n in sizes:
            mask, peak, scale = case_setup(case, n)
            h = FOV_MM / n
            result = solve(mask, pixel_size_mm=h, pressure_kpa=P)
            principal = np.nan_to_num(result.max_principal[0].astype(np.float64))
            for name, candidate in CANDIDATES.items():
                rows[name].append((candidate(result, principal, mask, h) - peak) / scale)
            start = time.perf_counter()
            chosen.plaque_structural_stress(principal, mask, h)
            seconds.append(time.perf_counter() - start)
            rules.append(str(result.pss_rule[0]))
            print(f"{case} {n}: solve {result.seconds[0]:.1f} s", file=sys.stderr, flush=True)
        out["cases"][case] = {"reference_kpa": peak, "error_relative_to_kpa": scale, "errors": rows,
                              "rules": rules, "pss_seconds": seconds}
        print(f"\n{case} (reference {peak:.3f} kPa, errors relative to {scale:.3f} kPa; "
              f"rules of the chosen: {', '.join(rules)})\n")
        print("| candidate | " + " | ".join(f"{n}²" for n in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        for name, errors in rows.items():
            print(f"| {name} | " + " | ".join(f"{100 * e:+.1f}%" for e in errors) + " |")
    out["loadavg_end"] = os.getloadavg()
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(out, handle, indent=1)
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
