r"""Exponential (pole) fits of memory kernels, for densities that are not sums of Lorentzians.

The ``Continuum`` closure needs the memory kernel k(τ) = ∫dω/2π g(ω) e^{−iωτ} as a sum of
exponentials, k(τ) ≈ Σ_p κ_p e^{−λ_p τ}. For a general density we fit it *on the time window
that is actually needed*, τ ∈ [0, t_max]: the propagator G(t), A(ω, t) = ∫_0^t G e^{iωτ} and
the kernels Y, Z at time t depend on k only through its values on [0, t]. The occupation
weighted frequency integrals keep the exact g(ω) at their nodes, so the fit error enters only
through k and k^E = i dk/dτ on [0, t_max], both measured on a grid twice as fine as the fit
samples (and reported).

Why a fit and not a Volterra solver: the fitted kernel reuses the exact, step-free matrix
exponential closure (no time-step error, gradients in h and couplings for free), and for
smooth densities a few tens of exponentials reach 1e-12 on [0, t_max] (ESPRIT converges
geometrically for analytic kernels).

Method: ESPRIT (rotational invariance of the Hankel matrix of uniform samples; Roy & Kailath
1989) on the kernel demodulated to the centre of the density's support, order chosen as the
smallest that meets the target error, amplitudes by least squares.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class KernelFit:
    """k(τ) ≈ Σ_p kappa_p e^{−lam_p τ} on [0, t_max].

    ``error`` and ``error_energy``: ∫_0^{t_max} |k − fit| dτ and ∫|k^E − fit^E| dτ on a check
    grid (absolute; a current ∫K(t−s)G(s)ds with |G| ≤ 1 changes by at most this much).

    Units ħ = 1: ``lam`` (rates) in units of h, ``kappa`` in units of h² (like k, a spectral
    density integrated over frequency), ``t_max`` in 1/h; ``error`` in units of h (k times τ),
    ``error_energy`` in units of h² (k^E times τ). The currents it bounds are out of each
    reservoir."""

    kappa: tuple[complex, ...]
    lam: tuple[complex, ...]
    t_max: float
    error: float
    error_energy: float

    def __call__(self, tau, energy: bool = False):
        tau = np.atleast_1d(np.asarray(tau, float))
        kap, lam = np.asarray(self.kappa), np.asarray(self.lam)
        amp = -1j * lam * kap if energy else kap
        return np.exp(-np.outer(tau, lam)) @ amp


def fit_kernel(density, t_max: float, tolerance: float = 1e-11, max_terms: int = 120) -> KernelFit:
    """Fit the memory kernel of ``density`` on [0, t_max] by a sum of exponentials.

    ``tolerance``: target for the relative L1 errors ∫|k − fit|/∫|k| and ∫|k^E − fit^E|/∫|k^E|
    on [0, t_max].
    Raises ValueError if ``max_terms`` exponentials cannot come within 10× of it (a density
    too sharp for the window: use Discretised, or Lorentzian terms).

    Units ħ = 1: ``t_max`` in units of 1/h; the fitted rates λ_p in units of h and the
    amplitudes κ_p in units of h² (like k); ``tolerance`` is relative (dimensionless). Returns a
    ``KernelFit``."""
    t_max = float(max(t_max, 1e-6))
    lo, hi = density.effective_support()
    # demodulate at the density's centre of weight (its far tails alias, negligibly)
    c = min(max(float(density.center()), lo), hi)
    band = max(hi - c, c - lo)
    # a quarter of the Nyquist step of the support, between 200 and 8000 samples
    dt = min(max(math.pi / (4.0 * band), t_max / 8000.0), t_max / 200.0)
    n = int(math.ceil(1.02 * t_max / dt)) + 1
    tau = dt * np.arange(n)
    # samples and the check grid (sample midpoints) in one quadrature pass
    k_all, ke_all = density.kernels(np.concatenate([tau, tau[:-1] + 0.5 * dt]))
    y = k_all[:n] * np.exp(1j * c * tau)  # demodulated
    check = tau[:-1] + 0.5 * dt
    k_ex, ke_ex = k_all[n:], ke_all[n:]
    # errors are measured in the L1 norm on [0, t_max] (what a current ∫K(t−s)G(s)ds feels;
    # a density with a step has an integrable 1/τ energy kernel that no sup-norm fit meets)
    l1 = lambda f: float(np.sum(np.abs(f)) * dt)
    scale = max(l1(k_ex), 1e-300)
    scale_e = max(l1(ke_ex), 1e-300)
    # Hankel matrix: 2000 lags (the aperture that resolves slow poles), every 4th column
    rows = min(n // 2, 2000)
    hank = np.lib.stride_tricks.sliding_window_view(y, n - rows + 1)[:rows][:, ::4]
    u = np.linalg.svd(hank, full_matrices=False)[0]
    best, worse = None, 0
    r = 2
    while r <= min(max_terms, rows - 1):
        ur = u[:, :r]
        zeig = np.linalg.eigvals(np.linalg.lstsq(ur[:-1], ur[1:], rcond=None)[0])
        lam = -np.log(zeig.astype(complex)) / dt
        vand = np.exp(-np.outer(tau, lam))
        kap = np.linalg.lstsq(vand, y, rcond=None)[0]
        lam = lam + 1j * c  # undo the demodulation
        fit = KernelFit(tuple(complex(x) for x in kap), tuple(complex(x) for x in lam), t_max,
                        0.0, 0.0)
        err = l1(fit(check) - k_ex)
        err_e = l1(fit(check, True) - ke_ex)
        rel = max(err / scale, err_e / scale_e)
        if best is None or rel < best[0]:
            best, worse = (rel, dataclasses.replace(fit, error=err, error_energy=err_e)), 0
        else:  # past the precision limit of the data, higher orders only fit noise
            worse += 1
        if rel <= tolerance or (worse >= 3 and r >= 24):
            break
        r += max(1, r // 4)
    rel, fit = best
    if rel > 10 * tolerance:
        raise ValueError(
            f"fit_kernel: {len(fit.kappa)} exponentials reach only a relative error {rel:.2g} "
            f"(target {tolerance:g}) for {type(density).__name__} on [0, {t_max:g}]; use "
            "Discretised or a sum of Lorentzians for this density." + density.fit_hint()
        )
    return fit
