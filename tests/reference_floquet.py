r"""Floquet–Landauer (Floquet scattering) reference for a harmonically driven quadratic system.

H_S(t) = h + A cos(Ω t) V between reservoirs with Lorentzian spectral densities
Γ_α(ω) = g_α(ω) v_α v_α†, g_α(ω) = γ W² / ((ω − c)² + W²), retarded self-energy
Σ_α(ω) = (γW/2) / (ω − c + iW) v_α v_α† (Im Σ = −Γ/2). Long after the switch-on, the retarded
Green's function G(t, t') depends on t − t' and periodically on t:

    G(t, ω) = ∫dτ e^{iωτ} G(t, t − τ) = Σ_k e^{−ikΩt} G^{(k)}(ω).

Inserting this into (i∂_t − H_S(t)) G − Σ * G = δ and collecting e^{−i(ω + nΩ)t}:

    Σ_k [(ω + nΩ − Σ(ω + nΩ)) δ_nk − H_{n−k}] G^{(k)}(ω) = δ_n0,
    H_0 = h,  H_{±1} = A V / 2,

a linear system in the Floquet (sideband) space, truncated at |n| ≤ N (``n_sidebands``;
convergence checked by raising N). An electron entering from reservoir β at energy ω leaves
into α at ω + kΩ with probability density

    T_αβ^{(k)}(ω) = Tr[Γ_α(ω + kΩ) G^{(k)}(ω) Γ_β(ω) G^{(k)}(ω)†],

and leaves reservoir α at all with Σ_{β,k} T_βα^{(k)}(ω) = i Tr[Γ_α(ω)(G^{(0)} − G^{(0)†})(ω)]
(unitarity of the Floquet S-matrix; ``outflow="unitarity"`` uses this form, ``"sum"`` the
sum — their agreement checks the truncation). Time-averaged currents *out of* α (particles,
and energy carried in and out at the in- and out-going energies; the energy stored in the
system and the coupling is periodic, so its average rate vanishes):

    J^N_α = ∫dω/2π [f_α(ω) Σ_{β,k} T_βα^{(k)}(ω) − Σ_{β,k} T_αβ^{(k)}(ω) f_β(ω)],
    J^E_α = ∫dω/2π [ω f_α(ω) Σ_{β,k} T_βα^{(k)}(ω) − Σ_{β,k} (ω + kΩ) T_αβ^{(k)}(ω) f_β(ω)],

J^Q_α = J^E_α − μ_α J^N_α. The frequency integral is composite Gauss–Legendre in θ on ω = s tan θ
(the integrand decays as ω⁻⁶), with ``n_nodes`` nodes (checked by doubling). Independent of
jaxtransport: numpy only.
"""

from __future__ import annotations

import numpy as np


