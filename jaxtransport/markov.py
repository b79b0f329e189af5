r"""Markovian (weak-coupling GKSL / Lindblad) baseline for the same ``Model``.

Units ħ = k_B = 1 (rates and energies in the units of h); every current is **out of** its
reservoir; C_ij = <a_j† a_i>.

Born–Markov with the rates of Fermi's golden rule taken from the spectral densities:

- **global** (secular): the jump operators are the eigenmodes b_m of h (frequencies ω_m);
  reservoir α empties mode m at rate Γ_α,m [1 ∓ f_α(ω_m)] and fills it at Γ_α,m f_α(ω_m)
  (upper sign fermions, lower bosons), Γ_α,m = <φ_m|Γ_α(ω_m)|φ_m>. Degenerate Bohr
  frequencies (|ω_m − ω_m'| < ``degeneracy_tolerance``) keep their coherences (rate matrix
  <φ_m|Γ_α(ω̄)|φ_m'>, ω̄ the pair's mean frequency). Optional Lamb shift
  h_LS = Σ_α <φ_m|Re Σ^R_α(ω̄)|φ_m'> (same selection rule).
- **local**: each coupling term (g_j, v_j) of reservoir α acts on its local mode v_j† a
  with rate matrix g_j(ε_j) v_j v_j† at the local energy ε_j = v_j† h v_j / |v_j|², occupied
  with f_α(ε_j) (Lamb shift Re Σ_j(ε_j) v_j v_j† optional).

For quadratic models the GKSL equation closes on C_ij = <a_j† a_i> (fermions and bosons alike):

    dC/dt = A C + C A† + Σ_α Γ⁺_α,    A = −i (h + h_LS) − ½ Σ_α Γ_α,   Γ⁺_α = Γ_α f_α,

so C(t) = e^{At}(C0 − C_∞)e^{A†t} + C_∞ exactly. Currents **out of** α (ħ = 1):
J^N_α = Tr[Γ⁺_α] − Tr[Γ_α C], J^E_α = Tr[h (Γ⁺_α − ½{Γ_α, C})], J^Q_α = J^E_α − μ_α J^N_α.
The global steady state equals the sequential (weak-coupling) limit of Landauer (docs/theory.md,
"Master equations"):
J^Q_α = Σ_m (ω_m − μ_α) Σ_β Γ_α,m Γ_β,m/Σ_γ Γ_γ,m [f_α(ω_m) − f_β(ω_m)].
What it misses by construction: the switch-on of the coupling (⟨H_I⟩, hence the transient
reversal of the heat current), memory, and all higher orders in the coupling.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_times
from .reservoir import occupation
from .response.expm import expm
from .state import GaussianState

KINDS = ("global", "local")


class MarkovGenerator(eqx.Module):
    """A quadratic GKSL generator acting on C = <a_j† a_i>.

    ``rates`` Γ_α (M, n, n) and ``gains`` Γ⁺_α = Γ_α f_α (M, n, n) are the (positive
    semidefinite) Kossakowski matrices of the loss/gain jump operators; ``hamiltonian`` is
    h + h_LS; ``system_hamiltonian`` h (used for the energy currents, which like every
    current of jaxtransport are out of each reservoir); ``chemical_potential`` μ_α (M,).
    Units ħ = k_B = 1: rates, energies and μ in the units of h. Built by
    ``markov_generator``.
    """

    hamiltonian: Array
    system_hamiltonian: Array
    rates: Array
    gains: Array
    chemical_potential: Array
    kind: str = eqx.field(static=True)
    statistics: str = eqx.field(static=True)

    @property
    def drift(self) -> Array:
        """A = −i(h + h_LS) − ½ Σ_α Γ_α."""
        return -1j * self.hamiltonian - 0.5 * jnp.sum(self.rates, axis=0)

    def jump_rates(self) -> tuple[Array, Array]:
        """Eigenvalues of the loss and gain Kossakowski matrices, (M, n) each: the GKSL
        rates, all ≥ 0 (complete positivity). Loss = Γ_α(1 − f_α) (fermions) /
        Γ_α(1 + f_α) (bosons)."""
        loss = self.rates - self.gains if self.statistics == "fermion" else self.rates + self.gains
        return jnp.linalg.eigvalsh(loss), jnp.linalg.eigvalsh(self.gains)


def _self_energy_matrix(res, omega):
    out = 0.0
    for dens, v in res.terms:  # analytic for Lorentzian sums, Kramers–Kronig otherwise
        out = out + dens.self_energy(omega)[..., None, None] * jnp.outer(v, v.conj())
    return out


def markov_generator(
    model, kind: str = "global", temperature=None, chemical_potential=None,
    lamb_shift: bool = False, degeneracy_tolerance: float = 1e-9,
) -> MarkovGenerator:
    r"""The weak-coupling GKSL generator of ``model`` (``kind`` = "global" or "local").

    ``temperature``/``chemical_potential``: (M,) (default: the model's; units of energy,
    ħ = k_B = 1). ``lamb_shift`` adds the Hermitian part of the self-energy at the Bohr
    (global) / local frequencies (analytic for Lorentzian sums, Kramers–Kronig for the other
    densities). Returns a ``MarkovGenerator`` (rates in units of h); raises ``ValueError``
    for an unknown ``kind``, a negative ``degeneracy_tolerance`` or (M,) arrays of the wrong
    shape."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    if not degeneracy_tolerance >= 0:
        raise ValueError(f"degeneracy_tolerance must be >= 0, got {degeneracy_tolerance}.")
    m = model.n_reservoirs
    temp = model.temperatures if temperature is None else jnp.asarray(temperature, jnp.float64)
    mu = (model.chemical_potentials if chemical_potential is None
          else jnp.asarray(chemical_potential, jnp.float64))
    if temp.shape != (m,) or mu.shape != (m,):
        raise ValueError(f"temperature and chemical_potential must have shape ({m},), got "
                         f"{temp.shape} and {mu.shape}.")
    h = model.hamiltonian.astype(complex)
    n = h.shape[0]
    stat = model.statistics
    rates, gains, shift = [], [], jnp.zeros((n, n), complex)
    if kind == "global":
        w, phi = jnp.linalg.eigh(h)
        keep = jnp.abs(w[:, None] - w[None, :]) <= degeneracy_tolerance
        wbar = 0.5 * (w[:, None] + w[None, :])
        for a, res in enumerate(model.reservoirs):
            gam = res.spectral_matrix(wbar)  # (n, n, n, n): Γ_α(ω̄_mm') in the site basis
            el = jnp.einsum("im,mkij,jk->mk", phi.conj(), gam, phi)  # <φ_m|Γ(ω̄_mk)|φ_k>
            el = jnp.where(keep, el, 0.0)
            f = occupation(wbar, temp[a], mu[a], stat)
            rates.append(phi @ el @ phi.conj().T)
            gains.append(phi @ (el * f) @ phi.conj().T)
            if lamb_shift:
                sig = _self_energy_matrix(res, wbar)
                se = jnp.einsum("im,mkij,jk->mk", phi.conj(), sig, phi)
                se = jnp.where(keep, 0.5 * (se + se.conj().T), 0.0)  # Hermitian part
                shift = shift + phi @ se @ phi.conj().T
    else:
        for a, res in enumerate(model.reservoirs):
            r = jnp.zeros((n, n), complex)
            gp = jnp.zeros((n, n), complex)
            for dens, v in res.terms:
                vv = jnp.outer(v, v.conj())
                eps = jnp.real(v.conj() @ h @ v) / jnp.real(v.conj() @ v)
                r = r + dens(eps) * vv
                gp = gp + dens(eps) * occupation(eps, temp[a], mu[a], stat) * vv
                if lamb_shift:
                    shift = shift + jnp.real(dens.self_energy(eps)) * vv
            rates.append(r)
            gains.append(gp)
    return MarkovGenerator(
        hamiltonian=h + shift, system_hamiltonian=h, rates=jnp.stack(rates),
        gains=jnp.stack(gains), chemical_potential=mu, kind=kind, statistics=stat,
    )


