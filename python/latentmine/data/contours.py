"""Lumen and vessel contours as point lists, rasterised into label masks.

Public IVUS segmentation benchmarks ship contours, not masks: the lumen and
the media-adventitia border (the external elastic membrane, EEM) as lists of
points per frame (Balocco et al., Comput Med Imaging Graph 2014;38:70-90).
Two layouts are read:

* **one file per frame and contour**: ``<kind>..._<frame>.txt`` (or ``.csv``),
  where ``kind`` is the name's first word (``lumen`` or ``lum``; ``eem``,
  ``med``, ``media`` or ``vessel``; ``lipid``; ``calcium``) and ``frame`` the
  last integer in the name (frame numbers start at 0). Each line holds
  ``x y`` or ``x,y``; blank lines separate several contours of one kind (two
  calcium arcs, say); ``#`` starts a comment; a first line without digits
  is a header. A folder of such files is one pullback.
* **one table per pullback**: a CSV or TXT file (commas, semicolons, tabs or
  spaces) whose header names the columns ``frame``, ``contour`` (the kind),
  ``x``, ``y`` and optionally ``part`` (which contour of that kind, default 0).

Points are in pixels of the native image frame: ``x`` the column, ``y`` the
row, pixel centres at whole numbers. Each frame's mask is rasterised straight
onto the dataset's grid (no second resampling): LUMEN inside the lumen
contour, FIBROUS between the lumen and EEM contours, OUTSIDE beyond the EEM;
lipid, then calcium, contours are drawn on top, inside the wall only.

Each frame is checked before it is rasterised, and the problems are named
with the file and frame: a lumen or EEM contour missing or given twice, fewer
than three points, an open contour (its closing gap is more than five times
its median step), a contour that crosses itself, lumen and EEM contours that
cross, and an EEM inside the lumen. The masks then go through
:func:`latentmine.fea.validate.mask_problems` like every import (see
:mod:`~latentmine.data.frames` for the ``invalid`` policy).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..labels import Label

#: Names of contour kinds in file names and tables -> the kind.
KINDS = {"lumen": "lumen", "lum": "lumen", "eem": "eem", "med": "eem", "media": "eem", "vessel": "eem",
         "lipid": "lipid", "calcium": "calcium"}
SUFFIXES = (".txt", ".csv")
#: A contour is open when the gap from its last point back to its first is
#: longer than this many median steps (and than one pixel).
OPEN_GAP_STEPS = 5.0
_ROWS_PER_BLOCK = 512  # segments per block in the crossing test, to bound memory


@dataclass
class Contour:
    """One closed outline: ``points`` (n, 2) as (x = column, y = row), native pixels."""

    kind: str
    frame: int
    points: np.ndarray
    where: str


def read_contours(path) -> dict:
    """Contours of a pullback, ``{frame: [Contour, ...]}``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For a file whose kind or frame cannot be told from its name, a line
        that is not two numbers, or a table without the needed columns.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such contour file or folder")
    if path.is_file() and _is_table(path):
        contours = _read_table(path)
    else:
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES) if path.is_dir() else [path]
        if not files:
            raise ValueError(f"{path}: no {', '.join(SUFFIXES)} contour files")
        contours = [contour for file in files for contour in _read_points_file(file)]
    by_frame = {}
    for contour in contours:
        by_frame.setdefault(contour.frame, []).append(contour)
    return dict(sorted(by_frame.items()))


def frame_problems(contours) -> list[str]:
    """Why one frame's contours cannot make a mask; empty when they can."""
    problems = []
    for kind in ("lumen", "eem"):
        found = [c for c in contours if c.kind == kind]
        if len(found) != 1:
            problems.append(f"{len(found)} {kind} contours (need exactly one)")
    for contour in contours:
        problems += [f"{contour.where}: {contour.kind} contour {text}" for text in _outline_problems(contour.points)]
    if problems:
        return problems
    lumen, eem = (next(c for c in contours if c.kind == kind) for kind in ("lumen", "eem"))
    if _crossing(lumen.points, eem.points):
        return [f"{lumen.where} / {eem.where}: the lumen and EEM contours cross"]
    from matplotlib.path import Path as Polygon

    if not Polygon(eem.points).contains_point(lumen.points[0]):
        inside = Polygon(lumen.points).contains_point(eem.points[0])
        return [f"{eem.where}: the EEM lies inside the lumen" if inside else f"{lumen.where}: the lumen lies outside the EEM"]
    return []


