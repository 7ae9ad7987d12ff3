"""RAPTOR rounds as a plain loop, compiled with numba when available.

Same journey model and label arrays as the vectorised version in ``raptor.py`` (which stays
as the fallback and as a second implementation the tests compare). Classic RAPTOR: only
routes through stops improved in the previous round are scanned, from the first such stop.
Measured on the Dakar-sized network: the vectorised numpy rounds gave p50 ≈ 3 ms but p95
≈ 23 ms (every round touches every route-position); this loop is an order of magnitude faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BIG = 1 << 40


def raptor_rounds(
    n: int,
    k_max: int,
    route_nt: Any,
    route_ns: Any,
    route_rp0: Any,
    rp_route: Any,
    rp_stop: Any,
    rp_col: Any,
    rp_board: Any,
    rp_alight: Any,
    dep_flat: Any,
    arr_flat: Any,
    stop_rp_ptr: Any,
    stop_rp: Any,
    fp_ptr: Any,
    fp_to: Any,
    fp_dur: Any,
    src_stop: Any,
    src_time: Any,
    src_walked: Any,
    egress: Any,
    tau: Any,
    kind: Any,
    t_arr: Any,
    t_board: Any,
    t_alight: Any,
    t_rank: Any,
    w_from: Any,
    w_dur: Any,
) -> int:
    best_trans = np.full(n, BIG, np.int64)
    marked = np.zeros(n, np.bool_)
    n_routes = route_nt.shape[0]
    route_from = np.full(n_routes, -1, np.int64)
    touched = np.empty(n_routes, np.int64)
    bound = BIG
    for i in range(src_stop.shape[0]):
        s = src_stop[i]
        t = src_time[i]
        if t < tau[0, s]:
            tau[0, s] = t
            kind[0, s] = 3
        marked[s] = True
        if not src_walked[i] and t < best_trans[s]:
            best_trans[s] = t
    for s in range(n):
        if egress[s] >= 0 and tau[0, s] < BIG and tau[0, s] + egress[s] < bound:
            bound = tau[0, s] + egress[s]
    for i in range(src_stop.shape[0]):
        s = src_stop[i]
        if src_walked[i]:
            continue
        for e in range(fp_ptr[s], fp_ptr[s + 1]):
            q = fp_to[e]
            c = src_time[i] + fp_dur[e]
            if c < tau[0, q] and c < bound:
                tau[0, q] = c
                kind[0, q] = 2
                w_from[0, q] = s
                w_dur[0, q] = fp_dur[e]
                marked[q] = True
                if egress[q] >= 0 and c + egress[q] < bound:
                    bound = c + egress[q]
    rounds = 0
    trans_new = np.empty(n, np.int64)
    for k in range(1, k_max + 1):
        n_touched = 0
        for s in range(n):
            if not marked[s]:
                continue
            for x in range(stop_rp_ptr[s], stop_rp_ptr[s + 1]):
                j = stop_rp[x]
                if not rp_board[j]:
                    continue
                r = rp_route[j]
                pos = j - route_rp0[r]
                if route_from[r] < 0:
                    touched[n_touched] = r
                    n_touched += 1
                    route_from[r] = pos
                elif pos < route_from[r]:
                    route_from[r] = pos
        if n_touched == 0:
            break
        rounds = k
        for s in range(n):
            tau[k, s] = tau[k - 1, s]
            marked[s] = False
        n_new = 0
        for ti in range(n_touched):
            r = touched[ti]
            p0 = route_rp0[r]
            nt = route_nt[r]
            cur = -1
            bpos = -1
            for pos in range(route_from[r], route_ns[r]):
                j = p0 + pos
                p = rp_stop[j]
                col = rp_col[j]
                if cur >= 0 and rp_alight[j]:
                    a = arr_flat[col + cur]
                    if a < best_trans[p] and a < bound:
                        if t_arr[k, p] >= BIG:  # first improvement this round
                            trans_new[n_new] = p
                            n_new += 1
                        best_trans[p] = a
                        t_arr[k, p] = a
                        t_board[k, p] = p0 + bpos
                        t_alight[k, p] = j
                        t_rank[k, p] = cur
                        if a < tau[k, p]:
                            tau[k, p] = a
                            kind[k, p] = 1
                            marked[p] = True
                            if egress[p] >= 0 and a + egress[p] < bound:
                                bound = a + egress[p]
                if rp_board[j]:
                    t = tau[k - 1, p]
                    if t < BIG and (cur < 0 or t <= dep_flat[col + cur]):
                        hi = nt if cur < 0 else cur
                        lo = 0
                        while lo < hi:
                            mid = (lo + hi) // 2
                            if dep_flat[col + mid] < t:
                                lo = mid + 1
                            else:
                                hi = mid
                        if lo < nt and (cur < 0 or lo < cur):
                            cur = lo
                            bpos = pos
            route_from[r] = -1
        for x in range(n_new):
            p = trans_new[x]
            a = t_arr[k, p]
            for e in range(fp_ptr[p], fp_ptr[p + 1]):
                q = fp_to[e]
                c = a + fp_dur[e]
                if c < tau[k, q] and c < bound:
                    tau[k, q] = c
                    kind[k, q] = 2
                    w_from[k, q] = p
                    w_dur[k, q] = fp_dur[e]
                    marked[q] = True
                    if egress[q] >= 0 and c + egress[q] < bound:
                        bound = c + egress[q]
        any_marked = False
        for s in range(n):
            if marked[s]:
                any_marked = True
                break
        if not any_marked:
            break
    return rounds


try:
    import numba

    compiled: Any = numba.njit(cache=True, nogil=True)(raptor_rounds)
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a declared dependency
    compiled = None
    HAVE_NUMBA = False