def floquet_currents(h, v, amplitude, frequency, leads, n_sidebands=8, n_nodes=4000,
                     scale=4.0, outflow="sum"):
    """Time-averaged (J^N, J^E, J^Q) out of each lead, arrays (M,), in the periodic steady
    state. ``leads``: dicts with gamma, width, center (default 0), temperature,
    chemical_potential and coupling (a vector over the n sites)."""
    h = np.asarray(h, complex)
    v = np.asarray(v, complex)
    n = h.shape[0]
    ks = np.arange(-n_sidebands, n_sidebands + 1)
    nf = len(ks)
    # composite 16-point Gauss–Legendre in θ on (−π/2, π/2)
    x, w = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(-0.5 * np.pi, 0.5 * np.pi, max(1, n_nodes // 16) + 1)
    half = 0.5 * np.diff(edges)[:, None]
    th = ((edges[:-1, None] + edges[1:, None]) / 2 + half * x[None, :]).ravel()
    omega = scale * np.tan(th)
    dw = (half * w[None, :]).ravel() * scale / np.cos(th) ** 2  # dω
    vecs = [np.asarray(ld["coupling"], complex) for ld in leads]
    proj = [np.outer(u, u.conj()) for u in vecs]

    def density(ld, om):
        return ld["gamma"] * ld["width"] ** 2 / ((om - ld.get("center", 0.0)) ** 2
                                                  + ld["width"] ** 2)

    def sigma(om):  # (..., n, n)
        out = 0
        for ld, p in zip(leads, proj, strict=True):
            s = 0.5 * ld["gamma"] * ld["width"] / (om - ld.get("center", 0.0) + 1j * ld["width"])
            out = out + s[..., None, None] * p
        return out

    # Floquet matrix K (nω, nf n, nf n); column block of sideband 0 gives G^{(k)}(ω)
    kmat = np.zeros((len(omega), nf * n, nf * n), complex)
    for a, ka in enumerate(ks):
        om = omega + ka * frequency
        kmat[:, a * n:(a + 1) * n, a * n:(a + 1) * n] = (om[:, None, None] * np.eye(n) - h
                                                        - sigma(om))
        for b, kb in enumerate(ks):
            if abs(ka - kb) == 1:
                kmat[:, a * n:(a + 1) * n, b * n:(b + 1) * n] -= 0.5 * amplitude * v
    rhs = np.zeros((nf * n, n), complex)
    rhs[(nf // 2) * n:(nf // 2 + 1) * n] = np.eye(n)
    g = np.linalg.solve(kmat, np.broadcast_to(rhs, (len(omega), nf * n, n)))
    g = g.reshape(len(omega), nf, n, n)  # G^{(k)}(ω)

    def fermi(ld, om):
        return 0.5 * (1 - np.tanh((om - ld["chemical_potential"]) / (2 * ld["temperature"])))

    m = len(leads)
    # T[α, β, k, ω]
    trans = np.zeros((m, m, nf, len(omega)))
    for a in range(m):
        for b in range(m):
            ga = density(leads[a], omega[None, :] + ks[:, None] * frequency)  # (nf, nω)
            gb = density(leads[b], omega)
            # Tr[P_α G P_β G†] = |v_α† G v_β|²
            amp = np.einsum("i,wkij,j->kw", vecs[a].conj(), g, vecs[b])
            trans[a, b] = ga * gb[None, :] * np.abs(amp) ** 2
    jn, je = np.zeros(m), np.zeros(m)
    for a in range(m):
        if outflow == "sum":
            out = trans[:, a].sum(axis=(0, 1))
        else:
            g0 = g[:, nf // 2]
            out = density(leads[a], omega) * np.real(
                1j * np.einsum("i,wij,j->w", vecs[a].conj(), g0 - np.conj(
                    np.swapaxes(g0, 1, 2)), vecs[a]))
        fa = fermi(leads[a], omega)
        inflow = sum(trans[a, b] * fermi(leads[b], omega)[None, :] for b in range(m))
        e_in = (omega[None, :] + ks[:, None] * frequency) * inflow
        jn[a] = np.sum(dw * (fa * out - inflow.sum(0))) / (2 * np.pi)
        je[a] = np.sum(dw * (omega * fa * out - e_in.sum(0))) / (2 * np.pi)
    mu = np.array([ld["chemical_potential"] for ld in leads])
    return jn, je, je - mu * jn


def lead(temperature, chemical_potential, coupling, gamma=1.0, width=2.0, center=0.0):
    return dict(temperature=temperature, chemical_potential=chemical_potential,
                coupling=coupling, gamma=gamma, width=width, center=center)


if __name__ == "__main__":
    leads = [lead(1.0, 0.3, [1.0]), lead(0.4, -0.2, [1.0])]
    for nsb, nodes in ((6, 2000), (8, 4000), (10, 8000)):
        for outflow in ("sum", "unitarity"):
            print(nsb, nodes, outflow,
                  floquet_currents([[0.2]], [[1.0]], 1.2, 1.0, leads, nsb, nodes,
                                   outflow=outflow))
