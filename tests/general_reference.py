"""Brute-force many-body references for general quadratic models (NumPy/SciPy only).

Fermions: Jordan–Wigner matrices on the 2^L Fock space (L = system + bath modes), pairing
included; exact diagonalisation of the many-body H. Bosons: truncated Fock spaces with
``cutoff`` levels per mode (truncation error reported by the caller by varying it).

Every observable is ⟨O⟩(t) = Tr[ρ(t) O] with ρ(t) = e^{−iHt} ρ(0) e^{iHt}; currents out of
reservoir α are −i⟨[H, O_α]⟩ (d⟨O⟩/dt = i⟨[H, O]⟩), i.e. J^N = −d⟨N_α⟩/dt,
J^E = −d⟨H_α⟩/dt. Quadratures: x = (a + a†)/√2, p = −i(a − a†)/√2.
"""

import numpy as np
import scipy.linalg as la
from reference import _fermion_annihilators


def _boson_annihilators(L, cutoff):
    a1 = np.diag(np.sqrt(np.arange(1, cutoff)), 1).astype(complex)
    eye = np.eye(cutoff)
    ops = []
    for m in range(L):
        mats = [eye] * L
        mats[m] = a1
        op = mats[0]
        for x in mats[1:]:
            op = np.kron(op, x)
        ops.append(op)
    return ops


def _quads(a):
    return (a + a.conj().T) / np.sqrt(2), -1j * (a - a.conj().T) / np.sqrt(2)


def _evolve(h, rho0, times, observables):
    """{name: array over times} of Tr[ρ(t) O]; O may be a matrix or a list of matrices."""
    e, u = la.eigh(h)
    r0 = u.conj().T @ rho0 @ u
    obs_e = {k: [u.conj().T @ o @ u for o in v] for k, v in observables.items()}
    out = {k: [] for k in observables}
    for t in times:
        ph = np.exp(-1j * e * t)
        rt = (ph[:, None] * r0) * ph.conj()[None, :]
        for k, ops in obs_e.items():
            out[k].append([np.sum(rt.T * o).real for o in ops])
    return {k: np.array(v) for k, v in out.items()}


def fermion_pairing_evolve(h, delta, h_mod, delta_mod, baths, times):
    """System H_S = a†ha + ½(a†Δa† + h.c.); initial ρ_S ∝ exp(−(a†h_mod a + ½(a†Δ_mod a† +
    h.c.))); ``baths`` = [(eps (K,), V (K, n), T, μ)] with H_I = Σ V_ki a_i† c_k + h.c.
    Returns dict with 'gamma' (T, 2n, 2n) Majorana covariance, 'particle_current',
    'energy_current', 'coupling_energy' (T, M) and 'system_energy' (T,)."""
    n = h.shape[0]
    L = n + sum(len(b[0]) for b in baths)
    ops = [o.toarray() for o in _fermion_annihilators(L)]
    ad = [o.conj().T for o in ops]
    sys_ops, off = ops[:n], n

    def bdg(hh, dd):
        out = sum(hh[i, j] * ad[i] @ ops[j] for i in range(n) for j in range(n))
        pair = sum(dd[i, j] * ad[i] @ ad[j] for i in range(n) for j in range(n))
        return out + 0.5 * (pair + pair.conj().T)

    hs = bdg(h, delta)
    hmod = bdg(h_mod, delta_mod)
    htot = hs.copy()
    hb_list, hi_list, nb_list, bath_mod = [], [], [], np.zeros_like(hs)
    for eps, v, temp, mu in baths:
        idx = range(off, off + len(eps))
        hb = sum(e * ad[k] @ ops[k] for e, k in zip(eps, idx, strict=False))
        nb = sum(ad[k] @ ops[k] for k in idx)
        hi = sum(v[q, i] * ad[i] @ ops[k] for q, k in enumerate(idx) for i in range(n))
        hi = hi + hi.conj().T
        htot = htot + hb + hi
        bath_mod = bath_mod + (hb - mu * nb) / temp
        hb_list.append(hb)
        hi_list.append(hi)
        nb_list.append(nb)
        off += len(eps)
    rho0 = la.expm(-(hmod + bath_mod))
    rho0 /= np.trace(rho0)
    xs, ps = zip(*(_quads(a) for a in sys_ops), strict=False)
    r = list(xs) + list(ps)
    obs = {
        "gamma": [1j * r[k] @ r[l] if k != l else 0 * r[k] for k in range(2 * n)
                  for l in range(2 * n)],
        "particle_current": [-1j * (htot @ nb - nb @ htot) for nb in nb_list],
        "energy_current": [-1j * (htot @ hb - hb @ htot) for hb in hb_list],
        "coupling_energy": hi_list,
        "system_energy": [hs],
    }
    out = _evolve(htot, rho0, times, obs)
    out["gamma"] = out["gamma"].reshape(len(times), 2 * n, 2 * n)
    out["system_energy"] = out["system_energy"][:, 0]
    return out


