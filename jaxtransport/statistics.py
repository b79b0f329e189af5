r"""Full counting statistics of heat, energy and particles on finite (discretised) reservoirs.

Two-point measurement (TPM) of X_α ∈ {H_α − μ_α N_α (heat), H_α (energy), N_α (particles)} at
0 and t, product initial state ρ_S(0) ⊗ Π_α ρ_α^th. On finite reservoirs the generating
function is an exact determinant (Klich; Schönhammer PRB 75, 205329; docs/theory.md,
"Counting statistics"):

    fermions  Z(χ, t) = det[1 − n̂ + X(χ) n̂],        bosons  Z = det[1 + n̂ − X(χ) n̂]^{-1},
    X(χ) = u† e^{iχ·ĥ_X} u e^{−iχ·ĥ_X},   u = e^{−iĤt},

with Ĥ the full single-particle Hamiltonian (system + bath modes), n̂ the full initial
correlation matrix (n̂_pq = <c_q† c_p>, block diagonal: C0 and the Fermi/Bose occupations of the
bath modes) and χ·ĥ_X = Σ_α χ_α ĥ_{X_α}, diagonal in the bath-mode basis. In that formula χ
counts the *increase* of X_α. **This module's counting fields λ count what leaves the
reservoir** (heat out of α positive, as every current in jaxtransport): ln Z_out(λ) = ln Z(−λ).

Cumulants of Q_α = −ΔX_α come from autodiff in λ (nested forward mode, any order):
κ_n = (−i)^n ∂^n_λ ln Z_out|_{λ=0}. Joint cumulants (e.g. the hot/cold heat covariance) are the
mixed derivatives.

Continuous reservoirs are discretised with ``jt.Discretised`` (``FiniteModes.from_model``):
exact for the finite bath up to its recurrence time 2π/Δω (checked); the distance to the
continuum is that of the discretisation (see ``jt.Discretised``; converge in ``n_modes``).
Units ħ = k_B = 1; Q in energy units, particle counts dimensionless.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ._validation import check_times, reservoir_values
from .reservoir import check_statistics, occupation
from .state import GaussianState

QUANTITIES = ("heat", "energy", "particles")


class FiniteModes(eqx.Module):
    """A system coupled to finite reservoirs: the full single-particle problem.

    Create with ``FiniteModes.from_model(model, jt.Discretised(...))`` (discretised continuous
    reservoirs, fermions) or ``FiniteModes.from_modes(...)`` (explicit bath modes; fermions or
    bosons). Mode order: system modes first, then the bath modes reservoir by reservoir
    (``owner[k]`` is the reservoir of bath mode k).

    Units ħ = k_B = 1: mode energies, temperatures and chemical potentials in the units of h.
    """

    hamiltonian: Array  # (D, D) full single-particle Hamiltonian
    bath_energies: Array  # (K,) ε_k of the bath modes
    temperature: Array  # (M,) default temperatures
    chemical_potential: Array  # (M,)
    n_system: int = eqx.field(static=True)
    owner: tuple[int, ...] = eqx.field(static=True)
    statistics: str = eqx.field(static=True)
    recurrence_time: float = eqx.field(static=True)

    @property
    def n_reservoirs(self) -> int:
        return int(self.temperature.shape[0])

    @property
    def size(self) -> int:
        return int(self.hamiltonian.shape[0])

    @classmethod
    def from_modes(
        cls, hamiltonian, energies, couplings, temperature, chemical_potential=None,
        statistics: str = "fermion",
    ) -> FiniteModes:
        r"""Explicit finite reservoirs.

        - ``hamiltonian``: system h (n, n), Hermitian.
        - ``energies``: per reservoir α a 1-D array of mode energies ε_αk.
        - ``couplings``: per reservoir an array V_α of shape (K_α, n):
          H_I = Σ_αki V_α[k, i] a_i† c_αk + h.c.
        - ``temperature``, ``chemical_potential``: (M,) defaults for evaluation.
        - ``statistics``: ``"fermion"`` or ``"boson"`` (bosons need ε_αk > μ_α and a total
          Hamiltonian bounded below, i.e. Ĥ − min μ positive definite).
        """
        statistics = check_statistics(statistics)
        h = np.asarray(hamiltonian, dtype=complex)
        if h.ndim != 2 or h.shape[0] != h.shape[1] or not np.allclose(h, h.conj().T, atol=1e-10):
            raise ValueError(f"hamiltonian must be a Hermitian (n, n) matrix, got shape {h.shape}.")
        n = h.shape[0]
        if len(energies) != len(couplings) or len(energies) == 0:
            raise ValueError(
                f"energies and couplings need one entry per reservoir (>= 1), got "
                f"{len(energies)} and {len(couplings)}."
            )
        eps, coup, owner = [], [], []
        for a, (e, v) in enumerate(zip(energies, couplings, strict=True)):
            e = np.asarray(e, dtype=float).ravel()
            v = np.asarray(v, dtype=complex).reshape(-1, n) if np.size(v) else np.zeros((0, n))
            if v.shape != (e.size, n):
                raise ValueError(
                    f"couplings[{a}] must have shape ({e.size}, {n}) (modes × system modes), "
                    f"got {np.shape(v)}."
                )
            eps.append(e)
            coup.append(v)
            owner += [a] * e.size
        m = len(energies)
        temp = np.broadcast_to(np.asarray(temperature, dtype=float), (m,))
        mu = np.zeros(m) if chemical_potential is None else np.broadcast_to(
            np.asarray(chemical_potential, dtype=float), (m,))
        if np.any(~(temp > 0)):
            raise ValueError(f"temperatures must be > 0, got {temp}.")
        full = _assemble(h, np.concatenate(eps), np.concatenate(coup))
        if statistics == "boson":
            _check_bosons(full, np.concatenate(eps), np.asarray(owner), mu)
        return cls(
            hamiltonian=jnp.asarray(full),
            bath_energies=jnp.asarray(np.concatenate(eps)),
            temperature=jnp.asarray(temp),
            chemical_potential=jnp.asarray(mu),
            n_system=n,
            owner=tuple(int(o) for o in owner),
            statistics=statistics,
            recurrence_time=math.inf,
        )

    @classmethod
    def from_model(cls, model, method) -> FiniteModes:
        """Discretise ``model``'s reservoirs exactly as ``jt.Discretised`` does (same modes and
        couplings as the engine's discretised method, so first moments agree with it)."""
        from .response.discretised import Discretised

        if not isinstance(method, Discretised):
            raise ValueError(f"method must be a jt.Discretised(...), got {type(method).__name__}.")
        grid = method.grid(model)
        method._check(model, np.zeros(1), grid)  # band-weight warnings / errors
        n = model.n_modes
        eps, coup, owner = [], [], []
        for nodes, _dw, r, dens, v, _, spacing in grid:
            amp = np.sqrt(np.asarray(dens(jnp.asarray(nodes))) * spacing / (2 * math.pi))
            eps.append(np.asarray(nodes))
            coup.append(amp[:, None] * np.asarray(v)[None, :])
            owner += [r] * len(nodes)
        eps = np.concatenate(eps)
        full = _assemble(np.asarray(model.hamiltonian, dtype=complex), eps, np.concatenate(coup))
        if model.statistics == "boson":
            _check_bosons(full, eps, np.asarray(owner), np.asarray(model.chemical_potentials))
        t_rec = min(2 * math.pi / dw for _, dw, *_ in grid) if method.check_recurrence else math.inf
        return cls(
            hamiltonian=jnp.asarray(full),
            bath_energies=jnp.asarray(eps),
            temperature=jnp.asarray(model.temperatures),
            chemical_potential=jnp.asarray(model.chemical_potentials),
            n_system=n,
            owner=tuple(int(o) for o in owner),
            statistics=model.statistics,
            recurrence_time=t_rec,
        )


