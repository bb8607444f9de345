"""Reference stresses of pressurised rings: closed forms, and a boundary-fitted mesh.

They check the pixel finite elements and the PSS recovery (``tests/test_fea_*``,
``benchmarks/pss_convergence.py``). Plane strain, internal pressure ``p``,
traction-free outside; radii in any one length unit.

* :func:`lame_stresses`: one layer (Lamé); the hoop stress peaks at the
  lumen, ``p (a² + b²) / (b² − a²)``.
* :func:`two_layer_stresses`: a composite cylinder, ``u = A_i r + B_i / r`` in
  each layer, with ``s_rr(a) = −p``, ``s_rr(b) = 0`` and ``u`` and ``s_rr``
  continuous at ``c`` (Timoshenko and Goodier, Theory of Elasticity, §30).
* :func:`eccentric_ring_wall_peak`: the largest maximum principal stress on
  the lumen wall of a ring whose lumen is off centre, which has no simple
  closed form; quadratic triangles of scikit-fem (a development dependency) on
  a mesh fitted to both circles.
"""
from __future__ import annotations

import numpy as np

from .materials import lame_parameters


def lame_stresses(r, a: float, b: float, p: float, nu: float):
    """Lamé ``(s_rr, s_tt, s_zz)`` = ``(A − B, A + B, 2 nu A)``, ``A = p a²/(b²−a²)``, ``B = A b²/r²``.

    Array-agnostic: ``r``, ``a`` and ``b`` may be numbers, NumPy arrays or
    torch tensors (F's Lamé prior channel differentiates through it).
    """
    big_a = p * a * a / (b * b - a * a)
    big_b = big_a * b * b / (r * r)
    return big_a - big_b, big_a + big_b, 2 * nu * big_a


def two_layer_stresses(r, a: float, c: float, b: float, p: float, inner, outer):
    """``(s_rr, s_tt)`` of a composite cylinder: ``inner`` for ``a <= r < c``, ``outer`` up to ``b``.

    ``inner`` and ``outer`` are ``(young, poisson)``; in each layer
    ``s_rr = 2(lam + mu) A − 2 mu B / r²`` and ``s_tt = 2(lam + mu) A + 2 mu B / r²``.
    """
    (l1, m1), (l2, m2) = lame_parameters(*inner), lame_parameters(*outer)

    def radial(lam, mu, radius):
        return [2 * (lam + mu), -2 * mu / radius ** 2]

    system = np.array([
        radial(l1, m1, a) + [0, 0],
        [0, 0] + radial(l2, m2, b),
        [c, 1 / c, -c, -1 / c],
        radial(l1, m1, c) + [-v for v in radial(l2, m2, c)],
    ])
    a1, b1, a2, b2 = np.linalg.solve(system, [-p, 0, 0, 0])
    r = np.asarray(r, np.float64)
    lam, mu, big_a, big_b = (np.where(r < c, x, y) for x, y in ((l1, l2), (m1, m2), (a1, a2), (b1, b2)))
    return 2 * (lam + mu) * big_a - 2 * mu * big_b / r ** 2, 2 * (lam + mu) * big_a + 2 * mu * big_b / r ** 2


def _ring_mesh(a, b, offset, n_theta, n_radial, grading):
    """Triangles between the lumen circle (centre ``(offset, 0)``) and the outer one, graded towards the lumen."""
    from skfem import MeshTri

    theta = np.linspace(0, 2 * np.pi, n_theta, endpoint=False)
    s = np.linspace(0, 1, n_radial) ** grading
    inner = np.stack([offset + a * np.cos(theta), a * np.sin(theta)])
    outer = np.stack([b * np.cos(theta), b * np.sin(theta)])
    points = (inner[:, None] * (1 - s)[None, :, None] + outer[:, None] * s[None, :, None]).reshape(2, -1)
    index = np.arange(n_radial * n_theta).reshape(n_radial, n_theta)
    here, ahead = index[:-1], np.roll(index[:-1], -1, axis=1)
    out, out_ahead = index[1:], np.roll(index[1:], -1, axis=1)
    triangles = np.hstack([np.stack([here, ahead, out_ahead]).reshape(3, -1),
                           np.stack([here, out_ahead, out]).reshape(3, -1)])
    return MeshTri(points, triangles)


def eccentric_ring_wall_peak(a: float, b: float, offset: float, p: float, young: float, nu: float, *,
                             n_theta: int = 160, n_radial: int = 12, grading: float = 2.5) -> float:
    """Largest maximum principal stress on the lumen wall of an eccentric ring (P2 triangles).

    The lumen circle of radius ``a`` is centred at ``(offset, 0)`` inside the
    outer circle of radius ``b`` at the origin. The stress is taken from the
    elements' own gradients at the quadrature points of the lumen edges. On
    the concentric ring (``offset=0``) the defaults reproduce the Lamé peak to
    5e-4; on ``a, b, offset = 1.6, 3.6, 0.8`` they give 29.728 kPa at
    ``p = 16`` against 29.724 on a mesh 4.5 times finer each way.
    """
    import skfem
    from skfem.helpers import dot, ddot, sym_grad, trace

    mesh = _ring_mesh(a, b, offset, n_theta, n_radial, grading)
    element = skfem.ElementVector(skfem.ElementTriP2())
    basis = skfem.Basis(mesh, element, intorder=4)
    lam, mu = lame_parameters(young, nu)

    @skfem.BilinearForm
    def stiffness(u, v, _):
        return 2 * mu * ddot(sym_grad(u), sym_grad(v)) + lam * trace(sym_grad(u)) * trace(sym_grad(v))

    @skfem.LinearForm
    def pressure(v, w):
        return -p * dot(w.n, v)

    boundary = mesh.boundary_facets()
    mid_x, mid_y = mesh.p[:, mesh.facets[:, boundary]].mean(axis=1)
    lumen_edges = boundary[np.hypot(mid_x - offset, mid_y) < (a + b) / 2]
    wall = skfem.FacetBasis(mesh, element, facets=lumen_edges, intorder=4)
    # The load is self-equilibrated: pinning (b, 0) and the y of (-b, 0) only removes the rigid modes.
    pins = [basis.get_dofs(lambda x, xb=xb: np.isclose(x[0], xb) & np.isclose(x[1], 0.0)).nodal
            for xb in (b, -b)]
    fixed = np.concatenate([pins[0]["u^1"], pins[0]["u^2"], pins[1]["u^2"]])
    u = skfem.solve(*skfem.condense(stiffness.assemble(basis), pressure.assemble(wall), D=fixed))
    strain = sym_grad(wall.interpolate(u))
    volumetric = lam * (strain[0, 0] + strain[1, 1])
    sxx, syy, sxy = 2 * mu * strain[0, 0] + volumetric, 2 * mu * strain[1, 1] + volumetric, 2 * mu * strain[0, 1]
    return float(np.max((sxx + syy) / 2 + np.hypot((sxx - syy) / 2, sxy)))
