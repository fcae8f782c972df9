"""Compiled loops of the per-frame analysis (numba), each the same arithmetic as the numpy code it replaces.

The numpy forms of these steps made whole-array temporaries (index and weight arrays of every sample, a
row-sized step array per module mask): one pass in a compiled loop reads the frame and writes the result
directly. Each kernel keeps the float32/float64 operations of its numpy counterpart in the same order, with
no fused multiply-add (numba's default: no fast-math), so the results are the same bit for bit; the tests
compare them.

The modules that use the kernels import them inside the functions that call them, so that a process that
never analyses a frame (the web app) does not load numba (0.5–0.7 s of CPU and 106 MB of resident memory
here); a process pool's parent loads them before forking
(:func:`gongzhi.modules.pv.analysis_adapter.load_kernels`). The kernels are compiled once per signature
and cached on disk (``cache=True``: beside this file when it is writable, else numba's user-wide cache
directory, or ``NUMBA_CACHE_DIR``); a cold compile costs CPU once per installation or change to this
file, which ``bench/pv/bench_flight.py`` reports: 23.1–24.6 s on 2026-11-29 (up from 12.3 s as kernels were
added); on 2026-12-03, on an AMD EPYC host, 35–37 s, and 51–55 s with the pattern rules
(:func:`classify_map`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from numba import njit

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


def _crops(image: F32, row_c: F64, col_c: F64, pattern_r: F64, pattern_c: F64, out: F32, peaks: F32) -> None:
    h, w = image.shape
    n, rows, cols = out.shape
    flat = image.ravel()
    r_lo, r_hi, c_lo, c_hi = pattern_r.min(), pattern_r.max(), pattern_c.min(), pattern_c.max()
    with_peaks = len(peaks) == n
    for m in range(n):
        # a module inside the frame (all of the layout's crops) needs no clipping
        inside = (
            row_c[m] + r_lo >= 0.0
            and row_c[m] + r_hi <= h - 1.0
            and col_c[m] + c_lo >= 0.0
            and col_c[m] + c_hi <= w - 1.0
        )
        peak = np.float32(-np.inf)
        for i in range(rows):
            interior_row = with_peaks and 0 < i < rows - 1
            for j in range(cols):
                r = row_c[m] + pattern_r[i, j]
                c = col_c[m] + pattern_c[i, j]
                if not inside:
                    r = min(max(r, 0.0), h - 1.0)
                    c = min(max(c, 0.0), w - 1.0)
                r0 = min(int(r), h - 2)
                c0 = min(int(c), w - 2)
                fr = np.float32(r - r0)
                fc = np.float32(c - c0)
                k = r0 * w + c0
                a, b, d, e = flat[k], flat[k + 1], flat[k + w], flat[k + w + 1]
                top = a + (b - a) * fc
                bottom = d + (e - d) * fc
                out[m, i, j] = top + (bottom - top) * fr
                if interior_row and 0 < j < cols - 1:
                    # the pixels a sample of the interior reads, which a sparse grid's values smooth away
                    # (a NaN among them makes the sample NaN, and the map's statistics NaN with it)
                    peak = max(peak, max(max(a, b), max(d, e)))
        if with_peaks:
            peaks[m] = peak


def _run_bounds(at_col0: float, per_col: float, lo: float, hi: float) -> tuple[float, float]:
    if abs(per_col) < 1e-12:
        inside = at_col0 > lo and at_col0 < hi
        return (-np.inf, np.inf) if inside else (np.inf, -np.inf)
    a, b = (lo - at_col0) / per_col, (hi - at_col0) / per_col
    return min(a, b), max(a, b)


def _row_span(mu_k: float, mv_k: float, r: int, pose: F64, glass: F64, w: int) -> tuple[float, float]:
    """First and last column of image row ``r`` inside module k's glass (last < first: none)."""
    u0, v0, uc, vc, ur, vr = pose[0], pose[1], pose[2], pose[3], pose[4], pose[5]
    lo_u, hi_u = _run_bounds_c(u0 + ur * r, uc, mu_k + glass[0], mu_k + glass[1])
    lo_v, hi_v = _run_bounds_c(v0 + vr * r, vc, mv_k + glass[2], mv_k + glass[3])
    first = min(max(np.floor(max(lo_u, lo_v)) + 1, 0.0), float(w))
    last = min(max(np.ceil(min(hi_u, hi_v)) - 1, -1.0), float(w - 1))
    return first, last


def _paint_modules(mu: F64, mv: F64, r_lo: Ints, r_hi: Ints, pose: F64, glass: F64, out: F32) -> None:
    w = out.shape[1]
    for k in range(len(mu)):
        for r in range(r_lo[k], r_hi[k] + 1):
            first, last = _row_span_c(mu[k], mv[k], r, pose, glass, w)
            for c in range(int(first), int(last) + 1):
                out[r, c] = 1.0


def _row_ranges(corners: F64, order: Ints, pose: F64, h: int, r_lo: Ints, r_hi: Ints) -> None:
    x_m, y_m, ux, uy, gsd = pose[0], pose[1], pose[2], pose[3], pose[4]
    half = (h - 1) / 2
    for k in range(len(order)):
        lo, hi = np.inf, -np.inf
        for c in range(4):
            dx, dy = corners[order[k], c, 0] - x_m, corners[order[k], c, 1] - y_m
            row = half - (dx * ux + dy * uy) / gsd
            lo, hi = min(lo, row), max(hi, row)
        r_lo[k] = int(min(max(np.floor(lo), 0.0), float(h)))
        r_hi[k] = int(min(max(np.ceil(hi), -1.0), float(h - 1)))


def _has_nan(a: F32, b: F32, m: int) -> bool:
    """Whether row m of ``a`` or ``b``, both sorted with NaN last, holds a NaN."""
    p, q = a.shape[1], b.shape[1]
    return bool((p > 0 and np.isnan(a[m, p - 1])) or (q > 0 and np.isnan(b[m, q - 1])))


def _union_ranks(a: F32, b: F32, ranks: Ints, out: F32) -> None:
    n, p = a.shape
    q = b.shape[1]
    for m in range(n):
        if _has_nan_c(a, b, m):
            out[m, :] = np.nan
            continue
        for r in range(len(ranks)):
            k = ranks[r] + 1  # the k smallest of the union take i from a and k − i from b
            lo, hi = max(0, k - q), min(k, p)
            while lo < hi:
                i = (lo + hi) // 2
                if i < p and k - i > 0 and b[m, k - i - 1] > a[m, i]:
                    lo = i + 1  # a[i] is among them too
                else:
                    hi = i
            i, j = lo, k - lo
            if i == 0:
                out[m, r] = b[m, j - 1]
            elif j == 0:
                out[m, r] = a[m, i - 1]
            else:
                out[m, r] = max(a[m, i - 1], b[m, j - 1])


def _screen_one(
    residuals: F32, m: int, med: float, peak: float, peak_mark: float, warm: float, border: int, share: float
) -> bool:
    rows, cols = residuals.shape[1], residuals.shape[2]
    top = max(residuals[m, 0, 0], peak)
    above = 0
    for i in range(rows):
        for j in range(cols):
            v = residuals[m, i, j]
            top = max(top, v)
            above += v - med > warm
    # the minimum in a loop of its own over the rows and columns it takes, in the same order
    low = np.float32(np.inf)
    for i in range(border, rows - border):
        for j in range(border, cols - border):
            low = min(low, residuals[m, i, j])
    return bool(
        (top - med >= peak_mark) or (low <= -2.0) or (abs(med) >= 1.5) or (above / (rows * cols) >= share)
    )


def _screen(
    residuals: F32,
    medians: F32,
    peaks: F32,
    peak_mark: float,
    warm: float,
    border: int,
    share: float,
    out: npt.NDArray[np.bool_],
) -> None:
    for m in range(residuals.shape[0]):
        out[m] = _screen_one_c(residuals, m, medians[m], peaks[m], peak_mark, warm, border, share)


def _weighted_ranks(a: F32, b: F32, wa: float, wb: float, ranks: Ints, out: F32) -> None:
    n, p = a.shape
    q = b.shape[1]
    for m in range(n):
        if _has_nan_c(a, b, m):
            out[m, :] = np.nan
            continue
        i, j, r, covered = 0, 0, 0, 0.0
        v = np.float32(np.nan)
        while r < len(ranks) and (i < p or j < q):
            if j >= q or (i < p and a[m, i] <= b[m, j]):
                v, covered, i = a[m, i], covered + wa, i + 1
            else:
                v, covered, j = b[m, j], covered + wb, j + 1
            while r < len(ranks) and ranks[r] < covered:
                out[m, r] = v
                r += 1
        while r < len(ranks):  # the last ranks, when the weights' sum rounds below them
            out[m, r] = v
            r += 1


def _warm_fractions(residuals: F32, levels: F32, warm: float, out: F64) -> None:
    n, rows, cols = residuals.shape
    for m in range(n):
        above = 0
        for i in range(rows):
            for j in range(cols):
                if residuals[m, i, j] - levels[m] > warm:
                    above += 1
        out[m] = above / (rows * cols)


def _block_means(t: F32, k: int, out: F32) -> None:
    oh, ow = out.shape
    scale = np.float32(1 / (k * k))
    if k == 2:
        # the same sums, unrolled: the compiler vectorises this form (about 7x faster)
        zero = np.float32(0.0)
        for y in range(oh):
            top, bottom, row = t[2 * y], t[2 * y + 1], out[y]
            for x in range(ow):
                total = zero + top[2 * x]
                total = total + top[2 * x + 1]
                total = total + bottom[2 * x]
                total = total + bottom[2 * x + 1]
                row[x] = total * scale
        return
    if k == 4:
        # the same sums in the same order, four rows of a block named once each (the compiler unrolls the
        # inner loops and vectorises across the blocks, as for k = 2)
        zero = np.float32(0.0)
        for y in range(oh):
            rows, row = (t[4 * y], t[4 * y + 1], t[4 * y + 2], t[4 * y + 3]), out[y]
            for x in range(ow):
                total = zero
                for i in range(4):
                    src = rows[i]
                    for j in range(4):
                        total = total + src[4 * x + j]
                row[x] = total * scale
        return
    for y in range(oh):
        row = out[y]
        row[:] = 0
        for i in range(k):
            src = t[y * k + i]
            for x in range(ow):
                total = row[x]
                for j in range(k):
                    total += src[x * k + j]
                row[x] = total
        for x in range(ow):
            row[x] *= scale