def _assemble(h, eps, coup):
    n, k = h.shape[0], eps.size
    full = np.zeros((n + k, n + k), complex)
    full[:n, :n] = h
    full[n:, n:] = np.diag(eps)
    full[:n, n:] = coup.T  # H[i, k] = V_{k,i}  (a_i† c_k)
    full[n:, :n] = coup.conj()
    return full


def _check_bosons(full, eps, owner, mu):
    if np.any(eps <= mu[owner]):
        raise ValueError(
            "bosonic bath modes need ε_αk > μ_α (the Bose function diverges otherwise)."
        )
    lo = np.linalg.eigvalsh(full).min()
    if lo <= mu.min():
        raise ValueError(
            f"bosonic model unstable: the lowest single-particle energy {lo:.4g} is not above "
            f"the smallest chemical potential {mu.min():.4g}."
        )


# ---------------------------------------------------------------------------------------------
def _weights(modes: FiniteModes, quantity: str, mu):
    """ĥ_X per reservoir: (M, K) diagonal entries (zero for modes of other reservoirs)."""
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}.")
    own = jnp.asarray(np.eye(modes.n_reservoirs)[np.asarray(modes.owner)].T)  # (M, K)
    eps = modes.bath_energies[None, :]
    if quantity == "heat":
        return own * (eps - mu[..., :, None])  # (..., M, K)
    shape = mu.shape[:-1] + own.shape
    if quantity == "energy":
        return jnp.broadcast_to(own * eps, shape)
    return jnp.broadcast_to(own, shape)


