r"""The Padé method's stage-2 kernels (maths: ``pade.py``): the lead part at one (T, μ) in
the modal coordinates of the extended linear model, the initial-state part, and the readout
of correlations and current amplitudes. ``xp`` is ``numpy`` (one concrete configuration,
nothing to compile) or ``jax.numpy``."""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._validation import is_concrete, to_jax
from .base import flatten_terms

EPS = float(np.finfo(np.float64).eps)


def pade_fermi(z, temperature, mu, xi, eta, xp=jnp):
    """f_N(z) at complex z (the Padé approximant used consistently everywhere)."""
    x = (z - mu) / temperature
    return 0.5 - xp.sum(eta * 2 * x[..., None] / (x[..., None] ** 2 + xi**2), axis=-1)


def truncation(xp, hi, lo):
    """Padé-truncation estimate: N vs N_low poles (occupations and current amplitudes)."""
    return xp.maximum(xp.max(xp.abs(hi[0] - lo[0])), 2 * xp.max(xp.abs(hi[1] - lo[1])))


def state_modal(xp, arr, c0, n, n_filter_rows):
    """Readout rows (closure rows, then zero filter rows) of e^{Lt} (C0 ⊕ 0) e^{L†t} for C0
    (..., n, n), their time derivative and a rounding bound."""
    ell, rr, rinv, times = arr["ell"], arr["rr"], arr["rinv"], arr["times"]
    m = ell.shape[0]
    s0 = rinv[:, :n] @ c0 @ rinv[:, :n].conj().T  # (..., m, m) modal coordinates
    ec = xp.exp(times[:, None] * ell[None, :])  # (T, m)
    a = rr[None] * ec[:, None, :]  # (T, m, m): R e^{Λt}
    b = (rr[:n][None] * ec[:, None, :]).conj()  # (T, n, m)
    sd = ell[:, None] * s0 + s0 * ell.conj()[None, :]
    bt = xp.swapaxes(b, -1, -2)  # (T, m, n)
    y = (a @ s0[..., None, :, :]) @ bt  # (..., T, m, n)
    ydt = (a @ sd[..., None, :, :]) @ bt
    zeros = xp.zeros(y.shape[:-2] + (n_filter_rows, n), complex)
    y, ydt = (xp.concatenate([x, zeros], axis=-2) for x in (y, ydt))
    ab = xp.abs
    bound = xp.max(ab(rr) @ ab(s0) @ ab(rr[:n]).T, axis=(-2, -1))
    bound = 8 * m * EPS * bound * (1.0 + 1e2 * EPS * arr["eig_condition"])
    return y, ydt, bound