class MarkovSolution(eqx.Module):
    """C(t) and the currents out of each reservoir under the GKSL generator.

    Shapes: ``times`` (T,), ``correlation`` (T, n, n) with C_ij = <a_j† a_i> (dimensionless),
    ``particle_current`` (T, M) in inverse time, ``energy_current`` and ``heat_current``
    (T, M) in energy per time (units ħ = k_B = 1, energies in the units of h). Same sign
    convention as ``jt.Solution``: out of reservoir α. ``system_energy`` (T,) <H_S(t)> =
    Tr[H_S(t) C] and ``power`` (T,) P = Tr[∂_t H_S C] (the drive's power into the system; 0
    undriven), in energy and energy per time; ``coupling_energy`` (T, M) is 0 by construction
    (the Born–Markov treatment has no <H_I>); ``temperature``, ``chemical_potential`` (M,)
    the reservoir values (with a bias Δ_α(t), J^Q_α = J^E_α − (μ_α + Δ_α(t)) J^N_α)."""

    times: Array
    correlation: Array
    particle_current: Array
    energy_current: Array
    heat_current: Array
    system_energy: Array | None = None
    power: Array | None = None
    coupling_energy: Array | None = None
    temperature: Array | None = None
    chemical_potential: Array | None = None


def _currents(gen: MarkovGenerator, c):
    """Currents out of each reservoir for correlation(s) c (..., n, n): (..., M) each."""
    h = gen.system_hamiltonian
    inflow = gen.gains[..., :, :] - 0.5 * (
        jnp.einsum("aij,...jk->...aik", gen.rates, c) + jnp.einsum("...ij,ajk->...aik", c,
                                                                    gen.rates))
    jn = jnp.einsum("...aii->...a", inflow).real
    je = jnp.einsum("ij,...aji->...a", h, inflow).real
    return jn, je, je - gen.chemical_potential * jn