def _prepare(modes, times, state, temperature, chemical_potential):
    t = check_times(times)
    if t[-1] >= modes.recurrence_time:
        raise ValueError(
            f"times reach {t[-1]:g} but the finite reservoirs recur at 2π/Δω = "
            f"{modes.recurrence_time:.4g}: increase n_modes of the discretisation."
        )
    c0 = state.correlation if isinstance(state, GaussianState) else jnp.asarray(state)
    n = modes.n_system
    if c0.ndim < 2 or c0.shape[-2:] != (n, n):
        raise ValueError(f"initial correlation must be (..., {n}, {n}), got {c0.shape}.")
    temp, mu = reservoir_values(modes.temperature, modes.chemical_potential,
                                temperature, chemical_potential)
    m = modes.n_reservoirs
    if temp.ndim == 0 or mu.ndim == 0 or temp.shape[-1] != m or mu.shape[-1] != m:
        raise ValueError(f"temperature and chemical_potential must have shape (..., {m}), got "
                         f"{temp.shape} and {mu.shape}.")
    mu_in = mu
    batch = jnp.broadcast_shapes(c0.shape[:-2], temp.shape[:-1], mu.shape[:-1])
    c0 = jnp.broadcast_to(c0, batch + (n, n))
    temp = jnp.broadcast_to(temp, batch + (m,))
    mu = jnp.broadcast_to(mu, batch + (m,))
    own = np.asarray(modes.owner)
    f = occupation(modes.bath_energies, temp[..., own], mu[..., own], modes.statistics)
    if mu_in.ndim == 1:  # the same μ for the whole batch: keep ĥ_X shared
        mu = mu_in
    return jnp.asarray(t), c0.astype(complex), f, mu


def _batched(fun, c0, f, w):
    """Apply fun(c0, f, w) over the (flattened) leading batch axes of c0 / f (and of w, when
    w carries them; an unbatched w keeps everything built from it shared by the batch)."""
    batch = c0.shape[:-2]
    if not batch:
        return fun(c0, f, w)
    flat = lambda a: a.reshape((-1,) + a.shape[len(batch):])
    if w.ndim == 2:  # (M, K): shared
        out = jax.vmap(fun, in_axes=(0, 0, None))(flat(c0), flat(f), w)
    else:
        out = jax.vmap(fun)(flat(c0), flat(f), flat(w))
    return out.reshape(batch + out.shape[1:])


def _spectrum(modes):
    return jnp.linalg.eigh(modes.hamiltonian)


def _u(spec, t):
    """Full single-particle propagator e^{−iĤt} from the spectrum (λ, V)."""
    lam, vec = spec
    return (vec * jnp.exp(-1j * lam * t)) @ vec.conj().T


def _u_dt(spec, t):
    lam, vec = spec
    return (vec * (-1j * lam * jnp.exp(-1j * lam * t))) @ vec.conj().T