def rasterise(contours, grid) -> np.ndarray:
    """The uint8 Label mask of one frame's contours on ``grid`` (see the module docstring).

    A pixel is inside an outline when its centre is (even-odd rule).
    """
    from matplotlib.path import Path as Polygon

    rows, cols = np.mgrid[0:grid.shape[0], 0:grid.shape[1]]
    centres = np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float64)

    def area(kind):
        inside = np.zeros(centres.shape[0], bool)
        for contour in contours:
            if contour.kind == kind:
                points = contour.points * (grid.scale[1], grid.scale[0]) + (grid.offset[1], grid.offset[0])
                inside |= Polygon(points).contains_points(centres)
        return inside.reshape(grid.shape)

    lumen, eem = area("lumen"), area("eem")
    mask = np.full(grid.shape, Label.OUTSIDE, np.uint8)
    mask[eem] = Label.FIBROUS
    mask[lumen] = Label.LUMEN
    wall = eem & ~lumen
    mask[area("lipid") & wall] = Label.LIPID
    mask[area("calcium") & wall] = Label.CALCIUM
    return mask


def contour_masks(path, grid, frames, *, frame_count: int):
    """Masks of the chosen ``frames`` that have contours.

    Returns
    -------
    frames : list of int
        The chosen frames with contours, in order; frames without any contour
        are not imported.
    masks : (len(frames), H, W) uint8
    problems : dict of int -> list of str
        Contour problems per frame (handled by :func:`latentmine.data.frames.screen`).
    """
    contours = read_contours(path)
    beyond = [frame for frame in contours if not 0 <= frame < frame_count]
    if beyond:
        raise ValueError(f"{contours[beyond[0]][0].where}: contours for frame(s) {beyond[:8]}, but the images "
                         f"have {frame_count} frame(s), numbered from 0")
    chosen = [frame for frame in frames if frame in contours]
    if not chosen:
        raise ValueError(f"{path}: no contours for any of the chosen frames")
    problems = {frame: found for frame in chosen if (found := frame_problems(contours[frame]))}
    masks = np.stack([rasterise(contours[frame], grid) for frame in chosen])
    return chosen, masks, problems