def steady_correlation(gen: MarkovGenerator) -> Array:
    """C_∞ solving A C + C A† + Σ_α Γ⁺_α = 0 (a Lyapunov equation; unique when every mode
    is damped): the (n, n) steady correlation matrix C_ij = <a_j† a_i> of ``gen``
    (dimensionless)."""
    a = gen.drift
    n = a.shape[0]
    eye = jnp.eye(n)
    # row-major vec: vec(A C) = (A ⊗ 1) vec C, vec(C A†) = (1 ⊗ conj(A)) vec C
    op = jnp.kron(a, eye) + jnp.kron(eye, a.conj())
    rhs = -jnp.sum(gen.gains, axis=0).reshape(-1)
    return jnp.linalg.solve(op, rhs).reshape(n, n)


def markov_steady_state(gen: MarkovGenerator):
    """(particle, energy, heat) currents out of each reservoir in the GKSL steady state, (M,)
    each; units ħ = k_B = 1 (particles per time, energy per time in the units of h)."""
    return _currents(gen, steady_correlation(gen))


def markov_solve(generator, state, times, *, kind: str = "global", lamb_shift: bool = False,
                 degeneracy_tolerance: float = 1e-9, rtol: float = 1e-10,
                 atol: float = 1e-12) -> MarkovSolution:
    """Solution of the GKSL equation on ``times`` (any t ≥ 0, in units of 1/h with ħ = 1) from
    C0 = ``state`` (n, n) or a GaussianState at t = 0, with its currents out of each reservoir.

    ``generator``: a ``MarkovGenerator`` (then ``kind``, ``lamb_shift`` and
    ``degeneracy_tolerance`` are those it was built with), or a ``Model``: an undriven model
    is solved with ``markov_generator(model, kind, ...)``; both exactly,
    C(t) = e^{At}(C0 − C_∞)e^{A†t} + C_∞. A **driven** model (``jt.Drive``) is integrated
    (diffrax, relative/absolute tolerances ``rtol``/``atol``) with the *instantaneous*
    generator: the rates of ``markov_generator`` for H_S(t) (global: at its instantaneous
    eigenenergies and in its eigenbasis, the adiabatic Markovian master equation, valid when
    the drive is slow on the scale of the Bohr frequencies' spacing; local: at the
    instantaneous local energies), reservoir α's rates × s_α(t)² (coupling modulation) and
    evaluated at ω − Δ_α(t) (bias: the reservoir's modes are shifted by Δ_α, their
    occupations are not). The power P = Tr[∂_t H_S C] counts the Hamiltonian terms only: a
    Markovian treatment has no coupling energy, so coupling modulation does no work here.

    Returns a ``MarkovSolution``; raises ``ValueError`` for bad times or a C0 of the wrong
    shape.

    Examples:
        A level between a hot and a cold lead, initially filled:

        >>> import numpy as np, jaxtransport as jt
        >>> lead = jt.Lorentzian(gamma=0.2, width=2.0)
        >>> model = jt.Model([[0.5]], (jt.Reservoir(lead, temperature=1.5, coupling=[1.0]),
        ...                            jt.Reservoir(lead, temperature=0.5, coupling=[1.0])))
        >>> gen = jt.markov_generator(model, kind="global")
        >>> sol = jt.markov_solve(gen, np.eye(1), np.linspace(0.0, 50.0, 6))
        >>> sol.heat_current.shape
        (6, 2)
        >>> bool(np.allclose(sol.heat_current[-1], jt.markov_steady_state(gen)[2], atol=1e-6))
        True
    """
    t = check_times(times)
    c0 = state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)
    opts = dict(kind=kind, lamb_shift=lamb_shift, degeneracy_tolerance=degeneracy_tolerance)
    if isinstance(generator, MarkovGenerator):
        gen, temp, mu = generator, None, generator.chemical_potential
    elif hasattr(generator, "reservoirs") and hasattr(generator, "hamiltonian"):
        temp, mu = generator.temperatures, generator.chemical_potentials
        if getattr(generator, "drive", None) is not None:
            n = generator.hamiltonian.shape[0]
            if c0.shape != (n, n):
                raise ValueError(f"initial correlation must be ({n}, {n}), got {c0.shape}.")
            return _driven_solve(generator, jnp.asarray(c0, complex), jnp.asarray(t),
                                 rtol=float(rtol), atol=float(atol), **opts)
        gen = markov_generator(generator, **opts)
    else:
        raise ValueError(f"markov_solve needs a MarkovGenerator or a jt.Model, got "
                         f"{type(generator).__name__}.")
    n = gen.hamiltonian.shape[0]
    if c0.shape != (n, n):
        raise ValueError(f"initial correlation must be ({n}, {n}), got {c0.shape}.")
    css = steady_correlation(gen)
    prop = jax.vmap(lambda s: expm(gen.drift * s))(jnp.asarray(t))
    c = jnp.einsum("tij,jk,tlk->til", prop, c0 - css, prop.conj()) + css
    jn, je, jq = _currents(gen, c)
    return MarkovSolution(
        times=jnp.asarray(t), correlation=c, particle_current=jn, energy_current=je,
        heat_current=jq, system_energy=jnp.einsum("ij,tji->t", gen.system_hamiltonian, c).real,
        power=jnp.zeros(t.shape), coupling_energy=jnp.zeros(jn.shape), temperature=temp,
        chemical_potential=mu)