def _log_det(u, n, c0, f, w, lam, statistics):
    """ln Z_out(λ) at one time, given u = e^{−iĤt}: λ (M,) counts X_α leaving reservoir α."""
    d = u.shape[0]
    eye = jnp.eye(d, dtype=complex)
    chi_h = jnp.concatenate([jnp.zeros(n), -(lam @ w)])  # χ = −λ (χ counts the increase)
    e = jnp.exp(1j * chi_h)
    x = (u.conj().T @ (e[:, None] * u)) * e.conj()[None, :]
    nx = jnp.concatenate([c0 @ (x - eye)[:n], f[:, None] * (x - eye)[n:]])  # n̂ (X − 1)
    if statistics == "fermion":
        sign, logabs = jnp.linalg.slogdet(eye + nx)  # det(1 − n̂ + X n̂)
        return jnp.log(sign) + logabs
    sign, logabs = jnp.linalg.slogdet(eye - nx)  # det(1 + n̂ − X n̂)^{-1}
    return -(jnp.log(sign) + logabs)


@eqx.filter_jit
def _log_z_jit(modes, c0, f, w, times, lam):
    spec = _spectrum(modes)

    def single(c0, f, w):
        return jax.lax.map(lambda t: _log_det(_u(spec, t), modes.n_system, c0, f, w, lam,
                                              modes.statistics), times)

    return _batched(single, c0, f, w)


def log_generating_function(
    modes: FiniteModes, times, counting_field, state, temperature=None, chemical_potential=None,
    quantity: str = "heat",
) -> Array:
    r"""ln Z(λ, t) = ln Σ_q P_t(q) e^{iλ·q} of the quantities q_α **taken out of** each reservoir.

    ``counting_field`` λ: shape (M,) (one field per reservoir, all counted at once).
    ``quantity``: ``"heat"`` (q_α = −Δ(H_α − μ_α N_α)), ``"energy"`` (−ΔH_α) or
    ``"particles"`` (−ΔN_α). ``state``: the system's initial C0 (..., n, n). Returns (..., T),
    complex (ln Z is purely real at imaginary λ; the branch follows the principal log).

    Units ħ = k_B = 1: λ in 1/energy for heat and energy (λ·q is dimensionless), dimensionless for
    particles; ln Z is dimensionless.
    """
    t, c0, f, mu = _prepare(modes, times, state, temperature, chemical_potential)
    lam = jnp.asarray(counting_field, jnp.float64)
    if lam.shape != (modes.n_reservoirs,):
        raise ValueError(
            f"counting_field must have shape ({modes.n_reservoirs},), got {lam.shape}."
        )
    return _log_z_jit(modes, c0, f, _weights(modes, quantity, mu), t, lam)


def _log_det_series(u, n, c0, f, w, lam, order, statistics):
    """ln det(1 ± n̂(X − 1)) truncated after Tr B^order: B = ±n̂(X(λ) − 1) = O(λ), so this has
    the same derivatives at λ = 0 as the exact ln Z up to ``order`` (matrix products only,
    no factorisation: cheap to differentiate in Taylor mode)."""
    d = u.shape[0]
    eye = jnp.eye(d, dtype=complex)
    chi_h = jnp.concatenate([jnp.zeros(n), -(lam @ w)])
    e = jnp.exp(1j * chi_h)
    xm = (u.conj().T @ (e[:, None] * u)) * e.conj()[None, :] - eye
    b = jnp.concatenate([c0 @ xm[:n], f[:, None] * xm[n:]])
    sgn = 1.0 if statistics == "fermion" else -1.0
    b = sgn * b
    out, p = jnp.trace(b), b
    for m in range(2, order + 1):
        p = p @ b
        out = out + (-1) ** (m + 1) / m * jnp.trace(p)
    return sgn * out


