"""Observables of one (or a batch of) evaluation(s): currents, energies, correlations.

Sign convention: every current is **out of** the reservoir, J^N_α = −d<N_α>/dt,
J^E_α = −d<H_α>/dt, heat J^Q_α = J^E_α − μ_α J^N_α. Units: ħ = k_B = 1 (energies and
rates in the units of h). Shapes: (..., time, reservoir) and (..., time, n, n).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array


def current_fields(amplitude, amplitude_dt, chemical_potential) -> dict:
    """Currents out of each reservoir and coupling energies from the complex current
    amplitudes X^x_α (x ∈ {N, E}; ``amplitude[..., t, x, α]``) and their time derivatives:
    J^x = 2 Re X^x, <H_I^α> = −2 Im X^N, J^Q = J^E − μ J^N."""
    mu = chemical_potential[..., None, :]
    jn, je = 2 * amplitude[..., 0, :].real, 2 * amplitude[..., 1, :].real
    jnd, jed = 2 * amplitude_dt[..., 0, :].real, 2 * amplitude_dt[..., 1, :].real
    return dict(
        particle_current=jn,
        energy_current=je,
        heat_current=je - mu * jn,
        coupling_energy=-2 * amplitude[..., 0, :].imag,
        coupling_energy_derivative=-2 * amplitude_dt[..., 0, :].imag,
        heat_current_derivative=jed - mu * jnd,
    )


def integrate_heat(times, j, jd):
    """Q_α(t) = ∫_{t_0}^t J^Q_α dt' from J^Q (..., T, M) and its exact derivative: fourth-order
    corrected trapezoid rule, plain trapezoid on an interval starting at the switch-on t = 0
    (see ``Solution.integrated_heat``)."""
    dt = jnp.diff(times)[:, None]
    smooth = (times[:-1] > 0)[:, None]
    seg = 0.5 * dt * (j[..., 1:, :] + j[..., :-1, :]) + jnp.where(
        smooth, dt**2 / 12 * (jd[..., :-1, :] - jd[..., 1:, :]), 0.0
    )
    zero = jnp.zeros_like(j[..., :1, :])
    return jnp.concatenate([zero, jnp.cumsum(seg, axis=-2)], axis=-2)


class AbstractSolution(eqx.Module):
    """What every method's result has, with the same names, units and signs: currents **out
    of** each reservoir and coupling energies, shapes (..., time, reservoir); the (T, μ) it
    was evaluated at and the method's error estimate. Concrete kinds: ``jt.Solution``
    (number-conserving, with C(t)), ``jt.CurrentSolution`` (currents only) and
    ``jt.GeneralSolution`` (pairing / position coupling, with the covariance)."""

    times: eqx.AbstractVar[Array]
    particle_current: eqx.AbstractVar[Array]  # (..., T, M)
    energy_current: eqx.AbstractVar[Array]  # (..., T, M)
    heat_current: eqx.AbstractVar[Array]  # (..., T, M)
    heat_current_derivative: eqx.AbstractVar[Array]  # (..., T, M)
    coupling_energy: eqx.AbstractVar[Array]  # (..., T, M)  <H_I^α>
    coupling_energy_derivative: eqx.AbstractVar[Array]  # (..., T, M)  d<H_I^α>/dt
    temperature: eqx.AbstractVar[Array]  # (..., M)
    chemical_potential: eqx.AbstractVar[Array]  # (..., M)
    error_estimate: eqx.AbstractVar[Array]
    # and ``statistics`` ("fermion" | "boson"; a static field, with a default in subclasses)

    @property
    def symmetric_heat_current(self) -> Array:
        """J^Q_α − ½ d<H_I^α>/dt: heat with half the coupling energy assigned to reservoir α
        (the strong-coupling 'symmetric split')."""
        return self.heat_current - 0.5 * self.coupling_energy_derivative

    @property
    def integrated_heat(self) -> Array:
        """Q_α(t) = ∫_{t_0}^t J^Q_α dt' (heat out of α since the first grid time t_0; equal
        to ∫_0^t when the grid starts at 0). Fourth-order corrected trapezoid rule using the
        exact derivative dJ^Q/dt: error O(Δt⁴·max|d⁴J/dt⁴|/720), except on an interval that
        starts at the switch-on t = 0: there J^Q is not smooth (dJ/dt varies like a power of
        t, the kernel of a Lorentzian has a kink), so that interval uses the plain trapezoid
        (error ~Δt²·|dJ/dt|; e.g. 1.6e-5 for Δt = 0.01 in the two-site test model). Use a grid
        that is fine near t = 0 when Q at short times matters."""
        return integrate_heat(self.times, self.heat_current, self.heat_current_derivative)

    def to_xarray(self, reservoir_names=None):
        """An ``xarray.Dataset`` with dims (batch..., time, reservoir)."""
        return currents_to_xarray(self, reservoir_names)


class Solution(AbstractSolution):
    """Observables of a number-conserving model: the currents of ``AbstractSolution``, the
    correlation matrix C(t) and the system's energy and particle-number derivatives.

    Units ħ = k_B = 1 (energies in the units of h, times in 1/h). Every current is out of its
    reservoir: ``particle_current`` J^N_α = −d<N_α>/dt (particles per time), ``energy_current``
    J^E_α = −d<H_α>/dt and ``heat_current`` J^Q_α = J^E_α − μ_α J^N_α (energy per time; positive
    when heat leaves α), shapes (..., T, M); ``coupling_energy`` <H_I^α> (energy);
    ``correlation`` C_ij(t) = <a_j† a_i> (..., T, n, n), dimensionless; ``error_estimate`` in
    the units of the observables; ``method`` names the method that computed it."""

    times: Array
    hamiltonian: Array
    correlation: Array  # (..., T, n, n)  C_ij(t) = <a_j† a_i>
    particle_current: Array  # (..., T, M)
    energy_current: Array  # (..., T, M)
    heat_current: Array  # (..., T, M)
    coupling_energy: Array  # (..., T, M)  <H_I^α>
    coupling_energy_derivative: Array  # (..., T, M)  d<H_I^α>/dt
    heat_current_derivative: Array  # (..., T, M)
    system_energy_derivative: Array  # (..., T)  d<H_S>/dt
    particle_number_derivative: Array  # (..., T)  d<N_S>/dt
    temperature: Array  # (..., M)
    chemical_potential: Array  # (..., M)
    error_estimate: Array
    statistics: str = eqx.field(static=True, default="fermion")  # of the model solved
    # the method that computed it (set by jt.solve; None from a response's evaluate)
    method: str | None = eqx.field(static=True, default=None)

    @classmethod
    def from_amplitudes(
        cls, *, times, hamiltonian, correlation, amplitude, amplitude_dt, scalar_dt,
        temperature, chemical_potential, error_estimate, statistics="fermion",
    ):
        return cls(
            times=times,
            hamiltonian=hamiltonian,
            correlation=correlation,
            **current_fields(amplitude, amplitude_dt, chemical_potential),
            system_energy_derivative=scalar_dt[..., 0],
            particle_number_derivative=scalar_dt[..., 1],
            temperature=temperature,
            chemical_potential=chemical_potential,
            error_estimate=error_estimate,
            statistics=statistics,
        )

    # --- derived observables -------------------------------------------------------------
    @property
    def occupation(self) -> Array:
        """Mode occupations <a_i† a_i>(t), shape (..., T, n)."""
        return jnp.diagonal(self.correlation, axis1=-2, axis2=-1).real

    @property
    def system_energy(self) -> Array:
        """<H_S>(t) = Tr[h C(t)], shape (..., T)."""
        return jnp.einsum("ij,...tji->...t", self.hamiltonian, self.correlation).real

    def to_xarray(self, reservoir_names=None):
        """An ``xarray.Dataset`` with dims (batch..., time, reservoir, mode, mode_)."""
        import numpy as np

        bdims = [f"batch_{i}" for i in range(self.particle_current.ndim - 2)]
        corr = np.asarray(self.correlation)
        n = np.arange(corr.shape[-1])
        return currents_to_xarray(
            self, reservoir_names,
            extra={
                "occupation": (bdims + ["time", "mode"], np.asarray(self.occupation)),
                "system_energy": (bdims + ["time"], np.asarray(self.system_energy)),
                "correlation_real": (bdims + ["time", "mode", "mode_"], corr.real),
                "correlation_imag": (bdims + ["time", "mode", "mode_"], corr.imag),
            },
            coords={"mode": n, "mode_": n},
            attrs={"correlation_convention": "C_ij = <a_j^dagger a_i>"},
        )


def currents_to_xarray(sol, reservoir_names=None, extra=None, coords=None, attrs=None):
    """The current fields of ``sol`` (a ``Solution`` or ``CurrentSolution``) as an
    ``xarray.Dataset`` with dims (batch..., time, reservoir), plus ``extra`` variables."""
    import numpy as np
    import xarray as xr

    nres = sol.particle_current.shape[-1]
    names = list(reservoir_names) if reservoir_names else [f"r{k}" for k in range(nres)]
    batch = sol.particle_current.shape[:-2]
    bdims = [f"batch_{i}" for i in range(len(batch))]
    tr = bdims + ["time", "reservoir"]
    data = {k: (tr, np.asarray(getattr(sol, k))) for k in (
        "particle_current", "energy_current", "heat_current", "symmetric_heat_current",
        "integrated_heat", "coupling_energy")}
    data.update(extra or {})
    for k in ("temperature", "chemical_potential"):
        data[k] = (bdims + ["reservoir"],
                   np.broadcast_to(np.asarray(getattr(sol, k)), tuple(batch) + (nres,)))
    return xr.Dataset(
        data,
        coords={"time": np.asarray(sol.times), "reservoir": names, **(coords or {})},
        attrs={
            "units": "hbar = k_B = 1; energies and rates in the units of the Hamiltonian",
            "sign_convention": "currents are OUT OF each reservoir: J^N=-d<N>/dt, "
            "J^E=-d<H_alpha>/dt, J^Q=J^E-mu*J^N",
            **(attrs or {}),
            "quadrature_error_estimate": float(np.max(np.asarray(sol.error_estimate))),
        },
    )
