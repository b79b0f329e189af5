"""QuTiP-HEOM baseline for a single fermionic level coupled to Lorentzian leads.

Model (hbar = k_B = 1): H_S = eps d^dag d, each lead alpha has the spectral density
    Gamma_a(w) = gamma_a W_a^2 / ((w - c_a)^2 + W_a^2),   Gamma(w) = 2 pi sum_k |V_k|^2 delta(w - eps_k),
so that a level in the wide-band limit decays as exp(-Gamma t).

Mapping to QuTiP 5 (qutip.core.environment.LorentzianEnvironment, used by LorentzianPadeBath):
QuTiP's J(w) = gamma W^2 / ((w - omega0)^2 + W^2) with correlation functions
C^{+/-}(0) = int dw/2pi J(w) f^{+/-}(w), i.e. J is *our* Gamma with gamma_qutip = gamma, W_qutip = W.
LorentzianPadeBath always centres the Lorentzian at mu (omega0 = mu); we therefore build the
environment directly with omega0 = lead["center"] (default 0), which allows c != mu.
Numerical evidence (see `validate` below): d^2n/dt^2(0)[n0=1] - d^2n/dt^2(0)[n0=0] = -2 sum_a gamma_a W_a/2
(a gamma/2 convention would give half of this), the steady current equals the Landauer value, and in the
wide-band limit n(t) ~ exp(-(gamma_L + gamma_R) t).

Particle current out of lead alpha (positive = particles enter the level) from the first-tier ADOs:
    J_a = i sum_{k in a} s_k Tr[Q_k rho_k],  s_k = +1 (Q_k = d) for "+" modes, -1 (Q_k = d^dag) for "-" modes;
the sign is fixed by particle conservation sum_a J_a = dn/dt (checked in `validate`).
"""
import json
import time
import warnings
from pathlib import Path

import numpy as np
from qutip import basis, destroy
from qutip.core.environment import LorentzianEnvironment
from qutip.solver.heom import FermionicBath, HEOMSolver
from scipy.integrate import quad

D = destroy(2)            # basis(2, 1) is the occupied level
N_OP = D.dag() * D
DEFAULT_OPTIONS = {"method": "bdf", "atol": 1e-12, "rtol": 1e-10, "nsteps": 10**6,
                   "store_ados": True, "progress_bar": False}


def _lead_bath(lead, n_pade, tag):
    """Pade-expanded QuTiP bath for one lead dict {gamma, width, temperature, chemical_potential[, center]}."""
    env = LorentzianEnvironment(lead["temperature"], lead["chemical_potential"], lead["gamma"],
                                lead["width"], omega0=lead.get("center", 0.0))
    return FermionicBath.from_environment(env.approx_by_pade(n_pade, tag=tag), D)


def heom_single_level(eps, leads, n0, times, n_pade, max_depth=2, options=None):
    """Occupation and particle currents (out of each lead) of a single level, via QuTiP HEOM.

    max_depth = 2 is exact for this non-interacting model (depth 3 changes results by < 3e-8).
    """
    t0 = time.perf_counter()
    baths = [_lead_bath(lead, n_pade, tag=a) for a, lead in enumerate(leads)]
    solver = HEOMSolver(eps * N_OP, baths, max_depth, options={**DEFAULT_OPTIONS, **(options or {})})
    setup_time = time.perf_counter() - t0

    rho0 = (basis(2, 1) if n0 else basis(2, 0)).proj()
    t0 = time.perf_counter()
    result = solver.run(rho0, np.asarray(times, dtype=float))
    solve_time = time.perf_counter() - t0

    occ = np.array([(N_OP * ado.rho).tr().real for ado in result.ado_states])
    cur = first_tier_currents(result, len(leads))
    return {"times": np.asarray(times, dtype=float), "occupation": occ, "particle_current": cur,
            "setup_time_s": setup_time, "solve_time_s": solve_time, "n_ados": len(solver.ados.labels)}