def _visible(centres: F64, corners: F64, pose: F64, reach: float, bounds: F64, out: Ints) -> int:
    x, y, rx, ry, ux, uy = pose[0], pose[1], pose[2], pose[3], pose[4], pose[5]
    gsd, half_h, half_w = pose[6], pose[7], pose[8]
    limit = reach * reach
    count = 0
    for i in range(centres.shape[0]):
        dx, dy = centres[i, 0] - x, centres[i, 1] - y
        if not dx * dx + dy * dy <= limit:
            continue
        inside = True
        for k in range(4):
            ex, ey = corners[i, k, 0] - x, corners[i, k, 1] - y
            col = (ex * rx + ey * ry) / gsd + half_w
            row = half_h - (ex * ux + ey * uy) / gsd
            if not (row >= bounds[0] and row <= bounds[1] and col >= bounds[2] and col <= bounds[3]):
                inside = False
                break
        if inside:
            out[count] = i
            count += 1
    return count


def _in_box(u: F64, v: F64, order: Ints, keys: F64, row_v: F64, span: float, u_min: float, box: F64,
            out: Ints) -> int:  # fmt: skip
    # the rows whose modules can reach across into the box: a row's modules lie between its neighbours'
    # (rows are clusters of across-row position), so the rows whose mean is inside and one either side
    first_row = max(np.searchsorted(row_v, box[2]) - 1, 0)
    last_row = min(np.searchsorted(row_v, box[3], side="right"), len(row_v) - 1)
    # a row's keys are row · span plus offsets in [0, span − 1] (module_index), so a box wider than the
    # plant is cut to those offsets: uncut, one row's range would run into the next row's keys and count
    # their modules again, past the end of ``out`` (a 1280 × 1024 frame over a small roof)
    off_lo, off_hi = max(box[0] - u_min, 0.0), min(box[1] - u_min, span - 1.0)
    count = 0
    if off_lo > off_hi:
        return count
    for row in range(first_row, last_row + 1):
        # a module's key grows with its u (each rounding is monotonic): those within [u_lo, u_hi] have keys
        # within the keys of u_lo and u_hi, computed as module_index computes them
        start = row * span
        lo = np.searchsorted(keys, start + off_lo)
        hi = np.searchsorted(keys, start + off_hi, side="right")
        for k in range(lo, hi):
            p = order[k]
            if u[p] >= box[0] and u[p] <= box[1] and v[p] >= box[2] and v[p] <= box[3]:
                out[count] = k
                count += 1
    return count


def _module_runs(
    u: F64,
    v: F64,
    order: Ints,
    keys: F64,
    row_v: F64,
    span: float,
    u_min: float,
    box: F64,
    corners: F64,
    at: F64,
    pose: F64,
    glass: F64,
    h: int,
    w: int,
    rows: Ints,
    first: Ints,
    end: Ints,
) -> int:
    # the index cut to the box (in_box), each module's image rows (row_ranges), then its runs row by row
    keep = np.empty(len(order), dtype=np.intp)
    near = order[keep[: _in_box_c(u, v, order, keys, row_v, span, u_min, box, keep)]]
    r_lo, r_hi = np.empty(len(near), dtype=np.intp), np.empty(len(near), dtype=np.intp)
    _row_ranges_c(corners, near, at, h, r_lo, r_hi)
    room = 0
    for k in range(len(near)):
        room += max(r_hi[k] - r_lo[k] + 1, 0)
    if room > len(rows):
        return -room
    n = 0
    for k in range(len(near)):
        for r in range(r_lo[k], r_hi[k] + 1):
            lo, hi = _row_span_c(u[near[k]], v[near[k]], r, pose, glass, w)
            if hi >= lo:
                rows[n], first[n], end[n] = r, int(lo), int(hi) + 1
                n += 1
    return n