@functools.cache
def blas_controller():
    """One ``threadpoolctl`` controller (built once: it scans the loaded BLAS libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_thread_blas():
    """The NumPy path multiplies small matrices: threaded BLAS only adds synchronisation
    (measured 6x slower on a loaded 2-core machine), so it runs on one BLAS thread."""
    return blas_controller().limit(limits=1, user_api="blas")


def phi_series(xp, x, t, ext):
    """(e^{xt} − 1)/x from ``ext`` = e^{xt} (x (..., K), t (T,) -> (T, ..., K)), with a series
    where |xt| < 1e-2 (weakly damped modes; elsewhere the relative error is ≤ ε/|xt|)."""
    xt = x[None] * t.reshape((-1,) + (1,) * x.ndim)
    small = xp.abs(xt) < 1e-2
    xs = xp.where(small, 1.0, x)
    tt = t.reshape((-1,) + (1,) * x.ndim)
    series = tt * (1 + xt * (1 / 2 + xt * (1 / 6 + xt * (1 / 24 + xt / 120))))  # Horner
    return xp.where(small, series, (ext - 1.0) / xs)


def filter_exp(xp, times, muq, q_pole, r_of_q, mu):
    """e^{μ_q t} (T, Q): the Padé modes' exponents are −Tξ_i − iμ, so their phase is one
    per reservoir; only the few lead-pole modes need a complex exponential of their own."""
    poles = np.nonzero(q_pole >= 0)[0]
    phase_res = xp.exp(-1j * times[:, None] * mu[None, :])  # (T, M)
    phase_pole = xp.exp(1j * times[:, None] * muq[poles].imag[None, :])  # (T, P)
    col = np.asarray(r_of_q).copy()
    col[poles] = mu.shape[0] + np.arange(len(poles))
    phase = xp.concatenate([phase_res, phase_pole], axis=1)[:, col]
    # decays below e^{-600} ~ 1e-261 are set to exactly 0: the deep Padé modes (Tξ_i t up to
    # ~1e4) would otherwise leave subnormal numbers, whose arithmetic is ~100x slower on x86
    # (the NumPy route's products and GEMMs), for a change far below every rounding error
    rate = times[:, None] * muq.real[None, :]
    return xp.where(rate > -600.0, xp.exp(xp.maximum(rate, -600.0)), 0.0) * phase


def filter_noise(xp, pole_term, term_res, kap, lam, temp, mu, xi, eta):
    """The coloured-noise filter modes of the lead part at one (T, μ) (maths: ``pade.py``):
    per density term j its own poles, then its N Padé poles (static layout). Returns
    (q_term, q_pole (−1 for a Padé mode), r_of_q: host index arrays (Q,); ν (Q,): the noise
    F_j(σ) = Σ_q c_q e^{−ν_q σ}; Σ (Q, Q): the filters' stationary covariance, block-diagonal
    by term, row sums c̄_q)."""
    npol = lam.shape[0]
    nt = len(term_res)
    npd = xi.shape[0]
    q_term, q_pole, q_pade = [], [], []
    for j in range(nt):
        for p in range(npol):
            if pole_term[p] == j:
                q_term.append(j), q_pole.append(p), q_pade.append(-1)
        for i in range(npd):
            q_term.append(j), q_pole.append(-1), q_pade.append(i)
    q_term, q_pole, q_pade = map(np.asarray, (q_term, q_pole, q_pade))
    is_pole = xp.asarray(q_pole >= 0)
    r_of_q = np.asarray(term_res)[q_term]
    tq, uq = temp[r_of_q], mu[r_of_q]
    pp = np.maximum(q_pole, 0)
    ii = np.maximum(q_pade, 0)
    # pole exponents: ν = λ̄_p, c = κ̄_p f_N(iλ̄_p)
    z_pole = 1j * lam[pp].conj()
    c_pole = kap[pp].conj() * pade_fermi(z_pole, tq, uq, xi, eta, xp)
    # Padé exponents: ν = Tξ_i − iμ, c = −iTη_i g_j(μ + iTξ_i)
    z_pd = uq + 1j * tq * xi[ii]
    term_of_pole = np.asarray(pole_term)
    in_term = xp.asarray(term_of_pole[None, :] == q_term[:, None], float)  # (Q, P)
    g_parts = (1j * kap[None, :] / (z_pd[:, None] + 1j * lam[None, :])
               - 1j * kap.conj()[None, :] / (z_pd[:, None] - 1j * lam.conj()[None, :]))
    g_z = xp.sum(in_term * g_parts, axis=1)
    c_pd = -1j * tq * eta[ii] * g_z
    nu = xp.where(is_pole, lam[pp].conj(), tq * xi[ii] - 1j * uq)
    c = xp.where(is_pole, c_pole, c_pd)
    # model noise: rows sums r_q = c̄_q (the filter eigenvalues are μ_q = −ν̄_q)
    r = c.conj()
    same = xp.asarray(q_term[:, None] == q_term[None, :], float)
    counts = xp.asarray(np.bincount(q_term, minlength=nt)[q_term], float)
    tot = xp.asarray(np.eye(nt)[q_term].T) @ r  # (J,) real up to rounding
    u = (r - tot.real[q_term] / (2 * counts)) / counts
    sig = same * (u[:, None] + u.conj()[None, :])
    return q_term, q_pole, r_of_q, nu, sig


def bath_one(xp, resp, arr, temp, mu, xi, eta):
    """The lead part at one (T, μ) (C0 = 0): (correlation (T,n,n), amplitude (T,2,M), its
    derivative, scalar_dt (T,2), rounding bound)."""
    times = arr["times"]
    n = resp.n_modes
    npol = arr["lam"].shape[0]
    m = n + npol
    nt = len(resp.term_res)
    kap, lam = arr["kappa"], arr["lam"]
    q_term, q_pole, r_of_q, nu, sig = filter_noise(xp, resp.pole_term, resp.term_res, kap,
                                                   lam, temp, mu, xi, eta)
    nq = len(q_term)
    muq = -nu.conj()
    qw = (nu.conj()[:, None] + nu[None, :]) * sig
    # ---- extended eigenvectors in the closure eigenbasis ----
    ell, rr, rinv = arr["ell"], arr["rr"], arr["rinv"]
    bmat = xp.concatenate([-1j * arr["tvec"][:, q_term], xp.zeros((npol, nq), complex)], 0)
    w = rinv @ bmat  # (m, Q)
    # filter mode q vs closure mode k: an exactly shared eigenvalue with no coupling (e.g. the
    # dark combination of two identical leads' pseudomodes, ℓ = −λ) needs no mixing; a coupled
    # one would be a Jordan block (secular t e^{ℓt} term), whose size enters the error bound
    gap = ell[:, None] - muq[None, :]
    tiny = xp.abs(gap) < 1e-9 * (1.0 + xp.abs(muq[None, :]))
    what = xp.where(tiny, 0.0, w / xp.where(tiny, 1.0, gap))
    jordan = xp.max(xp.where(tiny, xp.abs(w), 0.0))
    ufull = -rr @ what  # (m, Q): closure-part of the filter eigenvectors
    # Modal coordinates: closure modes c (eigenvalues ℓ), filter modes f (μ_q). In them
    # M(t) = S0 ∘ e^{(Λ_k+Λ̄_l)t} + SQ ∘ φ(Λ_k+Λ̄_l, t), C_ψ = R_ext M R_ext†. The filter–filter
    # block is stationary (M_ff = Σ for all t: Q_w/(μ_q + μ̄_q') = −Σ), so it only enters the
    # constant part; the closure–closure block uses the stable φ (weakly damped modes).
    s_cc = what @ sig @ what.conj().T
    s_cf = what @ sig  # S0[c, f]
    q_cc = what @ qw @ what.conj().T
    q_cf = what @ qw
    x_cf = ell[:, None] + muq.conj()[None, :]
    k_cf = s_cf + q_cf / x_cf  # coefficient of e^{ℓ_k t} e^{μ̄_q t}
    kd_cf = x_cf * s_cf + q_cf
    x_cc = ell[:, None] + ell.conj()[None, :]
    # constant parts: −SQ/x on mixed blocks, +Σ on the filter block
    const_cf = -q_cf / x_cf
    # readout rows (n sys, P pole rows, J filter outputs N, J filter outputs E) in modal coords
    onehot_q = xp.asarray(np.eye(nt)[q_term].T, complex)  # (J, Q)
    rows_c = xp.concatenate([rr, xp.zeros((2 * nt, m), complex)], axis=0)
    rows_f = xp.concatenate([ufull, onehot_q, onehot_q * (-1j * nu.conj())[None, :]], axis=0)
    cols_c = rr[:n].conj().T  # (m, n)
    cols_f = ufull[:n].conj().T  # (Q, n)
    const = (rows_c @ (const_cf @ cols_f) + rows_f @ (const_cf.conj().T @ cols_c)
             + rows_f @ (sig @ cols_f))
    ec = xp.exp(times[:, None] * ell[None, :])  # (T, m)
    ef = filter_exp(xp, times, muq, q_pole, r_of_q, mu)  # (T, Q)
    ecc = ec[:, :, None] * ec.conj()[:, None, :]  # e^{(ℓ_k + ℓ̄_l)t}, (T, m, m)
    phi = phi_series(xp, x_cc, times, ecc)
    m_cc = s_cc[None] * ecc + q_cc[None] * phi  # (T, m, m)
    md_cc = (x_cc * s_cc)[None] * ecc + q_cc[None] * ecc
    rr_rows = rows_c[:m]  # the other closure rows are zero
    ef_c, ec_c = ef.conj(), ec.conj()

    def assemble(mcc, kcf):
        # closure rows: Σ_l M_cc(t) cols_c + e^{ℓ_k t} Σ_q kcf e^{μ̄_q t} cols_f (one GEMM
        # over the filter modes)
        w1 = (kcf.T[:, :, None] * cols_f[:, None, :]).reshape(nq, m * n)
        zc = mcc @ cols_c + ec[:, :, None] * (ef_c @ w1).reshape(-1, m, n)
        # filter rows: e^{μ_q t} Σ_k conj(kcf)_qk e^{ℓ̄_k t} cols_c (GEMMs over k, then q)
        v = (kcf.conj()[:, :, None] * cols_c[:, None, :]).reshape(m, nq * n)
        zf = ef[:, :, None] * (ec_c @ v).reshape(-1, nq, n)
        out_f = xp.moveaxis(xp.tensordot(zf, rows_f, axes=([1], [1])), 2, 1)  # (T, R, n)
        out_c = xp.moveaxis(xp.tensordot(zc, rr_rows, axes=([1], [1])), 2, 1)  # (T, m, n)
        return out_f + xp.concatenate([out_c, xp.zeros_like(out_f[:, m:])], axis=1)

    y = assemble(m_cc, k_cf) + const[None]
    ydt = assemble(md_cc, kd_cf)
    # rounding bound of the sums (|e^{Λt}| ≤ 1): large where modes nearly coincide
    a = xp.abs
    tmax = times[-1]
    bound = (a(rows_c) @ ((a(s_cc) + tmax * a(q_cc)) @ a(cols_c))
             + a(rows_c) @ (a(k_cf) @ a(cols_f)) + a(rows_f) @ (a(k_cf).T @ a(cols_c))
             + a(rows_c) @ (a(const_cf) @ a(cols_f)) + a(rows_f) @ (a(const_cf).T @ a(cols_c))
             + a(rows_f) @ (a(sig) @ a(cols_f)))
    bound = 8 * (m + nq) * EPS * xp.max(bound) * (1.0 + 1e2 * EPS * arr["eig_condition"])
    bound = bound + 1e3 * tmax * jordan * xp.max(a(sig)) * xp.max(a(rr)) ** 2
    return (*readout(xp, resp, arr, y, ydt), bound)


def readout(xp, resp, arr, y, ydt):
    """(correlation, amplitude, its derivative, scalar d/dt) from the readout rows y(t)
    (..., T, n + P + 2J, n) (system rows, pole rows, filter outputs N and E)."""
    n = resp.n_modes
    m = n + arr["lam"].shape[0]
    nt = len(resp.term_res)
    lam = arr["lam"]
    corr = y[..., :n, :]
    cb = xp.einsum("...tpi,ip->...tp", y[..., n:m, :], arr["vec"])
    cbd = xp.einsum("...tpi,ip->...tp", ydt[..., n:m, :], arr["vec"])
    cxn = xp.einsum("...tji,ij->...tj", y[..., m:m + nt, :], arr["tvec"])
    cxe = xp.einsum("...tji,ij->...tj", y[..., m + nt:, :], arr["tvec"])
    cxnd = xp.einsum("...tji,ij->...tj", ydt[..., m:m + nt, :], arr["tvec"])
    cxed = xp.einsum("...tji,ij->...tj", ydt[..., m + nt:, :], arr["tvec"])
    mres = resp.n_reservoirs
    p1 = xp.asarray(np.eye(mres)[np.asarray(resp.pole_res)].T)  # (M, P)
    t1 = xp.asarray(np.eye(mres)[np.asarray(resp.term_res)].T)  # (M, J)

    def amplitude(cxn_, cxe_, cb_):
        xn = -1j * cxn_ @ t1.T - cb_ @ p1.T
        xe = -1j * cxe_ @ t1.T + (1j * lam * cb_) @ p1.T
        return xp.stack([xn, xe], axis=-2)  # (..., T, 2, M)

    amp = amplitude(cxn, cxe, cb)
    amp_dt = amplitude(cxnd, cxed, cbd)
    cdt = ydt[..., :n, :]
    h = arr["hamiltonian"]
    sdt = xp.stack([xp.einsum("ij,...tji->...t", h, cdt).real,
                    xp.einsum("...tii->...t", cdt).real], axis=-1)
    return corr, amp, amp_dt, sdt


class PadeUnsuitable(ValueError):
    """jt.Pade cannot give this model its accuracy (ill-conditioned closure, or more than 400
    poles needed); the automatic method choice then falls back to jt.Continuum."""


def pade_poles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """[N−1/N] Padé decomposition of the Fermi function: ξ_i, η_i (i = 1..N) with
    1/(1 + e^x) ≈ 1/2 − Σ_i 2η_i x/(x² + ξ_i²) (Hu, Xu, Yan 2010: ξ from the eigenvalues of a
    tridiagonal matrix with b_m = 2m − 1, η from the interlacing zeros). Cached per N (a
    bounded cache of read-only arrays: they depend on N only)."""
    return _pade_poles(int(n))


@functools.lru_cache(maxsize=64)
def _pade_poles(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n < 1:
        raise ValueError(f"the number of Padé poles must be >= 1, got {n}.")
    b = 2.0 * np.arange(1, 2 * n + 2) - 1.0

    def inverse_eigs(size, start):
        bb = b[start:start + size]
        off = 1.0 / np.sqrt(bb[:-1] * bb[1:])
        ev = np.linalg.eigvalsh(np.diag(off, 1) + np.diag(off, -1))
        return np.sort(2.0 / ev[ev > 1e-12])

    xi = inverse_eigs(2 * n, 0)
    zeta = inverse_eigs(2 * n - 1, 1) if n > 1 else np.zeros(0)
    eta = np.empty(n)
    for j in range(n):  # product of ratios: the plain products overflow for N ≳ 60
        others = np.delete(xi, j)
        eta[j] = 0.5 * n * b[n] * np.prod((zeta**2 - xi[j] ** 2) / (others**2 - xi[j] ** 2))
    xi.flags.writeable = False
    eta.flags.writeable = False
    return xi, eta


N_MAX = 400


def raised_n(n_pade: int) -> int:
    """The next pole count when an estimate misses its tolerance: 25 % more, at most N_MAX."""
    return min(int(math.ceil(1.25 * n_pade)), N_MAX)


def default_n(tolerance, scale, t_min):
    """A priori N: coupling-energy error ≈ 0.053 Σ_p γ_p W_p² / (ξ_N T)² (measured on the
    single level; the slowest observable; 0.08 here for margin), ξ_N ≈ 2.6 N². Every concrete
    ``PadeResponse.evaluate`` then checks the estimate at its own (T, μ) and raises N by 25 %
    until it meets the tolerance."""
    xi_needed = math.sqrt(0.08 * max(scale, 1e-300) / tolerance) / t_min
    return int(min(max(math.ceil(math.sqrt(xi_needed / 2.6)), 4), N_MAX))


def pole_scale(pole_data):
    """Σ_p 2|κ_p| Re λ_p (= Σ γ_p W_p² for Lorentzians): the size of the lead tails."""
    return float(np.sum(2 * np.abs(np.asarray(pole_data["kappa"]))
                        * np.asarray(pole_data["lam"]).real))


def pade_pole_data(model):
    """Pole vectors, κ, λ and term vectors of a pole-sum model (NumPy when concrete)."""
    terms = flatten_terms(model)
    # NumPy for concrete values (no eager JAX operations to compile), jnp under tracing
    xp = np if is_concrete(*jax.tree_util.tree_leaves(model)) else jnp
    vec, kap, lam, pres, pterm = [], [], [], [], []
    for j, (dens, v, r) in enumerate(terms):
        for lor in dens.lorentzian_terms():
            gamma, width, center = (xp.asarray(x) for x in (lor.gamma, lor.width, lor.center_))
            vec.append(xp.asarray(v).astype(complex))
            kap.append(xp.asarray(0.5 * gamma * width).astype(complex))
            lam.append(xp.asarray(width + 1j * center).astype(complex))
            pres.append(r)
            pterm.append(j)
    out = dict(vec=xp.stack(vec, axis=1), kappa=xp.stack(kap), lam=xp.stack(lam),
               tvec=xp.stack([xp.asarray(v).astype(complex) for _, v, _ in terms], axis=1))
    return dict(to_jax(out), pole_res=tuple(pres), pole_term=tuple(pterm),
                term_res=tuple(r for _, _, r in terms))


def checked_temperature(self, temperature, chemical_potential):
    """(T, μ) checked for a Padé response (a method of PadeResponse and DrivenPadeResponse):
    T > 0 and μ finite, eagerly when concrete, ``eqx.error_if`` under tracing."""
    msg = "temperature must be > 0 and chemical potentials finite"
    if is_concrete(temperature, chemical_potential):
        t, u = np.asarray(temperature, float), np.asarray(chemical_potential, float)
        if not (np.all(t > 0) and np.all(np.isfinite(u))):
            raise ValueError(f"{msg}, got T = {t}, mu = {u}.")
        return temperature
    bad = jnp.any(~(temperature > 0)) | jnp.any(~jnp.isfinite(chemical_potential))
    return eqx.error_if(temperature, bad, msg)