def heom_two_sites(h, leads, n0, times, n_pade, max_depth=2, options=None):
    """Occupations of two sites (Jordan–Wigner fermions c_0, c_1), lead 0 on site 0 and lead 1
    on site 1, via QuTiP HEOM; for timing one model of a Hamiltonian map (bench_sweep)."""
    from qutip import qeye, sigmaz, tensor

    c = [tensor(destroy(2), qeye(2)), tensor(sigmaz(), destroy(2))]
    h_s = sum(complex(h[i][j]) * c[i].dag() * c[j] for i in range(2) for j in range(2))
    t0 = time.perf_counter()
    baths = []
    for a, lead in enumerate(leads):
        env = LorentzianEnvironment(lead["temperature"], lead["chemical_potential"],
                                    lead["gamma"], lead["width"], omega0=lead.get("center", 0.0))
        baths.append(FermionicBath.from_environment(env.approx_by_pade(n_pade, tag=a), c[a]))
    solver = HEOMSolver(h_s, baths, max_depth, options={**DEFAULT_OPTIONS, **(options or {})})
    setup_time = time.perf_counter() - t0
    occ0 = [basis(2, 1) if n else basis(2, 0) for n in n0]
    rho0 = tensor(*occ0).proj()
    t0 = time.perf_counter()
    result = solver.run(rho0, np.asarray(times, dtype=float))
    solve_time = time.perf_counter() - t0
    occ = np.array([[(c[i].dag() * c[i] * ado.rho).tr().real for i in range(2)]
                    for ado in result.ado_states])
    return {"occupation": occ, "setup_time_s": setup_time, "solve_time_s": solve_time,
            "n_ados": len(solver.ados.labels)}


def first_tier_currents(result, n_leads):
    """(T, n_leads) particle currents out of each lead (tags 0…n_leads−1) from the first-tier
    ADOs of a HEOM result (module docstring)."""
    cur = np.zeros((len(result.ado_states), n_leads))
    for i, ado in enumerate(result.ado_states):
        for a in range(n_leads):
            acc = 0.0
            for label in ado.filter(level=1, tags=[a]):
                exp = ado.exps(label)[0]
                plus = exp.type == exp.types["+"]
                op = exp.Q if plus else exp.Q.dag()
                acc += (1 if plus else -1) * (op * ado.extract(label)).tr()
            cur[i, a] = (1j * acc).real
    return cur


def converged_heom(eps, leads, n0, times, tol=1e-6, n_pade_start=2, n_pade_max=12):
    """Increase n_pade until occupation and currents change by < tol (max abs over times)."""
    prev = heom_single_level(eps, leads, n0, times, n_pade_start)
    for n_pade in range(n_pade_start + 1, n_pade_max + 1):
        res = heom_single_level(eps, leads, n0, times, n_pade)
        err = max(np.max(np.abs(res["occupation"] - prev["occupation"])),
                  np.max(np.abs(res["particle_current"] - prev["particle_current"])))
        res.update(n_pade=n_pade, convergence_error=float(err))
        if err < tol:
            return res
        prev = res
    warnings.warn(f"HEOM not converged to tol={tol} at n_pade={n_pade_max} (change {err:.2e})")
    return res


# ----------------------------------------------------------------------------- validation helpers
def _fermi(w, lead):
    return 0.5 * (1.0 - np.tanh((w - lead["chemical_potential"]) / (2.0 * lead["temperature"])))


def _gamma_w(w, lead):
    return lead["gamma"] * lead["width"] ** 2 / ((w - lead.get("center", 0.0)) ** 2 + lead["width"] ** 2)


def landauer_current(eps, leads, w=np.linspace(-400, 400, 800001)):
    """Exact steady particle current out of leads[0] and occupation (two Lorentzian leads)."""
    sigma = sum(l["gamma"] * l["width"] / 2 / (w - l.get("center", 0.0) + 1j * l["width"]) for l in leads)
    g2 = np.abs(1.0 / (w - eps - sigma)) ** 2
    gl, gr = (_gamma_w(w, l) for l in leads)
    fl, fr = (_fermi(w, l) for l in leads)
    return (np.trapezoid(gl * gr * g2 * (fl - fr), w) / (2 * np.pi),
            np.trapezoid((gl * fl + gr * fr) * g2, w) / (2 * np.pi))


def _d2n0(eps, leads, n0, n_pade=6):
    """d^2 n / dt^2 at t = 0 from a polynomial fit on [0, 0.05]."""
    t = np.linspace(0.0, 0.05, 51)
    occ = heom_single_level(eps, leads, n0, t, n_pade)["occupation"]
    return 2.0 * np.polynomial.polynomial.polyfit(t, occ, 6)[2]


