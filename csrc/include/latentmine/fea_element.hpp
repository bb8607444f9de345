// Plane-strain bilinear (Q4) element on a square pixel: stiffness, stress
// recovery and the consistent luminal-pressure load. Header-only and usable
// from C++ and CUDA (LM_HD), so that CPU and GPU solvers share one element.
//
// Frame and numbering (image coordinates)
// ---------------------------------------
// * Pixel (r, c) of an H x W mask is element e = r * W + c. x runs along the
//   columns, y along the rows (pointing down), in mm: x = c * h, y = r * h.
// * Grid node (i, j), 0 <= i <= H, 0 <= j <= W, is the pixel corner at
//   x = j * h, y = i * h; its grid index is n = i * (W + 1) + j. A solver
//   numbers the nodes it keeps in increasing grid index (all of them on a full
//   grid, or only those of material pixels) and gives node k the DOFs
//   2k (u_x) and 2k + 1 (u_y): the 2 x 2 nodal blocks stay intact.
// * Local node a of pixel (r, c) sits at row r + kCornerRow[a], column
//   c + kCornerCol[a]: 0 = top-left, 1 = top-right, 2 = bottom-right,
//   3 = bottom-left (counter-clockwise in the x-right, y-down frame, so the
//   Jacobian h/2 * I is positive). Local DOFs are [u0x u0y u1x u1y u2x u2y u3x u3y].
// * Voigt order: [eps_xx, eps_yy, gamma_xy] and [s_xx, s_yy, s_xy].
//
// Element formulation
// -------------------
// Plane strain, D = lam * m m^T + mu * diag(2, 2, 1) with m = [1, 1, 0]. With
// selective reduced integration (Hughes, "Generalization of selective
// integration procedures to anisotropic and nonlinear media", IJNME 15, 1980;
// Malkus and Hughes, CMAME 15, 1978) the shear (mu) part is integrated with
// 2 x 2 Gauss points and the volumetric (lam) part with the centre point only,
// which removes volumetric locking as nu -> 1/2. Full 2 x 2 integration of
// both parts is the plain (locking) Q4. The stiffness of a square element does
// not depend on its side h in 2D (B ~ 1/h, area ~ h^2); thickness is 1 mm.
#pragma once

#if defined(__CUDACC__)
#define LM_HD __host__ __device__
#else
#define LM_HD
#endif

#include <cmath>

namespace latentmine {
namespace fea {

constexpr int kElementNodes = 4;
constexpr int kElementDofs = 8;
constexpr int kCornerRow[kElementNodes] = {0, 0, 1, 1};
constexpr int kCornerCol[kElementNodes] = {0, 1, 1, 0};

// Gradients of the four bilinear shape functions at reference point
// (xi, eta) in [-1, 1]^2, in the physical frame of a pixel of side h.
template <typename Real>
LM_HD inline void shape_gradients(Real xi, Real eta, Real h, Real dndx[4], Real dndy[4]) {
  const Real corner_xi[4] = {-1, 1, 1, -1};
  const Real corner_eta[4] = {-1, -1, 1, 1};
  for (int a = 0; a < 4; ++a) {
    // d/dx = (2/h) d/dxi for the affine map x = x0 + (xi + 1) h / 2.
    dndx[a] = corner_xi[a] * (1 + corner_eta[a] * eta) / (Real(2) * h);
    dndy[a] = corner_eta[a] * (1 + corner_xi[a] * xi) / (Real(2) * h);
  }
}

// Adds w * B^T D B to ke (8 x 8, row-major) at one point, for
// D = lam m m^T + mu diag(2, 2, 1); h = 1 because the result is h-free.
template <typename Real>
LM_HD inline void add_point_stiffness(Real xi, Real eta, Real weight, Real lam, Real mu, Real ke[64]) {
  Real dndx[4], dndy[4];
  shape_gradients<Real>(xi, eta, Real(1), dndx, dndy);
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      const Real xx = dndx[a] * dndx[b], yy = dndy[a] * dndy[b];
      const Real xy = dndx[a] * dndy[b], yx = dndy[a] * dndx[b];
      // 2 x 2 block K_ab of B_a^T D B_b.
      ke[(2 * a) * 8 + 2 * b] += weight * ((lam + 2 * mu) * xx + mu * yy);
      ke[(2 * a) * 8 + 2 * b + 1] += weight * (lam * xy + mu * yx);
      ke[(2 * a + 1) * 8 + 2 * b] += weight * (lam * yx + mu * xy);
      ke[(2 * a + 1) * 8 + 2 * b + 1] += weight * ((lam + 2 * mu) * yy + mu * xx);
    }
  }
}