def _series_log_z(u, n, c0, f, phi, order, statistics):
    """Taylor coefficients c_1..c_order of ln Z(s) = Σ_k c_k s^k at one time.

    E(s) = e^{is φ} (φ the diagonal counted operator along the counting direction, sign of χ
    included), X(s) = u† E u E* = e^{is ĥ_t} e^{−isφ} with ĥ_t = u† φ u, so
    X_k = Σ_{a+b=k} (i)^a (−i)^b ĥ_t^a φ^b / (a! b!) with ĥ_t^a = u† φ^a u; then
    ln det(1 + B), B = ±n̂(X − 1) = Σ_k s^k B_k, is expanded as Σ_m (−1)^{m+1} Tr B^m / m,
    the innermost product of every trace taken as an O(D²) elementwise sum."""
    d = u.shape[0]
    eye = jnp.eye(d, dtype=complex)
    powers = [eye] + [u.conj().T @ ((phi**a)[:, None] * u) for a in range(1, order + 1)]
    sgn = 1.0 if statistics == "fermion" else -1.0

    def nmul(x):
        return jnp.concatenate([c0 @ x[:n], f[:, None] * x[n:]])

    bs = []
    for k in range(1, order + 1):
        xk = sum(
            (1j) ** a * (-1j) ** (k - a) / (math.factorial(a) * math.factorial(k - a))
            * powers[a] * (phi ** (k - a))[None, :]
            for a in range(k + 1)
        )
        bs.append(sgn * nmul(xk))  # bs[k − 1] = B_k
    tr = lambda x, y: jnp.sum(x * y.T)  # Tr(x y)
    coef = [jnp.trace(bs[j - 1]) for j in range(1, order + 1)]  # m = 1
    prev = {j: bs[j - 1] for j in range(1, order)}  # B^1 coefficients still needed
    for m in range(2, order + 1):
        new = {}
        for j in range(m, order + 1):
            terms = [(prev[i], bs[j - i - 1]) for i in range(m - 1, j) if i in prev]
            coef[j - 1] = coef[j - 1] + (-1) ** (m + 1) / m * sum(tr(x, y) for x, y in terms)
            if j <= order - 1:
                new[j] = sum(x @ y for x, y in terms)
        prev = new
    return sgn * jnp.stack(coef)


@eqx.filter_jit
def _cumulants_jit(modes, c0, f, w, times, direction, order, time_derivative, method):
    from jax.experimental import jet

    spec = _spectrum(modes)  # once: never inside the differentiated functions
    n = modes.n_system
    fact = jnp.asarray([math.factorial(k) for k in range(1, order + 1)], jnp.float64)
    phase = (-1j) ** jnp.arange(1, order + 1)

    def single(c0, f, w):
        phi = jnp.concatenate([jnp.zeros(n), -(direction @ w)])  # χ = −λ

        def orders(u):
            if method == "series":
                coef = _series_log_z(u, n, c0, f, phi, order, modes.statistics)
                return (phase * fact * coef).real
            # Taylor-mode autodiff (jet) of the truncated log-det series
            lnz = lambda s: _log_det_series(u, n, c0, f, w, s * direction, order,
                                            modes.statistics)
            zero = jnp.asarray(0.0)
            _, terms = jet.jet(lnz, (zero,), ((jnp.asarray(1.0),) + (zero,) * (order - 1),))
            return (phase * jnp.stack(terms)).real

        def per_time(t):
            u = _u(spec, t)
            if time_derivative:  # d/dt through u(t) only: u̇ = −iĤu
                return jax.jvp(orders, (u,), (_u_dt(spec, t),))[1]
            return orders(u)

        return jax.lax.map(per_time, times)

    return _batched(single, c0, f, w)