def instantaneous_generator(model, t, kind: str = "global", lamb_shift: bool = False,
                            degeneracy_tolerance: float = 1e-9) -> MarkovGenerator:
    """The GKSL generator of a driven ``model`` at time ``t`` (1/h, ħ = 1), as used by
    ``markov_solve``: ``markov_generator`` for H_S(t), each reservoir's rates × s_α(t)² and
    evaluated at ω − Δ_α(t); its ``chemical_potential`` is μ_α + Δ_α(t) (the electrochemical
    potential entering J^Q_α, currents out of each reservoir). Units: rates and energies in
    the units of h. Traceable in ``t`` and in the drive's parameters."""
    drive = model.drive
    h_t = drive.hamiltonian(model.hamiltonian, t).astype(complex)
    n = h_t.shape[0]
    scale = drive.coupling_scale(t) ** 2
    delta = drive.potential(t)
    rates, gains, shift = [], [], jnp.zeros((n, n), complex)
    for a, res in enumerate(model.reservoirs):
        # reservoir α alone, seen from a system shifted by −Δ_α: Γ_α(ω − Δ_α), f_α(ω − Δ_α)
        one = eqx.tree_at(lambda m: (m.hamiltonian, m.reservoirs), model,
                          (h_t - delta[a] * jnp.eye(n), (res,)))
        g = markov_generator(one, kind, model.temperatures[a:a + 1],
                             model.chemical_potentials[a:a + 1], lamb_shift,
                             degeneracy_tolerance)
        rates.append(scale[a] * g.rates[0])
        gains.append(scale[a] * g.gains[0])
        shift = shift + scale[a] * (g.hamiltonian - g.system_hamiltonian)
    return MarkovGenerator(
        hamiltonian=h_t + shift, system_hamiltonian=h_t, rates=jnp.stack(rates),
        gains=jnp.stack(gains), chemical_potential=model.chemical_potentials + delta,
        kind=kind, statistics=model.statistics)