def _clean(points) -> np.ndarray:
    """Points without repeats of the previous one, or of the first at the end."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if len(points) > 1:
        keep = np.ones(len(points), bool)
        keep[1:] = np.any(np.diff(points, axis=0) != 0, axis=1)
        points = points[keep]
        if len(points) > 1 and np.array_equal(points[0], points[-1]):
            points = points[:-1]
    return points


def _outline_problems(points: np.ndarray) -> list[str]:
    if len(np.unique(points, axis=0)) < 3:
        return [f"has fewer than 3 distinct points ({len(points)})"]
    steps = np.hypot(*np.diff(points, axis=0).T)
    gap = float(np.hypot(*(points[-1] - points[0])))
    median = float(np.median(steps[steps > 0]))
    if gap > max(OPEN_GAP_STEPS * median, 1.0):
        return [f"is open: its last point is {gap:.1f} px from its first (median step {median:.2f} px)"]
    if _crossing(points, points, same=True):
        return ["crosses itself"]
    return []


def _crossing(a: np.ndarray, b: np.ndarray, *, same: bool = False) -> bool:
    """Whether a segment of closed outline ``a`` crosses or touches one of ``b``.

    With ``same`` (``a`` is ``b``), a segment is not compared with itself or
    its two neighbours, which share its end points.
    """
    a0, a1 = a, np.roll(a, -1, axis=0)
    b0, b1 = b[None], np.roll(b, -1, axis=0)[None]
    for start in range(0, len(a), _ROWS_PER_BLOCK):
        p, q = a0[start:start + _ROWS_PER_BLOCK, None], a1[start:start + _ROWS_PER_BLOCK, None]
        d1, d2, d3, d4 = _orient(b0, b1, p), _orient(b0, b1, q), _orient(p, q, b0), _orient(p, q, b1)
        hit = (d1 * d2 <= 0) & (d3 * d4 <= 0) & ~((d1 == 0) & (d2 == 0) & (d3 == 0) & (d4 == 0))
        if same:
            apart = (np.arange(len(b))[None] - np.arange(start, start + len(p))[:, None]) % len(b)
            hit &= (apart > 1) & (apart < len(b) - 1)
        if hit.any():
            return True
    return False


def _orient(p, q, r):
    """Twice the signed area of triangles (p, q, r), broadcast."""
    return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])


_SEPARATORS = re.compile(r"[,;\s]+")


def _is_table(path: Path) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().lower()
    return "frame" in _SEPARATORS.split(header.strip())


def _read_table(path: Path) -> list:
    """A per-pullback table; columns separated by commas, semicolons, tabs or spaces."""
    with open(path, encoding="utf-8") as handle:
        lines = [(number, _SEPARATORS.split(text.strip())) for number, text in enumerate(handle, start=1)
                 if text.strip() and not text.lstrip().startswith("#")]
    column = {name.lower(): index for index, name in enumerate(lines[0][1])}
    missing = [name for name in ("frame", "contour", "x", "y") if name not in column]
    if missing:
        raise ValueError(f"{path}: a contour table needs the columns frame, contour, x, y (missing {missing})")
    groups = {}
    for line, values in lines[1:]:
        try:
            kind = KINDS.get(values[column["contour"]].lower())
            if kind is None:
                raise ValueError(f"{path}:{line}: unknown contour {values[column['contour']]!r} "
                                 f"(use one of {sorted(KINDS)})")
            part = values[column["part"]] if "part" in column else "0"
            key = (int(values[column["frame"]]), kind, part)
            point = (float(values[column["x"]]), float(values[column["y"]]))
        except (IndexError, ValueError) as error:
            if str(error).startswith(str(path)):
                raise
            raise ValueError(f"{path}:{line}: expected {len(column)} values with an integer frame and numbers "
                             f"x, y") from None
        groups.setdefault(key, []).append(point)
    return [Contour(kind, frame, _clean(points), f"{path} (frame {frame}, {kind} {part})")
            for (frame, kind, part), points in groups.items()]


def _read_points_file(file: Path) -> list:
    words = re.split(r"[_\-. ]+", file.stem.lower())
    kind = KINDS.get(words[0])
    numbers = re.findall(r"\d+", file.stem)
    if kind is None or not numbers:
        raise ValueError(f"{file}: cannot tell the contour kind (first word, one of {sorted(KINDS)}) and the frame "
                         f"(last integer) from the file name")
    frame = int(numbers[-1])
    parts, points = [], []
    with open(file, encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            text = text.split("#", 1)[0].strip()
            if not text:
                if points:
                    parts.append(points)
                    points = []
                continue
            values = [v for v in re.split(r"[,;\s]+", text) if v]
            if line == 1 and not re.search(r"\d", text):
                continue  # a header such as "x,y"
            try:
                x, y = (float(v) for v in values)
            except ValueError:
                raise ValueError(f"{file}:{line}: expected two numbers (x y), got {text!r}") from None
            points.append((x, y))
    if points:
        parts.append(points)
    if not parts:
        raise ValueError(f"{file}: no points")
    return [Contour(kind, frame, _clean(p), f"{file}" + (f" (contour {i + 1})" if len(parts) > 1 else ""))
            for i, p in enumerate(parts)]