def validate(eps, leads):
    """Mapping, sign, conservation, Landauer and wide-band checks; returns a dict of numbers."""
    out = {}
    # (1) short-time curvature: n0=1 -> -2 sum int dw/2pi Gamma (1-f); n0=0 -> +2 sum int Gamma f.
    k_full = sum(quad(lambda w: _gamma_w(w, l) * (1 - _fermi(w, l)), -np.inf, np.inf)[0]
                 for l in leads) / (2 * np.pi)
    k_empty = sum(quad(lambda w: _gamma_w(w, l) * _fermi(w, l), -np.inf, np.inf)[0]
                  for l in leads) / (2 * np.pi)
    d2_full, d2_empty = _d2n0(eps, leads, 1), _d2n0(eps, leads, 0)
    out["d2n_full"], out["d2n_full_expected"] = d2_full, -2 * k_full
    out["d2n_empty"], out["d2n_empty_expected"] = d2_empty, 2 * k_empty
    out["d2n_diff"] = d2_full - d2_empty
    out["d2n_diff_expected_-2K0"] = -2 * sum(l["gamma"] * l["width"] / 2 for l in leads)
    # (2) sign: full level, nearly empty leads -> particles flow INTO the leads (J_out < 0).
    cold = [{**l, "chemical_potential": -5.0, "temperature": 0.1} for l in leads]
    r = heom_single_level(eps, cold, 1, np.linspace(0, 2, 41), 6)
    out["sign_current_t0.5_empty_leads"] = r["particle_current"][10].tolist()
    # (3) conservation sum_a J_a = dn/dt on a fine grid (4th-order central differences).
    t = np.linspace(0, 5, 2001)
    r = heom_single_level(eps, leads, 1, t, 6)
    n, h = r["occupation"], t[1] - t[0]
    dndt = (n[:-4] - 8 * n[1:-3] + 8 * n[3:-1] - n[4:]) / (12 * h)
    out["conservation_max_err"] = float(np.max(np.abs(dndt - r["particle_current"][2:-2].sum(1))))
    # (4) steady state vs Landauer (exact), at t = 40.
    r = heom_single_level(eps, leads, 1, np.linspace(0, 40, 81), 8)
    j_l, n_ss = landauer_current(eps, leads)
    out["steady_JL_heom"], out["steady_JL_landauer"] = r["particle_current"][-1, 0], j_l
    out["steady_n_heom"], out["steady_n_landauer"] = r["occupation"][-1], n_ss
    # (5) wide-band limit: W = 200, mu = -50, T = 0.5 -> n(t) ~ exp(-(gamma_L + gamma_R) t).
    wbl = [{"gamma": l["gamma"], "width": 200.0, "temperature": 0.5, "chemical_potential": -50.0}
           for l in leads]
    t = np.linspace(0, 20, 401)
    r = heom_single_level(eps, wbl, 1, t, 16)
    dev = np.abs(r["occupation"] - np.exp(-sum(l["gamma"] for l in leads) * t))
    out["wbl_max_dev"], out["wbl_max_dev_t>=1"] = float(dev.max()), float(dev[t >= 1].max())
    return {k: (float(v) if np.isscalar(v) else v) for k, v in out.items()}


if __name__ == "__main__":
    EPS = 0.5
    LEADS = [{"gamma": 0.5, "width": 2.0, "temperature": 1.5, "chemical_potential": 0.0},   # L (hot)
             {"gamma": 0.5, "width": 2.0, "temperature": 0.5, "chemical_potential": 0.0}]   # R (cold)
    TIMES = np.linspace(0.0, 20.0, 401)
    res = converged_heom(EPS, LEADS, 1, TIMES, tol=1e-6)
    idx = [int(np.argmin(np.abs(TIMES - t))) for t in (0, 5, 10, 20)]
    report = {"n_pade": res["n_pade"], "convergence_error": res["convergence_error"],
              "n_ados": res["n_ados"], "setup_time_s": res["setup_time_s"],
              "solve_time_s": res["solve_time_s"],
              "occupation": {f"t={TIMES[i]:g}": res["occupation"][i] for i in idx},
              "particle_current_out_of_L_R": {f"t={TIMES[i]:g}": res["particle_current"][i].tolist()
                                              for i in idx}}
    print(json.dumps(report, indent=2))
    out = Path(__file__).with_name("heom_reference_default.npz")
    np.savez(out, times=res["times"], occupation=res["occupation"],
             particle_current=res["particle_current"], n_pade=res["n_pade"],
             convergence_error=res["convergence_error"], eps=EPS,
             leads=json.dumps(LEADS), n0=1)
    print(f"saved {out}")
    print(json.dumps({"validation": validate(EPS, LEADS)}, indent=2))