def boson_xx_evolve(gsys, mod, disp, baths, times, cutoff):
    """One system oscillator (n = 1), H_S = ½ r^T G r, coupled via X = x to baths
    [(omegas (K,), g (K,), T)] with H_α = Σ ω(q² + π²)/2, H_I = X Σ g q and counter-term
    Σ_α λ_α X², λ_α = Σ g²/(2ω) (included in the coupling energy). Initial ρ_S = D(d) ∝
    exp(−½ r^T M r) D(d)†; baths thermal. Returns covariance (T, 2, 2), mean (T, 2),
    energy_current, coupling_energy (T, M), system_energy (T,)."""
    L = 1 + sum(len(b[0]) for b in baths)
    ops = _boson_annihilators(L, cutoff)
    x, p = _quads(ops[0])
    r = [x, p]
    hs = 0.5 * sum(gsys[k, l] * r[k] @ r[l] for k in range(2) for l in range(2))
    htot = hs.copy()
    hb_list, hc_list, bath_mod, off = [], [], 0 * hs, 1
    for om, g, temp in baths:
        idx = range(off, off + len(om))
        qs = [_quads(ops[k]) for k in idx]
        hb = sum(w * 0.5 * (q @ q + pi @ pi) for w, (q, pi) in zip(om, qs, strict=False))
        force = sum(gk * q for gk, (q, _) in zip(g, qs, strict=False))
        lam = float(np.sum(np.asarray(g) ** 2 / (2 * np.asarray(om))))
        hc = x @ force + lam * x @ x
        htot = htot + hb + hc
        bath_mod = bath_mod + hb / temp
        hb_list.append(hb)
        hc_list.append(hc)
        off += len(om)
    hmod = 0.5 * sum(mod[k, l] * r[k] @ r[l] for k in range(2) for l in range(2))
    a = ops[0]
    alpha = (disp[0] + 1j * disp[1]) / np.sqrt(2)
    dop = la.expm(alpha * a.conj().T - np.conj(alpha) * a)
    rho0 = la.expm(-(hmod + bath_mod))
    rho0 = dop @ rho0 @ dop.conj().T
    rho0 /= np.trace(rho0)
    obs = {
        "moments": [0.5 * (r[k] @ r[l] + r[l] @ r[k]) for k in range(2) for l in range(2)],
        "mean": r,
        "energy_current": [-1j * (htot @ hb - hb @ htot) for hb in hb_list],
        "coupling_energy": hc_list,
        "system_energy": [hs],
        "norm": [np.eye(hs.shape[0])],
    }
    out = _evolve(htot, rho0, times, obs)
    mean = out["mean"]
    mom = out["moments"].reshape(len(times), 2, 2)
    out["covariance"] = mom - mean[:, :, None] * mean[:, None, :]
    out["system_energy"] = out["system_energy"][:, 0]
    return out
