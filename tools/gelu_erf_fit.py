#!/usr/bin/python3
"""Regenerates the coefficients of src/ops/gelu_erf_math.h (GELU's Phi(x)).

    /usr/bin/python3 tools/gelu_erf_fit.py          # prints the C lines
    /usr/bin/python3 tools/gelu_erf_fit.py --check  # also the fit errors

Two pieces, each a polynomial interpolating at Chebyshev nodes, solved at 60
digits with mpmath and rounded once to double (Python's float of an mpf is
the nearest double):

  |x| < 2.5:  Phi(x) = 0.5 + x * S(u - 3.125), u = x^2 in [0, 6.25];
              S interpolates (Phi(x) - 1/2) / x as a function of u, degree 16.
  |x| >= 2.5: Q(a) = Phi(-a) = exp(-a^2/2) * t * L(t - 0.390625),
              t = 1 / (1 + a/4) in [1/6, 8/13] (a in [2.5, 20]);
              L interpolates e^(a^2/2) Q(a) / t as a function of t, degree 14.

Nothing here is taken from another library; only mpmath's erfc/ncdf.
--check prints the largest relative error of each piece against mpmath on
a grid, evaluated in double the way the C code does (plain mul/add, the
exp exact from mpmath, so only the fit and Horner's roundings count).
"""
import sys

import mpmath as mp

mp.mp.dps = 60
T = mp.mpf("2.5")
S_DEG, S_CENTER = 16, mp.mpf("3.125")
L_DEG, L_CENTER, L_K = 14, mp.mpf("0.390625"), mp.mpf(4)


def s_target(u):  # (Phi(x) - 1/2) / x, x = sqrt(u)
    if u == 0:
        return 1 / mp.sqrt(2 * mp.pi)
    x = mp.sqrt(u)
    return (mp.ncdf(x) - mp.mpf("0.5")) / x


def l_target(t):  # e^(a^2/2) Q(a) / t, a = 4 (1 - t) / t
    a = L_K * (1 - t) / t
    return mp.exp(a * a / 2) * mp.ncdf(-a) / t


def fit(f, lo, hi, deg, center):
    """Coefficients c_0..c_deg of sum c_k (v - center)^k interpolating f at
    the deg + 1 Chebyshev nodes of [lo, hi]."""
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    nodes = [mid + half * mp.cos(mp.pi * (j + mp.mpf("0.5")) / (deg + 1)) for j in range(deg + 1)]
    A = mp.matrix([[(v - center) ** k for k in range(deg + 1)] for v in nodes])
    c = mp.lu_solve(A, mp.matrix([f(v) for v in nodes]))
    return [float(c[k]) for k in range(deg + 1)]


def horner(coef, s):
    p = coef[-1]
    for c in reversed(coef[:-1]):
        p = p * s + c
    return p


def check(S, L):
    worst_s = worst_l = 0.0
    for i in range(2001):  # x in [-2.5, 2.5)
        x = float(-T + 2 * T * i / 2001)
        got = 0.5 + x * horner(S, x * x - 3.125)
        worst_s = max(worst_s, abs(got / mp.ncdf(x) - 1))
    for i in range(2001):  # a in [2.5, 20]
        a = float(T + (20 - T) * i / 2000)
        t = 1.0 / (1.0 + a * 0.25)
        m = t * horner(L, t - 0.390625)
        want = mp.exp(mp.mpf(a) ** 2 / 2) * mp.ncdf(-a)
        worst_l = max(worst_l, abs(m / want - 1))
    print("/* fit check: S relative error of Phi on [-2.5, 2.5] %.2e, L relative error of e^(a^2/2) Q(a) on [2.5, 20] %.2e */"
          % (worst_s, worst_l))


def main():
    S = fit(s_target, mp.mpf(0), T * T, S_DEG, S_CENTER)
    lo, hi = 1 / (1 + mp.mpf(20) / L_K), 1 / (1 + T / L_K)
    L = fit(l_target, lo, hi, L_DEG, L_CENTER)
    for name, coef in (("S", S), ("L", L)):
        print("/* %s, highest degree first */" % name)
        for k in reversed(range(len(coef))):
            print("%s%d = %r" % (name, k, coef[k]))
    if "--check" in sys.argv[1:]:
        check(S, L)


if __name__ == "__main__":
    main()