// Element stiffness (8 x 8, row-major) of a square plane-strain pixel with
// Lame parameters lam, mu. selective = true: selective reduced integration
// (lam part at the centre); false: plain 2 x 2 Gauss (locks as nu -> 1/2).
template <typename Real>
LM_HD inline void element_stiffness(Real lam, Real mu, bool selective, Real ke[64]) {
  for (int k = 0; k < 64; ++k) ke[k] = 0;
  const Real g = Real(0.57735026918962576451);  // 1 / sqrt(3)
  const Real gauss[4][2] = {{-g, -g}, {g, -g}, {g, g}, {-g, g}};
  // Jacobian determinant (h/2)^2 with h = 1; 2 x 2 Gauss weights are 1.
  const Real jac = Real(0.25);
  for (int q = 0; q < 4; ++q) {
    add_point_stiffness<Real>(gauss[q][0], gauss[q][1], jac, selective ? Real(0) : lam, mu, ke);
  }
  if (selective) {
    // One-point rule: weight 4 times the Jacobian; the mu part is already in.
    add_point_stiffness<Real>(Real(0), Real(0), 4 * jac, lam, Real(0), ke);
  }
}

// Stress at the element centre from the 8 nodal displacements ue (mm) of a
// pixel of side h (mm): out = [s_xx, s_yy, s_xy, s_zz] in the units of lam, mu.
// The centre is the volumetric integration point of the selective rule and a
// superconvergent point of the Q4 element for the deviatoric part.
template <typename Real>
LM_HD inline void element_stress(const Real ue[8], Real lam, Real mu, Real h, Real out[4]) {
  Real dndx[4], dndy[4];
  shape_gradients<Real>(Real(0), Real(0), h, dndx, dndy);
  Real exx = 0, eyy = 0, gxy = 0;
  for (int a = 0; a < 4; ++a) {
    exx += dndx[a] * ue[2 * a];
    eyy += dndy[a] * ue[2 * a + 1];
    gxy += dndy[a] * ue[2 * a] + dndx[a] * ue[2 * a + 1];
  }
  const Real vol = lam * (exx + eyy);
  out[0] = vol + 2 * mu * exx;
  out[1] = vol + 2 * mu * eyy;
  out[2] = mu * gxy;
  out[3] = vol;  // plane strain: eps_zz = 0, s_zz = lam tr(eps) = nu (s_xx + s_yy)
}

// Sides of a pixel, named by the neighbour across them.
enum Side : int { kTop = 0, kRight = 1, kBottom = 2, kLeft = 3 };

// Consistent nodal forces of a uniform pressure p on one side of length h of a
// material pixel whose neighbour across that side is lumen. The pressure
// pushes the wall away from the lumen (along the inward normal of the
// material), and the linear shape functions split the resultant p * h equally
// between the two end nodes. Writes the two local node numbers and the force
// (fx, fy) that each of them receives.
template <typename Real>
LM_HD inline void edge_load(int side, Real p, Real h, int nodes[2], Real force[2]) {
  const int first[4] = {0, 1, 2, 3};   // top 0-1, right 1-2, bottom 2-3, left 3-0
  const int second[4] = {1, 2, 3, 0};
  const Real dir_x[4] = {0, -1, 0, 1};  // lumen above pushes +y (down), right pushes -x, ...
  const Real dir_y[4] = {1, 0, -1, 0};
  nodes[0] = first[side];
  nodes[1] = second[side];
  force[0] = dir_x[side] * p * h / 2;
  force[1] = dir_y[side] * p * h / 2;
}

// The six stress planes reported per pixel from the element-centre stress
// s = (s_xx, s_yy, s_xy, s_zz): the four components, von Mises, and the in-plane
// maximum principal stress.
template <typename Real>
LM_HD inline void stress_planes(const Real s[4], Real out[6]) {
  const Real centre = (s[0] + s[1]) / 2, half = (s[0] - s[1]) / 2;
  const Real j2 = ((s[0] - s[1]) * (s[0] - s[1]) + (s[1] - s[3]) * (s[1] - s[3]) +
                   (s[3] - s[0]) * (s[3] - s[0])) / 2 + 3 * s[2] * s[2];
  for (int q = 0; q < 4; ++q) out[q] = s[q];
  out[4] = sqrt(j2);
  out[5] = centre + sqrt(half * half + s[2] * s[2]);
}

}  // namespace fea
}  // namespace latentmine