def _runs_block_means(rows: Ints, first: Ints, end: Ints, out: F32) -> None:
    oh, ow = out.shape
    out[:] = 0
    for k in range(len(rows)):
        y = rows[k] // 2
        if y >= oh:
            continue
        for c in range(first[k], min(end[k], 2 * ow)):
            out[y, c // 2] += np.float32(0.25)


def _row_prefix(t: F32, out: F64, moments: F64) -> None:
    h = t.shape[0]
    split = h // 2 if len(moments) >= 6 else h
    total, squares = 0.0, 0.0
    lower_total, lower_squares = 0.0, 0.0
    for r in range(h):
        if r == split:
            moments[2], moments[3] = total, squares
        acc = 0.0
        out[r, 0] = 0.0
        if r < split:
            for c in range(t.shape[1]):
                v = np.float64(t[r, c])
                acc += v
                squares += v * v
                out[r, c + 1] = acc
            total += acc
            continue
        # the lower half's own sums as well, from zero (two chains of additions side by side)
        for c in range(t.shape[1]):
            v = np.float64(t[r, c])
            acc += v
            squares += v * v
            lower_squares += v * v
            out[r, c + 1] = acc
        total += acc
        lower_total += acc
    moments[0], moments[1] = total, squares
    if len(moments) >= 6:
        moments[4], moments[5] = lower_total, lower_squares


def _wrapped(prefix: F64, r: int, k: int) -> float:
    w = prefix.shape[1] - 1
    if 0 <= k <= w:
        return float(prefix[r, k])
    q = k // w
    return float(prefix[r, k - q * w] + q * prefix[r, w])


def _run_sums(prefix: F64, rows: Ints, first: Ints, end: Ints, di: int, dj: int, out: F64) -> None:
    h, w = prefix.shape[0], prefix.shape[1] - 1
    for a in range(3):
        left, centre, right = 0.0, 0.0, 0.0
        d = (di + a - 1) % h  # one division here, none per run
        for k in range(len(rows)):
            r = rows[k] + d
            if r >= h:
                r -= h
            c0, c1 = first[k] + dj, end[k] + dj
            if c0 >= 1 and c1 < w:
                left += prefix[r, c1 - 1] - prefix[r, c0 - 1]
                centre += prefix[r, c1] - prefix[r, c0]
                right += prefix[r, c1 + 1] - prefix[r, c0 + 1]
            else:
                left += _wrapped_c(prefix, r, c1 - 1) - _wrapped_c(prefix, r, c0 - 1)
                centre += _wrapped_c(prefix, r, c1) - _wrapped_c(prefix, r, c0)
                right += _wrapped_c(prefix, r, c1 + 1) - _wrapped_c(prefix, r, c0 + 1)
        out[3 * a], out[3 * a + 1], out[3 * a + 2] = left, centre, right


def _column_sums(prefix: F64, rows: Ints, first: Ints, end: Ints, di: int, dj: int, n: int, out: F64) -> None:
    # out[b] for b < n: the sums of :func:`_run_sums` at the shifts (di, dj + b), each added up over the
    # runs in their order as there (and the same values whichever branch reads a prefix inside the row)
    h, w = prefix.shape[0], prefix.shape[1] - 1
    s0, s1, s2 = 0.0, 0.0, 0.0
    d = di % h
    for k in range(len(rows)):
        r = rows[k] + d
        if r >= h:
            r -= h
        c0, c1 = first[k] + dj, end[k] + dj
        if c0 >= 0 and c1 + n - 1 <= w:
            s0 += prefix[r, c1] - prefix[r, c0]
            if n > 1:
                s1 += prefix[r, c1 + 1] - prefix[r, c0 + 1]
            if n > 2:
                s2 += prefix[r, c1 + 2] - prefix[r, c0 + 2]
        else:
            s0 += _wrapped_c(prefix, r, c1) - _wrapped_c(prefix, r, c0)
            if n > 1:
                s1 += _wrapped_c(prefix, r, c1 + 1) - _wrapped_c(prefix, r, c0 + 1)
            if n > 2:
                s2 += _wrapped_c(prefix, r, c1 + 2) - _wrapped_c(prefix, r, c0 + 2)
    out[0], out[1], out[2] = s0, s1, s2


def _climb(
    prefix: F64, rows: Ints, first: Ints, end: Ints, at: Ints, radius: int, steps: int, sub: F64, known: F64
) -> bool:
    # ``known`` keeps every shift's sum once made (NaN before), (2 radius + 3)² about no shift: a move
    # shares six of its nine shifts with the last, and climbs from several starts meet
    o = radius + 1
    sums, line = np.empty(9), np.empty(3)
    for _ in range(steps + 1):
        i, j = at[0], at[1]
        for a in range(3):
            row = known[i + a - 1 + o]
            lo, hi = 3, -1
            for b in range(3):
                if np.isnan(row[j + b - 1 + o]):
                    lo, hi = min(lo, b), b
            if hi >= 0:
                _column_sums_c(prefix, rows, first, end, i + a - 1, j + lo - 1, hi - lo + 1, line)
                for b in range(lo, hi + 1):
                    row[j + b - 1 + o] = line[b - lo]
            for b in range(3):
                sums[3 * a + b] = row[j + b - 1 + o]
        best, move = sums[4], 4
        for m in range(9):
            a, b = m // 3 - 1, m % 3 - 1
            if abs(i + a) <= radius and abs(j + b) <= radius and sums[m] > best:
                best, move = sums[m], m
        if move == 4:
            sub[:] = sums
            return True
        at[0], at[1] = i + move // 3 - 1, j + move % 3 - 1
    return False


def _climbs(
    prefix: F64, rows: Ints, first: Ints, end: Ints, at: Ints, radius: int, steps: int, sub: F64
) -> bool:
    known = np.full((2 * radius + 3, 2 * radius + 3), np.nan)
    for s in range(at.shape[0]):
        if not _climb_c(prefix, rows, first, end, at[s], radius, steps, sub[s], known):
            return False
    return True


def _region_runs(
    rows: Ints, first: Ints, end: Ints, h: int, w: int, dr: int, dc: int, region: Ints,
    out_rows: Ints, out_first: Ints, out_end: Ints,
) -> int:  # fmt: skip
    # the runs row by row (a counting sort by row, each row's runs in their order)
    starts = np.zeros(h + 1, dtype=np.intp)
    for k in range(len(rows)):
        starts[rows[k] + 1] += 1
    for r in range(h):
        starts[r + 1] += starts[r]
    fill, by_row = starts[:h].copy(), np.empty(len(rows), dtype=np.intp)
    for k in range(len(rows)):
        by_row[fill[rows[k]]] = k
        fill[rows[k]] += 1
    lo, hi = np.empty(2 * len(rows) + 2, dtype=np.intp), np.empty(2 * len(rows) + 2, dtype=np.intp)
    dr, dc = dr % h, dc % w
    r0, r1, c0, c1 = region[0], region[1], region[2], region[3]
    n = 0
    for r in range(r0, r1):
        s = r - dr if r >= dr else r - dr + h
        m = 0
        for q in range(starts[s], starts[s + 1]):
            a, b = first[by_row[q]] + dc, end[by_row[q]] + dc
            # the run moved by dc: one piece, or two where it wraps round the right edge
            for piece in range(2):
                if b <= w:
                    pa, pb = (a, b) if piece == 0 else (0, 0)
                elif a >= w:
                    pa, pb = (a - w, b - w) if piece == 0 else (0, 0)
                else:
                    pa, pb = (a, w) if piece == 0 else (0, b - w)
                pa, pb = max(pa, c0), min(pb, c1)
                if pb > pa:
                    # insertion by first column
                    i = m
                    while i > 0 and lo[i - 1] > pa:
                        lo[i], hi[i] = lo[i - 1], hi[i - 1]
                        i -= 1
                    lo[i], hi[i] = pa, pb
                    m += 1
        # touching pieces are one run of the image
        j = 0
        while j < m:
            a, b = lo[j], hi[j]
            j += 1
            while j < m and lo[j] <= b:
                b = max(b, hi[j])
                j += 1
            out_rows[n], out_first[n], out_end[n] = r - r0, a - c0, b - c0
            n += 1
    return n


def _reflect(i: int, n: int) -> int:
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


def _box_filter(t: F32, size: int, subtract: bool, out: F32) -> None:
    h, w = t.shape
    s1 = size // 2
    n = float(size)
    mid = np.empty((h, w), dtype=np.float32)
    # down the columns, all columns at once: the running sums scipy keeps per column line
    acc = np.zeros(w)
    for k in range(size):
        src = t[_reflect_c(k - s1, h)]
        for c in range(w):
            acc[c] += src[c]
    for c in range(w):
        mid[0, c] = acc[c] / n
    for r in range(1, h):
        add, sub, row = t[_reflect_c(r - s1 + size - 1, h)], t[_reflect_c(r - s1 - 1, h)], mid[r]
        for c in range(w):
            acc[c] += np.float64(add[c]) - np.float64(sub[c])
            row[c] = acc[c] / n
    # along the rows two at a time: two running sums side by side, whose additions overlap, and the
    # divisions after them as loops of their own, which the compiler vectorises
    line_a, line_b, sums_a, sums_b = np.empty(w + size), np.empty(w + size), np.empty(w), np.empty(w)
    for r in range(0, h, 2):
        _reflected_c(mid[r], s1, size, line_a)
        _reflected_c(mid[min(r + 1, h - 1)], s1, size, line_b)
        total_a, total_b = 0.0, 0.0
        for k in range(size):
            total_a += line_a[k]
            total_b += line_b[k]
        sums_a[0], sums_b[0] = total_a, total_b
        for c in range(1, w):
            total_a += line_a[c + size - 1] - line_a[c - 1]
            total_b += line_b[c + size - 1] - line_b[c - 1]
            sums_a[c], sums_b[c] = total_a, total_b
        if subtract:
            # t less the filtered value, each rounded to float32 first, as numpy's float32 ``t - low``
            for c in range(w):
                out[r, c] = t[r, c] - np.float32(sums_a[c] / n)
            if r + 1 < h:
                for c in range(w):
                    out[r + 1, c] = t[r + 1, c] - np.float32(sums_b[c] / n)
            continue
        for c in range(w):
            out[r, c] = sums_a[c] / n
        if r + 1 < h:
            for c in range(w):
                out[r + 1, c] = sums_b[c] / n


def _reflected(src: F32, s1: int, size: int, line: F64) -> None:
    # line[k] = src[k - s1] for k < w + size - 1, reflected about the ends (scipy's mode "reflect")
    w = len(src)
    for k in range(s1):
        line[k] = src[_reflect_c(k - s1, w)]
    for k in range(w):
        line[k + s1] = src[k]
    for k in range(w + s1, w + size - 1):
        line[k] = src[_reflect_c(k - s1, w)]


def _other_string_neighbours(centres: F64, cell: Ints, starts: Ints, members: Ints, grid_h: int,
                             strings: Ints, radius: float, table: Ints) -> int:  # fmt: skip
    width = table.shape[1]
    most = 0
    for i in range(len(centres)):
        count = 0
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                c = cell[i] + dx * grid_h + dy
                for k in range(starts[c], starts[c + 1]):
                    j = members[k]
                    if j == i or strings[j] == strings[i]:
                        continue
                    if math.hypot(centres[j, 0] - centres[i, 0], centres[j, 1] - centres[i, 1]) <= radius:
                        if count < width:
                            table[i, count] = j
                        count += 1
        most = max(most, count)
    return most


def _insert_sorted(ordered: Any, n: int, v: Any) -> None:
    # one step of an insertion sort: v into the n sorted values ordered[:n] (no NaN among them or in v),
    # after any equal to it; for a few values a tenth of numba's general sort, which allocates each call
    at = n
    while at > 0 and ordered[at - 1] > v:
        ordered[at] = ordered[at - 1]
        at -= 1
    ordered[at] = v


def _median_3x3(values: F32, out: F32) -> None:
    rows, cols = values.shape
    around = np.empty(9, dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            n = 0
            for a in range(i - 1, i + 2):
                for b in range(j - 1, j + 2):
                    _insert_sorted_c(around, n, values[min(max(a, 0), rows - 1), min(max(b, 0), cols - 1)])
                    n += 1
            out[i, j] = around[4]


def _patch_through(mask: npt.NDArray[np.bool_], r: int, c: int, out: npt.NDArray[np.bool_]) -> None:
    rows, cols = mask.shape
    if not mask[r, c]:
        for i in range(rows):
            for j in range(cols):
                out[i, j] = not mask[i, j]
        return
    out[:, :] = False
    out[r, c] = True
    # a sample is marked as it is pushed, so each is pushed once
    stack = np.empty(rows * cols, dtype=np.intp)
    stack[0] = r * cols + c
    top = 1
    while top:
        top -= 1
        i, j = divmod(stack[top], cols)
        for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            a, b = i + di, j + dj
            if 0 <= a < rows and 0 <= b < cols and mask[a, b] and not out[a, b]:
                out[a, b] = True
                stack[top] = a * cols + b
                top += 1


def _side_lines(residuals: F32, m: int, side: int, length: int, lines: F32) -> None:
    # the ring and the line inside it along one side of map m, less two samples at each corner
    rows, cols = residuals.shape[1], residuals.shape[2]
    for line in range(2):
        for p in range(length):
            if side == 0:
                lines[line, p] = residuals[m, line, p + 2]
            elif side == 1:
                lines[line, p] = residuals[m, rows - 1 - line, p + 2]
            elif side == 2:
                lines[line, p] = residuals[m, p + 2, line]
            else:
                lines[line, p] = residuals[m, p + 2, cols - 1 - line]


def _window_median(values: F32, p: int, length: int, h: int, window: F32) -> np.float32:
    # insertion sort of the 2h + 1 values about p, the ends continued ("nearest"), each NaN after every
    # number as np.partition places it
    for count, q in enumerate(range(p - h, p + h + 1)):
        v = values[min(max(q, 0), length - 1)]
        at = count
        while at > 0 and (window[at - 1] > v or (v == v and window[at - 1] != window[at - 1])):
            window[at] = window[at - 1]
            at -= 1
        window[at] = v
    return np.float32(window[h])


def _edge_one(
    residuals: F32, m: int, size: int, at_least: float, lines: F32, window: F32
) -> tuple[Any, int, int]:
    rows, cols = residuals.shape[1], residuals.shape[2]
    h = size // 2
    zero = np.float32(0.0)
    b, br, bc = zero, 0, 0
    for side in range(4):
        length = cols - 4 if side < 2 else rows - 4
        _side_lines_c(residuals, m, side, length, lines)
        lo0, lo1 = lines[0, :length].min(), lines[1, :length].min()
        bounded = lo0 == lo0 and lo1 == lo1  # a NaN bounds nothing
        for p in range(length):
            if bounded:
                # each line's excess over its least value bounds its excess over any median of it
                bound = (lines[0, p] - lo0) + (lines[1, p] - lo1)
                if bound <= b or bound < at_least:
                    continue
                # and more tightly its excess over the least value of the window about p
                w0, w1 = lines[0, p], lines[1, p]
                for q in range(max(p - h, 0), min(p + h, length - 1) + 1):
                    w0, w1 = min(w0, lines[0, q]), min(w1, lines[1, q])
                bound = (lines[0, p] - w0) + (lines[1, p] - w1)
                if bound <= b or bound < at_least:
                    continue
            e0 = lines[0, p] - _window_median_c(lines[0], p, length, h, window)
            e1 = lines[1, p] - _window_median_c(lines[1], p, length, h, window)
            w = zero
            if e1 >= e0:
                w = (e0 if e0 > zero else zero) + (e1 if e1 > zero else zero)
            if w > b:
                b = w
                br = (0, rows - 1, p + 2, p + 2)[side]
                bc = (p + 2, p + 2, 0, cols - 1)[side]
    return b, br, bc


def _edge_warmth(residuals: F32, size: int, at_least: float, best: F32, at_r: Ints, at_c: Ints) -> None:
    n, rows, cols = residuals.shape
    lines = np.empty((2, max(rows, cols)), dtype=np.float32)
    window = np.empty(size, dtype=np.float32)
    for m in range(n):
        best[m], at_r[m], at_c[m] = _edge_one_c(residuals, m, size, at_least, lines, window)


def _coarse_screen(
    crops: F32,
    offset: F32,
    inner: F32,
    last: F32,
    peaks: F32,
    peak_mark: float,
    warm: float,
    border: int,
    share: float,
    size: int,
    edge_mark: float,
    residuals: F32,
    medians: F32,
    out: npt.NDArray[np.bool_],
) -> None:
    n, rows, cols = crops.shape
    count = inner.shape[1]
    lines = np.empty((2, max(rows, cols)), dtype=np.float32)
    window = np.empty(size, dtype=np.float32)
    mark = np.float32(edge_mark)  # as numpy compares a float32 array with a Python float
    for m in range(n):
        off = offset[m]
        for i in range(rows):
            for j in range(cols):
                residuals[m, i, j] = crops[m, i, j] - off
        warmth = _edge_one_c(residuals, m, size, edge_mark, lines, window)[0]
        # the interior median from the sorted interior: value − offset is monotone in the value
        a, b = inner[m, (count - 1) // 2] - off, inner[m, count // 2] - off
        med = a if count % 2 == 1 else (a + b) / np.float32(2)
        if np.isnan(last[m]):
            med = np.float32(np.nan)
        medians[m] = med
        for j in range(cols):
            residuals[m, 0, j] = med
            residuals[m, rows - 1, j] = med
        for i in range(rows):
            residuals[m, i, 0] = med
            residuals[m, i, cols - 1] = med
        suspect = _screen_one_c(residuals, m, med, peaks[m] - off, peak_mark, warm, border, share)
        out[m] = suspect or warmth >= mark


def _sorted_median(values: F64) -> float:
    # np.median by one sort, NaN when any is NaN (:func:`.modules._median`)
    ordered = np.sort(values)
    n = len(ordered)
    if n == 0 or np.isnan(ordered[n - 1]):
        return np.nan
    mid = n // 2
    return float(ordered[mid]) if n % 2 else float((ordered[mid - 1] + ordered[mid]) / 2)


def _densest_half(values: F64) -> float:
    ordered = np.sort(values)
    n = len(ordered)
    if n == 0 or np.isnan(ordered[n - 1]):
        return np.nan
    h = n // 2 + 1
    best, at = np.inf, 0
    for i in range(n - h + 1):  # np.argmin: the first of the least
        width = ordered[i + h - 1] - ordered[i]
        if width < best:
            best, at = width, i
    return _sorted_median_c(ordered[at : at + h])


def _robust_surface(
    r: F64,
    c: F64,
    values: F64,
    cap: float,
    reach: float,
    near: Ints,
    fit: F64,
    keep: npt.NDArray[np.bool_],
    ref: F64,
) -> None:
    n = len(values)
    start = _densest_half_c(values)
    design = np.empty((n, 6))
    near_start = np.empty(n, dtype=np.bool_)
    fitted = np.zeros(n, dtype=np.bool_)
    for p in range(n):
        design[p, 0], design[p, 1], design[p, 2] = 1.0, r[p], c[p]
        design[p, 3], design[p, 4], design[p, 5] = r[p] * r[p], c[p] * c[p], r[p] * c[p]
        near_start[p] = abs(values[p] - start) <= cap
        fit[p] = start
        keep[p] = True
    dev = np.empty(n)
    for round_ in range(4):
        for p in range(n):
            dev[p] = values[p] - fit[p]
        mad = _sorted_median_c(np.abs(dev - _sorted_median_c(dev)))
        # min(max(0.7, 3 · 1.4826 · mad), cap) as Python's max and min take them (a NaN gives 0.7)
        band = 3 * 1.4826 * mad
        band = band if band > 0.7 else 0.7
        band = cap if cap < band else band
        count, same = 0, round_ > 0
        for p in range(n):
            keep[p] = abs(dev[p]) <= band and near_start[p]
            count += keep[p]
            same = same and keep[p] == fitted[p]
        if count < 12 or same:
            break
        rows = np.flatnonzero(keep)
        a = np.empty((count, 6))
        b = np.empty(count)
        for q in range(count):
            a[q, :] = design[rows[q]]
            b[q] = values[rows[q]]
        # numpy's default rcond, machine precision times the larger side
        coef = np.linalg.lstsq(a, b, np.finfo(np.float64).eps * max(count, 6))[0]
        fit[:] = np.dot(design, coef)
        fitted[:] = keep
    # beyond the last fit's inliers the surface extrapolates: it stays within ``reach`` of what it is among
    # them (a quadratic fitted to one row of modules, a yaw's jitter apart, reached thousands of kelvin on
    # the next row)
    lo, hi, any_fitted = np.inf, -np.inf, False
    for p in range(n):
        if fitted[p] and np.isfinite(fit[p]):
            lo = fit[p] if fit[p] < lo else lo
            hi = fit[p] if fit[p] > hi else hi
            any_fitted = True
    if any_fitted:
        for p in range(n):
            if fit[p] < lo - reach:
                fit[p] = lo - reach
            elif fit[p] > hi + reach:
                fit[p] = hi + reach
    # the reference: the surface plus the median residual of the inlying neighbours (np.nanmedian of the
    # residuals of those listed in near, −1 for none, as one sort with NaN last gives it: the values not
    # NaN sorted, by insertion (a few each), the middle of the finite ones picked from them)
    resid = np.empty(n)
    for p in range(n):
        resid[p] = values[p] - fit[p] if keep[p] else np.nan
    ordered = np.empty(near.shape[1])
    for p in range(n):
        size, count = 0, 0
        for k in range(near.shape[1]):
            if near[p, k] < 0 or np.isnan(resid[near[p, k]]):
                continue
            v = resid[near[p, k]]
            count += np.isfinite(v)
            _insert_sorted_c(ordered, size, v)
            size += 1
        ref[p] = fit[p]
        if count:
            ref[p] += (ordered[(count - 1) // 2] + ordered[count // 2]) / 2


# --- the rules' means (numpy's float32 summation order) ---------------------------------------------------


def _pairwise_block(a: F32, lo: int, n: int) -> np.float32:
    # numpy's pairwise sum of up to 128 values (float32): under 8 in turn from -0.0, else eight interleaved
    # partial sums joined as a tree and the rest after them in turn
    if n < 8:
        res = np.float32(-0.0)
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        b = lo + i
        r0 += a[b]
        r1 += a[b + 1]
        r2 += a[b + 2]
        r3 += a[b + 3]
        r4 += a[b + 4]
        r5 += a[b + 5]
        r6 += a[b + 6]
        r7 += a[b + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return np.float32(res)


def _pairwise(a: F32, lo: int, n: int) -> np.float32:
    # numpy's pairwise sum of a[lo : lo + n]: more than 128 values split in two at a multiple of 8 and the
    # halves' sums added, walked with a stack (numba's cache does not keep recursive functions safely)
    if n <= 128:
        return _pairwise_block_c(a, lo, n)
    todo = np.empty((64, 3), dtype=np.intp)
    sums = np.empty(64, dtype=np.float32)
    todo[0, 0], todo[0, 1], todo[0, 2] = lo, n, 0
    top, held = 1, 0
    while top:
        top -= 1
        start, count, join = todo[top, 0], todo[top, 1], todo[top, 2]
        if join:
            held -= 1
            sums[held - 1] = sums[held - 1] + sums[held]
        elif count <= 128:
            sums[held] = _pairwise_block_c(a, start, count)
            held += 1
        else:
            half = count // 2
            half -= half % 8
            todo[top, 0], todo[top, 1], todo[top, 2] = 0, 0, 1
            todo[top + 1, 0], todo[top + 1, 1], todo[top + 1, 2] = start + half, count - half, 0
            todo[top + 2, 0], todo[top + 2, 1], todo[top + 2, 2] = start, half, 0
            top += 3
    return np.float32(sums[0])


def _flat_mean(values: F32, flat: F32) -> np.float32:
    # values.mean(): numpy sums a small 2-D array through a buffer in C order, from +0.0, and divides by the
    # count in float64
    rows, cols = values.shape
    if rows * cols == 0:
        return np.float32(np.nan)
    for i in range(rows):
        for j in range(cols):
            flat[i * cols + j] = values[i, j]
    total = np.float32(0.0) + _pairwise_c(flat, 0, rows * cols)
    return np.float32(np.float64(total) / (rows * cols))


def _rule_means(values: F32, k: int, portrait: bool, cells: F32, thirds: F32) -> np.float32:
    rows, cols = values.shape
    flat = np.empty(max(rows * cols, 1), dtype=np.float32)
    if cells.size == 0:
        return _flat_mean_c(values, flat)
    cv, cu = cells.shape
    for i in range(cv):
        for j in range(cu):
            # np.add.reduce over the (k, k) axes: from +0.0, each row of the cell summed pairwise in turn;
            # a single column of cells lies in one run, which numpy sums pairwise as one
            total = np.float32(0.0)
            if cu == 1:
                for a in range(k):
                    for b in range(k):
                        flat[a * k + b] = values[i * k + a, b]
                total += _pairwise_c(flat, 0, k * k)
            else:
                for a in range(i * k, (i + 1) * k):
                    for b in range(k):
                        flat[b] = values[a, j * k + b]
                    total += _pairwise_c(flat, 0, k)
            cells[i, j] = np.float32(np.float64(total) / (k * k))
    if thirds.size:
        n = cu if portrait else cv
        each, extra = n // 3, n % 3
        start = 0
        for t in range(3):
            end = start + each + (1 if t < extra else 0)
            part = cells[:, start:end] if portrait else cells[start:end, :]
            thirds[t] = _flat_mean_c(part, flat)
            start = end
    return np.float32(np.nan)


# --- the rules' whole hot cells ------------------------------------------------------------------------


def _count_at_least(glass: F32, r0: int, r1: int, c0: int, c1: int, level: np.float32) -> int:
    n = 0
    for a in range(r0, r1):
        for b in range(c0, c1):
            if glass[a, b] >= level:
                n += 1
    return n


def _steepest_in(glass: F32, r0: int, r1: int, c0: int, c1: int) -> np.float32:
    # the largest step between neighbouring samples along either axis, down first (Python's max of the two)
    down = np.float32(-np.inf)
    for a in range(r0 + 1, r1):
        for b in range(c0, c1):
            down = max(down, abs(glass[a, b] - glass[a - 1, b]))
    across = np.float32(-np.inf)
    for a in range(r0, r1):
        for b in range(c0 + 1, c1):
            across = max(across, abs(glass[a, b] - glass[a, b - 1]))
    return np.float32(across if across > down else down)


def _hot_cells(glass: F32, cells: F32, k: int, edge_step: float) -> int:
    cv, cu = cells.shape
    rows, cols = glass.shape
    ordered = np.sort(cells.ravel())
    n = ordered.size
    if np.isnan(ordered[n - 1]):
        return 0  # a NaN base: no cell is hot
    mid = n // 2
    base32 = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / np.float32(2)
    base = np.float64(base32)
    surround = np.empty((cv, cu), dtype=np.float32)
    _median_3x3_c(cells, surround)
    most = np.float32(-np.inf)
    for i in range(cv):
        for j in range(cu):
            most = max(most, cells[i, j] - base32)
    half = 0.5 * np.float64(most)
    mark = np.float32(half if half > 3.0 else 3.0)
    # candidates in np.nonzero's order: (i, j, own count, sharp)
    cand = np.empty((cv * cu, 4), dtype=np.intp)
    rises = np.empty(cv * cu, dtype=np.float64)
    levels = np.empty(cv * cu, dtype=np.float64)
    found = 0
    for i in range(cv):
        for j in range(cu):
            if not (cells[i, j] - base32 >= mark and cells[i, j] - surround[i, j] >= np.float32(2.0)):
                continue
            r, c, top = 0, 0, glass[i * k, j * k]
            for a in range(k):
                for b in range(k):
                    if glass[i * k + a, j * k + b] > top:
                        r, c, top = a, b, glass[i * k + a, j * k + b]
            rise = np.float64(top) - base
            level = base + 0.5 * rise
            pr, pc = i * k + r, j * k + c
            inside = _count_at_least_c(
                glass,
                max(pr - k, 0),
                min(pr + k + 1, rows),
                max(pc - k, 0),
                min(pc + k + 1, cols),
                np.float32(level),
            )
            if np.float64(inside) / (k * k) >= 0.55:
                cand[found, 0], cand[found, 1] = i, j
                rises[found], levels[found] = rise, level
                found += 1
    if found < 2:
        return found
    any_sharp = False
    for f in range(found):
        i, j = cand[f, 0], cand[f, 1]
        cand[f, 2] = _count_at_least_c(glass, i * k, (i + 1) * k, j * k, (j + 1) * k, np.float32(levels[f]))
        step = _steepest_in_c(
            glass,
            max(i * k - 1, 0),
            min((i + 1) * k + 1, rows),
            max(j * k - 1, 0),
            min((j + 1) * k + 1, cols),
        )
        cand[f, 3] = 1 if np.float64(step) >= edge_step * rises[f] else 0
        any_sharp = any_sharp or cand[f, 3] == 1
    hot = 0
    for f in range(found):
        if any_sharp and cand[f, 3] == 0:
            continue
        own = cand[f, 2]
        moved = False
        if own <= k:
            for g in range(found):
                if g == f or (any_sharp and cand[g, 3] == 0):
                    continue
                if (
                    abs(cand[g, 0] - cand[f, 0]) <= 1
                    and abs(cand[g, 1] - cand[f, 1]) <= 1
                    and cand[g, 2] > own
                ):
                    moved = True
        hot += 0 if moved else 1
    return hot


# --- the pattern rules (modules._classify) ---------------------------------------------------------------

# what :func:`_classify_map` returns: the class of the map, or RULES_PUNT where the Python rules must decide
RULES_PUNT = -1
RULES_NONE = 0
RULES_OFFLINE = 1
RULES_SUBSTRING = 2
RULES_COOL = 3
RULES_BOX = 4
RULES_HOT_SPOT = 5
RULES_HOT_CELL = 6
RULES_HOT_CELLS = 7
RULES_SOILING = 8
RULES_CRACKING = 9
RULES_DEPTH = 8
"""The most maps a reflection's rests nest to before the kernel leaves the map to the Python rules."""
RULES_LARGEST = 1e30
"""The largest value [K] the kernel takes in a map; the Python rules decide a map with a larger one."""


def _rules_percentile(values: F32, q: float) -> float:
    # modules._percentile: numpy's virtual index, and its lerp in float32 (NEP 50: the Python
    # float t is cast to float32 before it multiplies)
    flat = values.flatten()
    n = flat.size
    quantile = q / 100
    virtual = n * quantile + (1 - quantile) - 1
    lo = min(max(math.floor(virtual), 0), n - 1)
    # the values of ranks lo and lo + 1 (the last rank's for both at the top), by a selection, not a sort
    a = _rules_select_c(flat, n, lo)
    b = a
    if lo + 1 < n:
        b = flat[lo + 1]
        for i in range(lo + 2, n):
            b = min(b, flat[i])
    t = virtual - lo
    if t >= 0.5:
        return np.float64(b - (b - a) * np.float32(1 - t))
    return np.float64(a + (b - a) * np.float32(t))


def _rules_select(buf: F32, n: int, kth: int) -> np.float32:
    # the kth smallest of buf[:n] (no NaN), left at buf[kth] with none larger before it: Hoare's selection
    # about a median of three (np.partition in a compiled loop took 20 µs for a map's 1,152 values)
    lo, hi = 0, n - 1
    while hi > lo:
        a, b, c = buf[lo], buf[(lo + hi) // 2], buf[hi]
        pivot = max(min(a, b), min(max(a, b), c))
        i, j = lo, hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                buf[i], buf[j] = buf[j], buf[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            break
    return np.float32(buf[kth])


def _rules_median(values: F32) -> tuple[float, bool]:
    # modules._median_kept of values without NaN: the middle rank (and the one below it for an even count)
    flat = values.flatten()
    n = flat.size
    mid = n // 2
    upper = _rules_select_c(flat, n, mid)
    if n % 2:
        return np.float64(upper), upper != 0
    below = flat[0]
    for i in range(1, mid):
        below = max(below, flat[i])
    median = (below + upper) / np.float32(2)
    return np.float64(median), below == upper and math.isfinite(median) and median != 0


def _rules_max(values: F32) -> float:
    top = values[0, 0]
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            top = max(top, values[i, j])
    return np.float64(top)


def _rules_fill(glass: F32, r: int, c: int, k: int, level: float) -> float:
    # modules._fill: samples at or above the level (cast to float32, as numpy compares) within a cell's reach
    rows, cols = glass.shape
    n = _count_at_least_c(glass, max(r - k, 0), min(r + k + 1, rows), max(c - k, 0), min(c + k + 1, cols),
                          np.float32(level))  # fmt: skip
    return np.float64(n) / (k * k)


def _rules_reflected(
    glass: F32, r: int, c: int, k: int, peak: float, fill: float, edge_step: float, mask: Bools, patch: Bools
) -> bool:
    # modules._looks_reflected, _steepest and _spans_module
    if peak < 3.0 or fill < 1.0:
        return False
    rows, cols = glass.shape
    r0, r1, c0, c1 = max(r - k, 0), min(r + k + 1, rows), max(c - k, 0), min(c + k + 1, cols)
    down = np.float32(0.0)
    for a in range(r0 + 1, r1):
        for b in range(c0, c1):
            down = max(down, abs(glass[a, b] - glass[a - 1, b]))
    across = np.float32(0.0)
    for a in range(r0, r1):
        for b in range(c0 + 1, c1):
            across = max(across, abs(glass[a, b] - glass[a, b - 1]))
    if np.float64(max(down, across)) >= edge_step * peak:
        return False
    level = np.float32(np.float64(glass[r, c]) - 0.5 * peak)
    for a in range(rows):
        for b in range(cols):
            mask[a, b] = glass[a, b] >= level
    _patch_through_c(mask, r, c, patch)
    across_lo = across_hi = along_lo = along_hi = False
    for b in range(cols):
        across_lo = across_lo or patch[1, b]
        across_hi = across_hi or patch[rows - 2, b]
    for a in range(rows):
        along_lo = along_lo or patch[a, 1]
        along_hi = along_hi or patch[a, cols - 2]
    return not ((across_lo and across_hi) or (along_lo and along_hi))


def _rules_without(
    residual: F32, glass: F32, r: int, c: int, m: float, peak: float, mask: Bools, patch: Bools, out: F32
) -> None:
    # modules._without: the patch down to a tenth of the peak, grown by one sample, set to the median
    rows, cols = glass.shape
    level = np.float32(m + 0.1 * peak)
    for a in range(rows):
        for b in range(cols):
            mask[a, b] = glass[a, b] >= level
    _patch_through_c(mask, r, c, patch)
    to = np.float32(m)
    for a in range(rows):
        for b in range(cols):
            grown = (
                patch[a, b]
                or (a > 0 and patch[a - 1, b])
                or (a < rows - 1 and patch[a + 1, b])
                or (b > 0 and patch[a, b - 1])
                or (b < cols - 1 and patch[a, b + 1])
            )
            out[a, b] = to if grown else residual[a, b]


def _rules_after(
    residual: F32,
    glass: F32,
    m: float,
    r: int,
    c: int,
    peak: float,
    fill: float,
    cu: int,
    cv: int,
    k: int,
    portrait: bool,
    spread: float,
    near_box: Bools,
    box: F64,
    edge_step: float,
    info: F64,
) -> int:
    # what modules._classify does after the reflection check: junction box, hot spot, hot cells, soiling,
    # cracking; info[0] = the class's value
    rows, cols = residual.shape
    flat = np.empty(rows * cols, dtype=np.float32)
    if peak >= 4.0:
        r0, r1, c0, c1 = max(r - 1, 0), min(r + 2, rows), max(c - 1, 0), min(c + 2, cols)
        around = np.empty((r1 - r0, c1 - c0), dtype=np.float32)
        m32 = np.float32(m)
        for a in range(r0, r1):
            for b in range(c0, c1):
                around[a - r0, b - c0] = glass[a, b] - m32
        mean = np.float64(_flat_mean_c(around, flat))
        sharpness = peak / (1e-6 if mean < 1e-6 else mean)  # Python's max(mean, 1e-6), no NaN here
        level = np.float32(m + 0.5 * peak)
        if near_box[r, c] and sharpness >= 1.3:
            # modules._spans_box
            if portrait:
                axis = box[0] * cols
                one = glass[r, min(max(math.floor(axis - 0.5), 0), cols - 1)]
                two = glass[r, min(max(math.floor(axis + 0.5), 0), cols - 1)]
            else:
                axis = (1 - box[1]) * rows
                one = glass[min(max(math.floor(axis - 0.5), 0), rows - 1), c]
                two = glass[min(max(math.floor(axis + 0.5), 0), rows - 1), c]
            if min(one, two) >= level:
                info[0] = _rules_max_c(residual)
                return RULES_BOX
        if (fill <= 0.25 * spread and sharpness >= 1.9 / math.sqrt(spread)) or (peak >= 7.0 and fill < 0.45):
            info[0] = _rules_max_c(residual)
            return RULES_HOT_SPOT
    cells = np.empty((cv, cu), dtype=np.float32)
    _rule_means_c(glass, k, False, cells, np.empty(0, dtype=np.float32))
    hot = _hot_cells_c(glass, cells, k, edge_step)
    if hot:
        info[0] = _rules_max_c(residual)
        return RULES_HOT_CELL if hot == 1 else RULES_HOT_CELLS
    third = rows // 3
    top, _ = _rules_median_c(residual[:third])
    top32 = np.float32(top)
    warm = 0
    for a in range(rows):
        for b in range(cols):
            warm += residual[a, b] - top32 > np.float32(0.5)
    warm_fraction = warm / (rows * cols)
    low_heavy = np.float64(_flat_mean_c(residual[2 * rows // 3 :], flat)) - np.float64(
        _flat_mean_c(residual[:third], flat)
    )
    if warm_fraction >= 0.12:
        soiled = low_heavy >= 0.25
        if not soiled:
            # modules._dust_band: the median of the lowest row of cells' k rows, column by column
            column = np.empty(k, dtype=np.float32)
            dusty = 0
            for b in range(1, cols - 1):
                for a in range(k):
                    column[a] = glass[rows - k - 1 + a, b]
                column.sort()
                if k % 2:
                    med = column[k // 2]
                else:
                    med = np.float32(np.float64(column[k // 2 - 1] + column[k // 2]) / 2)
                dusty += med - top32 >= np.float32(0.5)
            soiled = dusty / (cols - 2) >= 0.9
        if soiled:
            info[0] = _rules_percentile_c(residual, 95.0) - top
            return RULES_SOILING
    if peak >= 1.5 and fill < 1.0:
        info[0] = _rules_max_c(residual)
        return RULES_CRACKING
    return RULES_NONE


def _classify_map(
    residual: F32,
    cu: int,
    cv: int,
    k: int,
    portrait: bool,
    given: float,
    spread: float,
    near_box: Bools,
    box: F64,
    edge_step: float,
    cool: Bools,
    info: F64,
) -> int:
    rows, cols = residual.shape
    for a in range(rows):
        for b in range(cols):
            # NaN, infinity, or a value whose sums could overflow (a NaN from inf − inf would then meet
            # comparisons that numpy and the compiled min and max treat apart)
            if not abs(residual[a, b]) <= RULES_LARGEST:
                return RULES_PUNT
    maps = np.empty((RULES_DEPTH, rows, cols), dtype=np.float32)
    glasses = np.empty((RULES_DEPTH, rows, cols), dtype=np.float32)
    medians, peaks, fills = np.empty(RULES_DEPTH), np.empty(RULES_DEPTH), np.empty(RULES_DEPTH)
    at = np.empty((RULES_DEPTH, 2), dtype=np.intp)
    mask = np.empty((rows, cols), dtype=np.bool_)
    patch = np.empty((rows, cols), dtype=np.bool_)
    cells = np.empty((cv, cu), dtype=np.float32)
    thirds = np.empty(3, dtype=np.float32)
    maps[0] = residual
    known, kept = False, True
    m = given
    if math.isnan(given):
        m, kept = _rules_median_c(residual)
    n_split = cu if portrait else cv
    each, extra = n_split // 3, n_split % 3
    d = 0
    while True:
        res = maps[d]
        if d > 0:
            # the rest of a map: its median is the map's where setting samples to it kept it the median
            known = kept
            if not kept:
                m, kept = _rules_median_c(res)
        _rule_means_c(res, k, portrait, cells, thirds)
        low, high = min(thirds[0], min(thirds[1], thirds[2])), max(thirds[0], max(thirds[1], thirds[2]))
        if low >= 2.0 and high - low < 1.5 and _rules_percentile_c(cells, 10.0) >= 1.5:
            info[0] = m
            return RULES_OFFLINE
        n_warm, warm_sum = 0, np.float32(0.0)
        start = 0
        for t in range(3):
            end = start + each + (1 if t < extra else 0)
            part = cells[:, start:end] if portrait else cells[start:end, :]
            if thirds[t] - low >= np.float32(2.0) and _rules_percentile_c(part, 10.0) - low >= 1.5:
                warm_sum = thirds[t] if n_warm == 0 else warm_sum + thirds[t]
                n_warm += 1
            start = end
        if 1 <= n_warm < 3:
            info[0] = np.float64(np.float32(np.float64(warm_sum) / n_warm))
            return RULES_SUBSTRING
        if not known or m < -2.0:
            count = 0
            for a in range(rows):
                for b in range(cols):
                    # below the rules' cool mark (modules.COOL_MARK_K), less the ring next to the frame
                    cool[a, b] = res[a, b] < -2.0 and a != 1 and a != rows - 2 and b != 1 and b != cols - 2
                    count += cool[a, b]
            if count >= 3 * k:
                inward = 0
                for a in range(rows):
                    for b in range(cols):
                        keep = cool[a, b]
                        if a == 2:
                            keep = keep and cool[3, b]
                        if a == rows - 3:
                            keep = keep and cool[rows - 4, b]
                        if b == 2:
                            keep = keep and cool[a, 3]
                        if b == cols - 3:
                            keep = keep and cool[a, cols - 4]
                        inward += keep
                if inward >= 3 * k:
                    low_value = res[0, 0]
                    for a in range(rows):
                        for b in range(cols):
                            low_value = min(low_value, res[a, b])
                    info[0] = np.float64(low_value)
                    return RULES_COOL
        # the first hottest sample (np.argmax)
        r, c, hottest = 0, 0, res[0, 0]
        for a in range(rows):
            for b in range(cols):
                if res[a, b] > hottest:
                    r, c, hottest = a, b, res[a, b]
        peak = np.float64(hottest) - m
        glass = glasses[d]
        glass[:, :] = res
        glass[0, :] = res[1, :]
        glass[rows - 1, :] = res[rows - 2, :]
        for a in range(rows):
            glass[a, 0] = glass[a, 1]
            glass[a, cols - 1] = glass[a, cols - 2]
        fill = _rules_fill_c(glass, r, c, k, m + 0.5 * peak)
        medians[d], peaks[d], fills[d], at[d, 0], at[d, 1] = m, peak, fill, r, c
        if not _rules_reflected_c(glass, r, c, k, peak, fill, edge_step, mask, patch):
            break
        if d + 1 == RULES_DEPTH:
            return RULES_PUNT
        # what else the module shows, in place across views where the reflection moves
        _rules_without_c(res, glass, r, c, m, peak, mask, patch, maps[d + 1])
        d += 1
    while d >= 0:
        r, c = at[d, 0], at[d, 1]
        found = _rules_after_c(maps[d], glasses[d], medians[d], r, c, peaks[d], fills[d], cu, cv, k, portrait,
                             spread, near_box, box, edge_step, info)  # fmt: skip
        if found != RULES_NONE:
            info[1], info[2], info[3] = (c + 0.5) / cols, 1 - (r + 0.5) / rows, fills[d]
            return found
        d -= 1
    return RULES_NONE


def _compiled(fn: Callable[..., Any], signature: str) -> Callable[..., Any]:
    return cast(Callable[..., Any], njit(signature, cache=True, nogil=True)(fn))


_run_bounds_c = njit(cache=True, nogil=True)(_run_bounds)
_row_span_c = njit(cache=True, nogil=True)(_row_span)
_wrapped_c = njit(cache=True, nogil=True)(_wrapped)
_reflect_c = njit(cache=True, nogil=True)(_reflect)
_reflected_c = njit(cache=True, nogil=True)(_reflected)
_has_nan_c = njit(cache=True, nogil=True)(_has_nan)
_in_box_c = njit(cache=True, nogil=True)(_in_box)
_row_ranges_c = njit(cache=True, nogil=True)(_row_ranges)
_column_sums_c = njit(cache=True, nogil=True)(_column_sums)
_climb_c = njit(cache=True, nogil=True)(_climb)
_side_lines_c = njit(cache=True, nogil=True)(_side_lines)
_sorted_median_c = njit(cache=True, nogil=True)(_sorted_median)
_densest_half_c = njit(cache=True, nogil=True)(_densest_half)
_window_median_c = njit(cache=True, nogil=True)(_window_median)
_edge_one_c = njit(cache=True, nogil=True)(_edge_one)
_screen_one_c = njit(cache=True, nogil=True)(_screen_one)
_pairwise_block_c = njit(cache=True, nogil=True)(_pairwise_block)
_pairwise_c = njit(cache=True, nogil=True)(_pairwise)
_flat_mean_c = njit(cache=True, nogil=True)(_flat_mean)
_insert_sorted_c = njit(cache=True, nogil=True)(_insert_sorted)
_median_3x3_c = njit(cache=True, nogil=True)(_median_3x3)
_count_at_least_c = njit(cache=True, nogil=True)(_count_at_least)
_steepest_in_c = njit(cache=True, nogil=True)(_steepest_in)
_rule_means_c = njit(cache=True, nogil=True)(_rule_means)
_hot_cells_c = njit(cache=True, nogil=True)(_hot_cells)
_patch_through_c = njit(cache=True, nogil=True)(_patch_through)
_rules_percentile_c = njit(cache=True, nogil=True)(_rules_percentile)
_rules_select_c = njit(cache=True, nogil=True)(_rules_select)
_rules_median_c = njit(cache=True, nogil=True)(_rules_median)
_rules_max_c = njit(cache=True, nogil=True)(_rules_max)
_rules_fill_c = njit(cache=True, nogil=True)(_rules_fill)
_rules_reflected_c = njit(cache=True, nogil=True)(_rules_reflected)
_rules_without_c = njit(cache=True, nogil=True)(_rules_without)
_rules_after_c = njit(cache=True, nogil=True)(_rules_after)

crops: Callable[[F32, F64, F64, F64, F64, F32, F32], None] = _compiled(
    _crops,
    "void(float32[:, ::1], float64[::1], float64[::1], float64[:, ::1], float64[:, ::1], float32[:, :, ::1],"
    " float32[::1])",
)
"""Bilinear samples of ``image`` at ``(row_c[m] + pattern_r, col_c[m] + pattern_c)`` for each m into ``out``
(N, rows, cols), coordinates clipped into the image: :func:`.georef.bilinear`'s arithmetic per sample. When
``peaks`` has N entries, ``peaks[m]`` = the largest of the four pixels each sample of map m's interior
(less its outermost samples) interpolates between (left undefined where the map has a NaN, whose
statistics are NaN); pass an empty array otherwise."""

union_ranks: Callable[[F32, F32, Ints, F32], None] = _compiled(
    _union_ranks, "void(float32[:, ::1], float32[:, ::1], intp[::1], float32[:, ::1])"
)
"""``out[m, r]`` = the ``ranks[r]``-th smallest value (0-based) of rows m of ``a`` and ``b`` together, both
rows sorted (NaN last): ``np.sort(np.concatenate([a[m], b[m]]))[ranks[r]]``, found by a binary search for
how many of those smallest come from ``a`` instead of a merge; NaN throughout for rows with a NaN."""

screen: Callable[[F32, F32, F32, float, float, int, float, npt.NDArray[np.bool_]], None] = _compiled(
    _screen,
    "void(float32[:, :, ::1], float32[::1], float32[::1], float64, float64, intp, float64, boolean[::1])",
)
"""Which maps (N, rows, cols) deviate from a healthy module (:func:`.modules.screen_and_classify`'s test):
the maximum, at least ``peaks[m]`` (−inf for none), ``peak_mark`` above the median; the minimum less
``border`` samples at each edge 2 K below zero; the median 1.5 K off; or a ``share`` of the samples ``warm``
above the median."""

weighted_ranks: Callable[[F32, F32, float, float, Ints, F32], None] = _compiled(
    _weighted_ranks, "void(float32[:, ::1], float32[:, ::1], float64, float64, intp[::1], float32[:, ::1])"
)
"""``out[m, r]`` = the value of rank ``ranks[r]`` (ascending, 0-based) of rows m of ``a`` and ``b`` merged,
both rows sorted (NaN last), where each value of ``a`` stands for ``wa`` ranks and each of ``b`` for ``wb``:
the value whose ranks cover ``ranks[r]``, the largest for ranks past the weights' sum; NaN throughout for
rows with a NaN. A sparse map's order statistics read as those of a denser map of the same module, its
interior (``a``) and ring (``b``) standing for their shares of the denser map's samples."""

warm_fractions: Callable[[F32, F32, float, F64], None] = _compiled(
    _warm_fractions, "void(float32[:, :, ::1], float32[::1], float64, float64[::1])"
)
"""Fraction of each map (N, rows, cols) more than ``warm`` above its level, ``np.mean(map − level > warm)``
[-]."""

block_means: Callable[[F32, int, F32], None] = _compiled(
    _block_means, "void(float32[:, ::1], intp, float32[:, ::1])"
)
"""``out`` = means of k × k blocks of ``t``: each block summed in float32 row by row from zero, then scaled by
1 / k² (the order of :func:`.georef._downsample`'s strided sums)."""

visible: Callable[[F64, F64, F64, float, F64, Ints], int] = _compiled(
    _visible, "intp(float64[:, ::1], float64[:, :, ::1], float64[::1], float64, float64[::1], intp[::1])"
)
"""Writes into ``out`` the indices of the modules, in order, whose centre (``centres`` (N, 2)) lies within
``reach`` of the frame's centre (dx² + dy² ≤ reach²) and whose four corners (``corners`` (N, 4, 2)) lie
inside ``bounds`` (least and greatest row, least and greatest column) as
:meth:`.georef.FrameGeometry.xy_to_pixel` places them at ``pose`` (the centre's x and y, the image's right
and up as (east, north), the GSD, (height − 1) / 2, (width − 1) / 2) [m], [px]: its arithmetic per corner;
returns how many."""

in_box: Callable[[F64, F64, Ints, F64, F64, float, float, F64, Ints], int] = _compiled(
    _in_box,
    "intp(float64[::1], float64[::1], intp[::1], float64[::1], float64[::1], float64, float64, float64[::1],"
    " intp[::1])",
)
"""Writes into ``out`` the k with ``(u, v)[order[k]]`` inside ``box`` (u_lo, u_hi, v_lo, v_hi, closed), in
ascending order, of a :class:`.georef.ModuleIndex` (``keys``, ``row_v``, ``span``, ``u_min``) or a cut of
it; returns how many. Instead of testing every module, a binary search over the sorted keys finds the few
each row can have inside the box, and only the rows next to the box are searched."""

paint_modules: Callable[[F64, F64, Ints, Ints, F64, F64, F32], None] = _compiled(
    _paint_modules,
    "void(float64[::1], float64[::1], intp[::1], intp[::1], float64[::1], float64[::1], float32[:, ::1])",
)
"""Paint each module's glass into ``out`` row by row, rows ``r_lo[k]`` to ``r_hi[k]``: along image row r the
glass is the open interval of columns where ``u0 + ur·r + uc·col`` lies strictly between ``mu[k] +
glass[0]`` and ``mu[k] + glass[1]`` and the same for v (``pose`` = u0, v0, uc, vc, ur, vr; ``glass`` = the
four offsets) [m]: :func:`.georef.module_mask`'s arithmetic per row and module."""

row_ranges: Callable[[F64, Ints, F64, int, Ints, Ints], None] = _compiled(
    _row_ranges, "void(float64[:, :, ::1], intp[::1], float64[::1], intp, intp[::1], intp[::1])"
)
"""The first and last image row each module ``order[k]`` of ``corners`` (N, 4 corners, x and y) [m] spans in
an image ``h`` rows high at ``pose`` (the centre's x and y, the image's up as (east, north), the GSD)
[m]: ``floor`` of its corners' least :meth:`.georef.FrameGeometry.xy_to_pixel` row clipped to [0, h], and
``ceil`` of their greatest clipped to [−1, h − 1], into ``r_lo[k]``, ``r_hi[k]`` (the same arithmetic)."""

module_runs: Callable[..., int] = _compiled(
    _module_runs,
    "intp(float64[::1], float64[::1], intp[::1], float64[::1], float64[::1], float64, float64, float64[::1],"
    " float64[:, :, ::1], float64[::1], float64[::1], float64[::1], intp, intp, intp[::1], intp[::1],"
    " intp[::1])",
)
"""The runs :func:`paint_modules` would paint into an image ``h`` × ``w`` of the modules of an index (the
first seven arguments, as :func:`in_box` takes them) inside ``box``, each against the rows
:func:`row_ranges` gives it (``corners``, ``at``), written as (row, first column, end column) in its order,
empty runs left out: what :func:`.georef.module_mask` paints, in one call. Returns how many, or minus the
room they need (one run per module and row it spans) when ``rows`` has less."""

runs_block_means: Callable[[Ints, Ints, Ints, F32], None] = _compiled(
    _runs_block_means, "void(intp[::1], intp[::1], intp[::1], float32[:, ::1])"
)
"""``out`` = means of the 2 × 2 blocks of the 0/1 image made of the runs (row, [first, end)), as
:func:`block_means` of that image with k = 2 gives them (runs that do not overlap)."""

row_prefix: Callable[[F32, F64, F64], None] = _compiled(
    _row_prefix, "void(float32[:, ::1], float64[:, ::1], float64[::1])"
)
"""``out[r, k]`` = Σ ``t[r, :k]`` in float64, (H, W + 1); ``moments`` = (Σ t, Σ t²), and when it has six
entries then those of the rows above H // 2 and of the rest: each what a call on those rows alone gives,
bit for bit (the sums row by row, the squares pixel by pixel, from zero)."""

run_sums: Callable[[F64, Ints, Ints, Ints, int, int, F64], None] = _compiled(
    _run_sums, "void(float64[:, ::1], intp[::1], intp[::1], intp[::1], intp, intp, float64[::1])"
)
"""``out[3a + b]`` = Σ over the runs (row, [first, end)) of the image whose row sums are ``prefix``
(:func:`row_prefix`) over the run moved by (di + a − 1, dj + b − 1), rows and columns wrapped around: the
circular cross-correlation ``Σ t[x + d] · mask[x]`` of the 0/1 mask made of the runs at the 3 × 3 shifts d
about (di, dj)."""

climbs: Callable[[F64, Ints, Ints, Ints, Ints, int, int, F64], bool] = _compiled(
    _climbs,
    "boolean(float64[:, ::1], intp[::1], intp[::1], intp[::1], intp[:, ::1], intp, intp, float64[:, ::1])",
)
"""Steepest ascent over :func:`run_sums` from each shift ``at[s]`` (moved in place) to the shift whose sum is
not below any of its 8 neighbours inside the window |di|, |dj| ≤ ``radius``, in at most ``steps`` moves;
``sub[s]`` gets the sums of the 3 × 3 shifts about it. Returns whether every climb got there (it stops at the
first that does not). Each shift's sums are made once per call (a move shares six of its nine shifts with
the last; the sums of a row's missing shifts in one pass over the runs): the same sums bit for bit, for
about half the passes of a climb of several moves."""

region_runs: Callable[..., int] = _compiled(
    _region_runs,
    "intp(intp[::1], intp[::1], intp[::1], intp, intp, intp, intp, intp[::1], intp[::1], intp[::1],"
    " intp[::1])",
)
"""The runs of non-zero pixels, row by row as (row, first column, end column), of the region (rows
``region[0]`` to ``region[1]`` − 1, columns ``region[2]`` to ``region[3]`` − 1, in its own coordinates) of
``np.roll(image, (dr, dc), axis=(0, 1))``, where ``image`` (``h`` × ``w``) is 0 but on the given runs (any
order, none overlapping): what scanning that image's region gives, without painting or rolling it. Writes at
most twice as many runs as given plus one; returns how many."""

box_filter: Callable[[F32, int, bool, F32], None] = _compiled(
    _box_filter, "void(float32[:, ::1], intp, boolean, float32[:, ::1])"
)
"""``out`` = ``scipy.ndimage.uniform_filter(t, size)`` (mode "reflect", origin 0) bit for bit, for ``size``
up to the smaller side, or with ``subtract`` ``t`` less it (numpy's float32 ``t − low``, without the
filtered image's own pass and array): scipy's two passes (rows, then columns, through a float32 image),
each a running sum in float64 over the reflected line, divided by ``size`` at every pixel; the pass down
the columns runs along the rows, all columns at once, instead of one strided column line at a time, and
the pass along the rows takes two rows at a time, their divisions after their sums."""

other_string_neighbours: Callable[[F64, Ints, Ints, Ints, int, Ints, float, Ints], int] = _compiled(
    _other_string_neighbours,
    "intp(float64[:, ::1], intp[::1], intp[::1], intp[::1], intp, intp[::1], float64, intp[:, ::1])",
)
"""Writes into ``table`` (N, width) each point's neighbours within ``radius`` of it (``hypot`` of the
differences of ``centres``) on another string (``strings``), in :func:`.layout.neighbours` order: the nine
grid cells about the point's ``cell`` (the index of a dense grid ``grid_h`` cells high, with a margin of one
cell all round) column by column, each cell's ``members[starts[c] : starts[c + 1]]`` in ascending order;
returns the most neighbours a point has (the row is cut at ``width`` when it has more)."""

median_3x3: Callable[[F32, F32], None] = _compiled(_median_3x3, "void(float32[:, ::1], float32[:, ::1])")
"""``out`` = ``scipy.ndimage.median_filter(values, size=3, mode="nearest")`` of a map without NaN: the middle
of the nine values about each (the edge continued) sorted."""

patch_through: Callable[[npt.NDArray[np.bool_], int, int, npt.NDArray[np.bool_]], None] = _compiled(
    _patch_through, "void(boolean[:, ::1], intp, intp, boolean[:, ::1])"
)
"""``out`` = the samples of ``mask`` connected to (r, c) through shared sides, ``labels == labels[r, c]`` of
``labels, _ = scipy.ndimage.label(mask)`` (the samples outside ``mask`` when (r, c) is outside it), by a fill
from (r, c) instead of labelling every patch."""

edge_warmth: Callable[[F32, int, float, F32, Ints, Ints], None] = _compiled(
    _edge_warmth, "void(float32[:, :, ::1], intp, float64, float32[::1], intp[::1], intp[::1])"
)
"""Of each map m of ``residuals`` (N, rows, cols), the largest warmth along its frame into ``best[m]`` and
its ring sample into ``at_r[m]``, ``at_c[m]`` (0, 0 where none counts), as :func:`.modules._edge_warmth`
gives them with running medians over ``size`` samples (``scipy.ndimage.median_filter``, mode "nearest"):
the places that cannot beat the best so far or reach ``at_least`` are not measured, so a map whose warmth
is under ``at_least`` may read less than it."""

robust_surface: Callable[[F64, F64, F64, float, float, Ints, F64, npt.NDArray[np.bool_], F64], None] = (
    _compiled(
        _robust_surface,
        "void(float64[::1], float64[::1], float64[::1], float64, float64, intp[:, ::1], float64[::1],"
        " boolean[::1], float64[::1])",
    )
)
""":func:`.modules._robust_surface` of the points (``r``, ``c``) and ``values`` into ``fit`` and ``keep``,
the inlier bands capped at ``cap``: the same rounds, sorts and least-squares fits (LAPACK's ``gelsd``
at numpy's default ``rcond``, the surface by BLAS's ``gemv`` as numpy's ``@``, both through scipy's
BLAS and LAPACK, which give numpy's bits here), the surface then held within ``reach`` of its range over
the last fit's inliers, in one compiled call instead of about 40 numpy calls;
and into ``ref`` the fit plus the median of the residuals ``values − fit`` of the inliers among each
point's neighbours ``near`` (indices, −1 for none), the fit alone where none is an inlier
(:func:`.modules.frame_statistics`' reference)."""

coarse_screen: Callable[..., None] = _compiled(
    _coarse_screen,
    "void(float32[:, :, ::1], float32[::1], float32[:, ::1], float32[::1], float32[::1], float64, float64,"
    " intp, float64, intp, float64, float32[:, :, ::1], float32[::1], boolean[::1])",
)
"""The screen of thinned maps in one pass per map, as :func:`.modules.frame_statistics` ran it in numpy
steps: ``residuals`` = ``crops − offset``; the warmth along the frame (:func:`edge_warmth` over ``size``
samples, asked whether it reaches ``edge_mark``) of the maps before their rings are flattened; the interior
median (``medians``) from the sorted interior ``inner`` less the offset, NaN where ``last`` (the map's
maximum) is; the ring set to it; and ``out`` = :func:`screen` of the flattened map with the peak
``peaks − offset``, or the warmth at least ``edge_mark``."""

rule_means: Callable[[F32, int, bool, F32, F32], float] = _compiled(
    _rule_means, "float32(float32[:, :], intp, boolean, float32[:, ::1], float32[::1])"
)
"""The means the rules on a module map take, bit for bit as numpy gives them: with ``cells`` (cv, cu)
empty, returns ``values.mean()`` (numpy's pairwise sum of the samples in C order, divided by their count in
float64); else writes the mean of each k × k cell of ``values`` into ``cells`` (``np.add.reduce`` of
``values.reshape(cv, k, cu, k)`` over the cells' axes, divided by k² as numpy divides by an ``intp``), and
with ``thirds`` of three, the mean of each third of the cells (columns in ``portrait``, else rows, cut as
``np.array_split`` cuts them) as ``values.mean()`` of that part gives it; returns NaN then."""

hot_cells: Callable[[F32, F32, int, float], int] = _compiled(
    _hot_cells, "intp(float32[:, ::1], float32[:, ::1], intp, float64)"
)
""":func:`.modules._hot_cells` of the map ``glass`` (continued under the frame) and its k × k cell means
``cells``, with ``edge_step`` for :data:`.modules.CELL_EDGE_STEP`, in one compiled call: the cells' median
(float32, 0 hot cells when it is NaN) and their 3 × 3 median (:func:`median_3x3`), the hot cells in
``np.nonzero``'s order, each one's first hottest sample, fill and own count, its sharpest step, and the
cells a registration error moved over; every comparison of a float32 sample with a float64 level as numpy
makes it (the level cast to float32), every other step in float64 as the Python floats were."""

classify_map: Callable[..., int] = _compiled(
    _classify_map,
    "intp(float32[:, ::1], intp, intp, intp, boolean, float64, float64, boolean[:, ::1], float64[::1],"
    " float64, boolean[:, ::1], float64[::1])",
)
""":func:`.modules._classify` of a module map without NaN or infinity (``residual``, ``cv`` × ``cu`` cells
of ``k`` × ``k`` samples) in one compiled call: the same rules in the same order, each comparison and sum
in numpy's precision (a float32 sample against a Python float with the float cast to float32, NEP 50), a
sun reflection's rests in a loop instead of the recursion. ``given`` is the map's median from the caller
(NaN for none), ``near_box`` says which samples lie within 0.1 of the junction box (``box``, along the row
and across it from the low edge) as ``math.hypot`` measures it, ``edge_step`` is
:data:`.modules.CELL_EDGE_STEP`. Returns one of the ``RULES_*`` codes, with the class's value in
``info[0]`` and, for the local classes (box, hot spot, hot cells, cracking), the location and the spot's
fill in ``info[1:4]``; for ``RULES_COOL`` the cool samples in ``cool``, which :func:`.modules._cool_class`
names; ``RULES_PUNT`` where the map holds a value that is not finite or beyond :data:`RULES_LARGEST`, or
its reflections nest deeper than :data:`RULES_DEPTH`: the Python rules decide those."""