def cumulants(
    modes: FiniteModes, times, state, temperature=None, chemical_potential=None,
    quantity: str = "heat", reservoir: int = 0, order: int = 4, time_derivative: bool = False,
    method: str = "series", **continuum,
) -> Array:
    r"""Cumulants κ_1 … κ_order of q_α(t) taken out of ``reservoir`` (TPM), (..., T, order).

    ``modes`` is a ``FiniteModes`` (finite reservoirs, below) **or a continuous ``jt.Model``**
    with pole-sum fermionic reservoirs: then no discretisation is involved
    (``jaxtransport.fcs_continuum.cumulants``; ``continuum`` keywords such as ``n_pade``,
    ``error_estimate`` go there).

    ``state`` (..., n, n), ``temperature``/``chemical_potential`` (..., M): leading batch axes
    broadcast (one compiled program; the propagator is shared by the whole batch).

    κ_1 = <Q_α> (= the integrated current of the engine), κ_2 = variance, κ_3, κ_4 …, from
    κ_n = (−i)^n ∂^n_λ ln Z(λ e_α) at λ = 0 (any order). ln det(1 + B) = Σ_m (−1)^{m+1}
    Tr B^m / m truncated at m = order has the same derivatives (B = O(λ)); its Taylor
    coefficients are obtained either

    - ``method="series"`` (default): Taylor-mode differentiation written out (the counted
      operator's Heisenberg powers u†φ^a u, then traces of products) — about order + 2
      D×D products per time, the φ-powers shared by a batch with common μ;
    - ``method="autodiff"``: the same series differentiated by JAX's Taylor-mode autodiff
      (``jax.experimental.jet``) — a slower, independent route (tests check they agree).

    ``log_generating_function`` gives the untruncated determinant at any λ.
    With ``time_derivative=True`` returns dκ_n/dt instead (κ̇_1 = J^Q_α(t), κ̇_2 the noise
    "current"), by forward-mode differentiation in t.

    Units ħ = k_B = 1: for ``quantity="heat"`` or ``"energy"`` κ_n is in (energy)^n (units of h),
    for ``"particles"`` dimensionless; ``times`` in 1/h. Sign: q_α is counted **out of** the
    reservoir (κ_1 > 0 when heat leaves it), the convention of every current of jaxtransport.
    """
    if not isinstance(modes, FiniteModes):
        return _continuum("cumulants", modes, time_derivative, method, times, state, temperature,
                          chemical_potential, quantity=quantity, reservoir=reservoir,
                          order=order, **continuum)
    if continuum:
        raise ValueError(f"unknown keywords for FiniteModes: {sorted(continuum)}.")
    t, c0, f, mu = _prepare(modes, times, state, temperature, chemical_potential)
    if not (isinstance(order, int) and order >= 1):
        raise ValueError(f"order must be an integer >= 1, got {order!r}.")
    m = modes.n_reservoirs
    if not (isinstance(reservoir, int | np.integer) and 0 <= reservoir < m):
        raise ValueError(f"reservoir must be an index in [0, {m - 1}], got {reservoir!r}.")
    if method not in ("series", "autodiff"):
        raise ValueError(f"method must be 'series' or 'autodiff', got {method!r}.")
    direction = jnp.zeros(m).at[reservoir].set(1.0)
    return _cumulants_jit(modes, c0, f, _weights(modes, quantity, mu), t, direction, order,
                          time_derivative, method)