@eqx.filter_jit
def _driven_solve(model, c0, times, *, kind, lamb_shift, degeneracy_tolerance, rtol, atol):
    import diffrax

    opts = dict(kind=kind, lamb_shift=lamb_shift, degeneracy_tolerance=degeneracy_tolerance)

    def rhs(s, y, _):
        gen = instantaneous_generator(model, s, **opts)
        a = gen.drift
        c = y[0] + 1j * y[1]
        dc = a @ c + c @ a.conj().T + jnp.sum(gen.gains, axis=0)
        return jnp.stack([dc.real, dc.imag])

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), diffrax.Tsit5(), t0=0.0, t1=jnp.maximum(times[-1], 1e-12),
        dt0=None, y0=jnp.stack([c0.real, c0.imag]),
        saveat=diffrax.SaveAt(ts=times), max_steps=200_000,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol))
    c = sol.ys[:, 0] + 1j * sol.ys[:, 1]

    def observe(s, cs):
        gen = instantaneous_generator(model, s, **opts)
        jn, je, jq = _currents(gen, cs)
        rate = model.drive.hamiltonian_rate(s, like=gen.system_hamiltonian)
        return (jn, je, jq, jnp.einsum("ij,ji->", gen.system_hamiltonian, cs).real,
                jnp.einsum("ij,ji->", rate, cs).real)

    jn, je, jq, es, power = jax.vmap(observe)(times, c)
    return MarkovSolution(
        times=times, correlation=c, particle_current=jn, energy_current=je, heat_current=jq,
        system_energy=es, power=power, coupling_energy=jnp.zeros(jn.shape),
        temperature=model.temperatures, chemical_potential=model.chemical_potentials)


def sequential_landauer(model, temperature=None, chemical_potential=None):
    """Sequential-tunnelling (weak-coupling) limit of Landauer, (particle, energy, heat)
    currents out of each reservoir, (M,) each (units ħ = k_B = 1: particles per time, energy
    per time): eigenmode m transmits with Γ_α,m Γ_β,m / Σ_γ Γ_γ,m at its energy ω_m
    (docs/theory.md, "Steady state"). Raises ``ValueError`` for a degenerate h."""
    m = model.n_reservoirs
    temp = model.temperatures if temperature is None else jnp.asarray(temperature, jnp.float64)
    mu = (model.chemical_potentials if chemical_potential is None
          else jnp.asarray(chemical_potential, jnp.float64))
    w, phi = jnp.linalg.eigh(model.hamiltonian.astype(complex))
    if np.min(np.diff(np.asarray(w)), initial=np.inf) < 1e-9:
        raise ValueError("sequential_landauer needs a non-degenerate system Hamiltonian.")
    g = jnp.stack([
        jnp.einsum("im,mij,jm->m", phi.conj(), r.spectral_matrix(w), phi).real
        for r in model.reservoirs
    ])  # (M, n_modes)
    f = jnp.stack([occupation(w, temp[a], mu[a], model.statistics) for a in range(m)])
    tot = jnp.sum(g, axis=0)
    tr = g[:, None, :] * g[None, :, :] / tot  # (M, M, modes)
    df = f[:, None, :] - f[None, :, :]
    jn = jnp.einsum("abm,abm->a", tr, df)
    je = jnp.einsum("m,abm,abm->a", w, tr, df)
    return jn, je, je - mu * jn