def levitov_lesovik_rates(
    model, order: int = 4, reservoir: int = 0, temperature=None, chemical_potential=None,
    quantity: str = "heat", panel_width: float | None = None, nodes_per_panel: int = 20,
) -> Array:
    r"""Long-time cumulant rates c_n = lim κ_n(t)/t of q taken out of ``reservoir``, (order,).

    Two-terminal continuum ``Model`` with the Caroli transmission 𝒯(ω) = T_αβ(ω)
    (``jt.transmission``), α = ``reservoir``, β the other one, s = ±1 for fermions/bosons:

        ln Z(λ)/t = s ∫ dω/2π ln{1 + s 𝒯 [f_α(1 − s f_β)(e^{iλ w(ω)} − 1)
                                         + f_β(1 − s f_α)(e^{−iλ w(ω)} − 1)]},

    Levitov–Lesovik for fermions (Fermi functions f), Saito–Dhar for bosons (Bose functions;
    ln Z = −∫ ln{1 − 𝒯[n_α(1 + n_β)(…) + n_β(1 + n_α)(…)]}). w = ω − μ_α (heat), ω (energy)
    or 1 (particles); c_n = (−i)^n ∂^n_λ ln Z/t at λ = 0 by nested forward-mode autodiff. c_1
    is the Landauer current. These are the slopes the transient cumulants of ``cumulants``
    approach at long times. Composite Gauss–Legendre over μ ± 40 T_max cut to the supports of
    the densities (the rule of ``jt.steady_state``); ``panel_width`` must resolve the
    structure of 𝒯 (narrow resonances at weak coupling need smaller panels). Units
    ħ = k_B = 1 (rates in energy^n per time).
    """
    if model.n_reservoirs != 2:
        raise ValueError(f"levitov_lesovik_rates needs exactly two reservoirs, got "
                         f"{model.n_reservoirs}.")
    if not (isinstance(order, int) and order >= 1):
        raise ValueError(f"order must be an integer >= 1, got {order!r}.")
    if reservoir not in (0, 1):
        raise ValueError(f"reservoir must be 0 or 1, got {reservoir!r}.")
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}.")
    from .steady_state import frequency_rule, transmission

    temp, mu = (np.asarray(x, float) for x in reservoir_values(
        model.temperatures, model.chemical_potentials, temperature, chemical_potential))
    if temp.shape != (2,) or mu.shape != (2,) or np.any(~(temp > 0)):
        raise ValueError(f"temperature (> 0) and chemical_potential must have shape (2,), got "
                         f"{temp} and {mu}.")
    rule = frequency_rule(model, temp, mu, panel_width)
    om, wt = rule(rule.panel_width, nodes_per_panel)
    a, b = reservoir, 1 - reservoir
    s = 1.0 if model.statistics == "fermion" else -1.0
    tr = jax.vmap(lambda o: transmission(model, o))(om)[:, a, b]
    fa, fb = (occupation(om, temp[c], mu[c], model.statistics) for c in (a, b))
    w = {"heat": om - mu[a], "energy": om, "particles": jnp.ones_like(om)}[quantity]

    def log_z(lam):
        arg = fa * (1 - s * fb) * (jnp.exp(1j * lam * w) - 1) + fb * (1 - s * fa) * (
            jnp.exp(-1j * lam * w) - 1)
        return s * jnp.sum(wt * jnp.log(1 + s * tr * arg))

    out, g = [], log_z
    for k in range(order):
        g = (lambda gg: (lambda x: jax.jvp(gg, (x,), (jnp.ones_like(x),))[1]))(g)
        out.append(((-1j) ** (k + 1) * g(jnp.asarray(0.0))).real)
    return jnp.stack(out)


@eqx.filter_jit
def _joint_jit(modes, c0, f, w, times, order):
    spec = _spectrum(modes)

    def single(c0, f, w):
        def per_time(t):
            u = _u(spec, t)
            g = lambda lam: _log_det(u, modes.n_system, c0, f, w, lam, modes.statistics)
            for _ in range(order):
                g = jax.jacfwd(g)
            return ((-1j) ** order * g(jnp.zeros(modes.n_reservoirs))).real  # (M, ..., M)

        return jax.lax.map(per_time, times)

    return _batched(single, c0, f, w)


def _continuum(name, model, time_derivative, method, *args, **kwargs):
    """Continuous reservoirs: ``jaxtransport.fcs_continuum`` (no discretisation)."""
    from . import fcs_continuum

    if time_derivative or method != "series":
        raise ValueError("for a continuous model, time_derivative and method are not "
                         "available (cumulants are returned on the time grid).")
    return getattr(fcs_continuum, name)(model, *args, **kwargs)


def joint_cumulants(
    modes: FiniteModes, times, state, temperature=None, chemical_potential=None,
    quantity: str = "heat", order: int = 2, **continuum,
) -> Array:
    r"""All joint cumulants of order ``order`` of (q_1, …, q_M) taken out of the reservoirs.

    Shape (..., T, M, …, M) (``order`` reservoir axes; batch axes as in ``cumulants``): e.g.
    order 2 gives the covariance matrix <<Q_α Q_β>>(t), whose off-diagonal hot/cold entry is
    the heat cross-correlation. Costs M^order evaluations of the determinant's derivatives:
    keep ``order`` small.

    Units as in ``cumulants`` (energy^order for heat and energy, dimensionless for particles);
    counted out of each reservoir.
    """
    if not isinstance(modes, FiniteModes):  # continuous reservoirs (orders 1 and 2)
        return _continuum("joint_cumulants", modes, False, "series", times, state,
                          temperature, chemical_potential, quantity=quantity, order=order,
                          **continuum)
    t, c0, f, mu = _prepare(modes, times, state, temperature, chemical_potential)
    if not (isinstance(order, int) and order >= 1):
        raise ValueError(f"order must be an integer >= 1, got {order!r}.")
    return _joint_jit(modes, c0, f, _weights(modes, quantity, mu), t, order)
