"""Crash-safe, resumable storage of sweeps: an xarray-readable Zarr (v3) store.

Layout of ``PATH`` (a Zarr group): one array per sweep axis (its coordinate), ``time``,
``reservoir``, ``mode`` (and ``cumulant_order`` when heat cumulants are kept); one array
per observable with dims (sweep axes…, extra…) chunked along the leading sweep axis only
(one store chunk = one computed chunk, so writers never share a chunk file); ``status``
(int8: −1 not computed, 0 ok, 1 non-finite, 2 model failed, 3 (T, μ) outside the range the
method was refined for). Attributes: the resolved config (TOML text), a fingerprint of the
sweep, the rows per chunk, versions, device, units and sign conventions.

Integrity:

- The template is written to ``PATH.partial-<pid>`` and renamed to ``PATH`` when complete
  (atomic): a store killed while creating it leaves no ``PATH`` (a later run starts afresh
  and removes the partial copy); a store without its fingerprint is refused with a message.
- The chunk boundaries are the store's (``rows_per_chunk``, fixed at creation): resuming with
  another chunk size uses the store's and says so.
- Beside it, ``PATH.progress/`` holds one marker file per finished chunk, written atomically
  (temp file + ``os.replace``) *after* the chunk's data, recording its rows and the SHA-256 of
  every variable's bytes. ``resume`` and ``jaxtransport sweep verify PATH`` re-read every
  marked chunk: a missing, truncated or altered chunk (or marker) is named, reset to
  "not computed" (status −1) and recomputed.
- NetCDF export and the summary run only on a complete, verified store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1


def open_store(path):
    """The sweep results at ``path`` as an ``xarray.Dataset`` (lazy)."""
    import xarray as xr

    return xr.open_zarr(str(path), consolidated=False)


class StoreError(ValueError):
    """A sweep store cannot be used as asked (the message says why and what to do)."""


def _digest(arrays) -> dict:
    """SHA-256 of each named array's bytes (float64 / int8, C order)."""
    return {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
            for k, v in sorted(arrays.items())}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fingerprint(spec) -> str:
    """A hash of everything that determines the stored values of a sweep."""
    import jax

    h = hashlib.sha256()
    for a in spec.axes:
        h.update(a.name.encode())
        h.update(np.ascontiguousarray(a.values).tobytes())
    h.update(np.ascontiguousarray(spec.times).tobytes())
    h.update(repr((spec.kind, spec.observables, spec.hot, spec.time_stride)).encode())
    if spec.cold is not None or "heat_cumulants" in spec.observables:  # (older stores: none)
        h.update(repr((spec.cold, spec.cumulant_orders, spec.cumulant_method)).encode())
    if spec.currents_only:  # (older stores: the full Response)
        h.update(b"currents_only")
    h.update(np.ascontiguousarray(spec.initial_states).tobytes())
    for d in (spec.temperature, spec.chemical_potential, spec.parameters):
        for k in sorted(d, key=str):
            h.update(str(k).encode())
            h.update(np.ascontiguousarray(d[k]).tobytes())
    for leaf in jax.tree_util.tree_leaves(spec.model):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    h.update(repr(spec.method).encode())
    return h.hexdigest()


class SweepStore:
    """The Zarr store of one sweep (template, region writes, markers, verification)."""

    def __init__(self, path, spec, rows: int, config_text: str = ""):
        self.path = Path(path)
        self.progress = Path(str(path) + ".progress")
        self.spec = spec
        self.rows = rows
        self.config_text = config_text
        self.fp = fingerprint(spec)
        self.notes: list[str] = []  # what opening the store changed or found (for reports)

    @property
    def n_chunks(self) -> int:
        return -(-self.spec.shape[0] // self.rows)

    # -- template ---------------------------------------------------------------------------
    def open_or_create(self, *, resume: bool, create: bool, wait: float = 600.0) -> None:
        """Create the template (``create``: process 0) or open an existing store (``resume``),
        refusing a store of another sweep or one whose creation was interrupted. Processes
        that do not create wait up to ``wait`` seconds for the template, then raise."""
        import zarr

        if self.path.exists():
            if not resume and create:
                raise FileExistsError(
                    f"{self.path} exists: pass resume=True (CLI --resume) to continue it, or "
                    "choose a new path.")
        elif create:
            self._create_template()
        else:
            deadline = time.time() + wait
            if wait > 0:
                print(f"waiting up to {wait:g} s for process 0 to create the sweep template at "
                      f"{self.path}", file=sys.stderr, flush=True)
            while not self.path.exists():  # process 0 is writing the template
                if time.time() > deadline:
                    raise StoreError(
                        f"no sweep template appeared at {self.path} within {wait:g} s: process "
                        "0 (which creates it) has not run or was killed. Start process 0 "
                        "(or rerun with --resume), then this process.")
                time.sleep(0.2)
        group = zarr.open_group(str(self.path), mode="r")
        fp = group.attrs.get("fingerprint")
        if fp is None:
            raise StoreError(
                f"{self.path} is not a complete sweep store (no fingerprint: its creation "
                "was interrupted, or it is not a jaxtransport store). Delete it (and "
                f"{self.progress.name}) and run again.")
        if fp != self.fp:
            raise StoreError(
                f"{self.path} holds a different sweep (its fingerprint differs from this "
                "configuration): refusing to mix results. Use a new path.")
        rows = int(group.attrs.get("rows_per_chunk", self.rows))
        if rows != self.rows:
            self.notes.append(
                f"the store's chunks hold {rows} leading rows each (requested {self.rows}); "
                "using the store's chunk boundaries")
            self.rows = rows

    def _create_template(self) -> None:
        import jax
        import zarr

        from . import __version__

        spec = self.spec
        for old in self.path.parent.glob(f"{self.path.name}.partial-*"):
            shutil.rmtree(old, ignore_errors=True)  # left by a run killed while creating
        if self.progress.exists():  # markers of an earlier, vanished store mean nothing
            shutil.rmtree(self.progress)
        tmp_path = self.path.with_name(f"{self.path.name}.partial-{os.getpid()}")
        group = zarr.open_group(str(tmp_path), mode="w-")
        dims = tuple(a.name for a in spec.axes)
        for a in spec.axes:
            arr = group.create_array(a.name, shape=a.values.shape, dtype=a.values.dtype,
                                     dimension_names=(a.name,))
            arr[:] = a.values
        coords = {"time": spec.stored_times,
                  "reservoir": np.asarray(spec.model.reservoir_names, dtype=str),
                  "mode": np.arange(spec.model.n_modes)}
        if "heat_cumulants" in spec.observables:
            coords["cumulant_order"] = np.asarray(spec.cumulant_orders, dtype=np.int64)
        for name, val in coords.items():
            text = val.dtype.kind == "U"  # variable-length UTF-8 (has a Zarr v3 spec)
            arr = group.create_array(name, shape=val.shape, dtype=str if text else val.dtype,
                                     dimension_names=(name,))
            arr[:] = val.astype(object) if text else val
        shape = spec.shape
        lead_chunks = (self.rows,) + shape[1:]
        for name, (extra_dims, extra_shape) in spec.variables().items():
            group.create_array(name, shape=shape + extra_shape, dtype="float64",
                               chunks=lead_chunks + extra_shape, fill_value=np.nan,
                               dimension_names=dims + extra_dims)
        group.create_array("status", shape=shape, dtype="int8", chunks=lead_chunks,
                           fill_value=-1, dimension_names=dims)
        self._write_inputs(group)
        group.attrs.update({
            "schema_version": SCHEMA_VERSION,
            "fingerprint": self.fp,
            "config_toml": self.config_text,
            "jaxtransport_version": __version__,
            "jax_version": jax.__version__,
            "device": str(jax.devices()[0].device_kind),
            "backend": jax.default_backend(),
            "dtype": "float64",
            "hot_reservoir": spec.hot,
            **({} if spec.cold is None else {"cold_reservoir": spec.cold}),
            "rows_per_chunk": self.rows,
            "units": "hbar = k_B = 1; energies and rates in the units of the Hamiltonian",
            "sign_convention": "currents OUT OF each reservoir; reversed_heat = heat INTO the "
                               "hot reservoir, integral of max(-J^Q_hot, 0) dt",
            "status_codes": "-1 not computed, 0 ok, 1 non-finite, 2 model failed, 3 temperature "
                            "or chemical potential outside the range the method was refined "
                            "for",
        })
        if spec.cold is not None:
            group.attrs["conductances"] = (
                "conductance_g1 = J^Q_hot/dT, g2 = (J^Q_hot - J^Q_cold)/(2 dT), g4 = [J^Q_hot(dT) "
                "- J^Q_hot(T_hot = T_cold)]/dT, g5 = Q_hot/(t dT); dT = T_hot - T_cold; heat "
                "OUT OF the reservoirs (jaxtransport.thermodynamics)")
        if "heat_cumulants" in spec.observables:
            group.attrs["heat_cumulants"] = (
                "cumulants kappa_n(t) of the heat OUT OF the hot reservoir (two-point "
                "measurement), n = cumulant_order, on the finite reservoirs of "
                f"{spec.cumulant_method!r} (jaxtransport.statistics.cumulants)")
        if self.config_text:
            _atomic_write(Path(str(self.path) + ".config.toml"), self.config_text)
        self.progress.mkdir(parents=True, exist_ok=True)
        os.rename(tmp_path, self.path)  # atomic: PATH exists only as a complete template
        _atomic_write(self.progress / "template.ready", self.fp)

    def _write_inputs(self, group) -> None:
        """The initial states as matrices (not only their indices) and, for samples, each
        configuration's temperatures and chemical potentials."""
        spec = self.spec
        lead = "sample" if spec.kind == "samples" else "initial_state"
        c0 = np.asarray(spec.initial_states)
        for part, val in (("real", c0.real), ("imag", c0.imag)):
            arr = group.create_array(f"initial_correlation_{part}", shape=val.shape,
                                     dtype="float64", dimension_names=(lead, "mode", "mode_"))
            arr[:] = val
            arr.attrs.update(long_name=f"{part} part of the initial C0_ij = <a_j^dagger a_i>",
                             units="1")
        if spec.kind == "samples":
            for name in ("temperature", "chemical_potential"):
                val = np.asarray(spec.__getattribute__(name)["all"], dtype="float64")
                arr = group.create_array(name, shape=val.shape, dtype="float64",
                                         dimension_names=("sample", "reservoir"))
                arr[:] = val
                arr.attrs.update(units="energy (k_B = 1)")

    def temperatures(self) -> np.ndarray:
        """Every configuration's reservoir temperatures, shape (sweep shape..., M)."""
        spec = self.spec
        m = spec.model.n_reservoirs
        if spec.kind == "samples":
            return np.asarray(spec.temperature["all"], float)
        out = np.broadcast_to(np.asarray(spec.model.temperatures, float),
                              spec.shape + (m,)).copy()
        for k, a in enumerate(spec.axes):
            if a.name.startswith("temperature_"):
                alpha = int(a.name.removeprefix("temperature_"))
                idx = [None] * len(spec.shape)
                idx[k] = slice(None)
                out[..., alpha] = np.broadcast_to(np.asarray(a.values, float)[tuple(idx)],
                                                  spec.shape)
        return out

    # -- chunks -----------------------------------------------------------------------------
    def _marker(self, c: int) -> Path:
        return self.progress / f"chunk-{c:08d}.done"

    def is_done(self, c: int) -> bool:
        return self._marker(c).exists()

    def _rows(self, c: int) -> tuple[int, int]:
        r0 = c * self.rows
        return r0, min(self.spec.shape[0], r0 + self.rows)

    def write_chunk(self, c: int, out: dict, status: np.ndarray) -> None:
        """Region write of chunk ``c`` (leading rows), then its marker with the checksums."""
        import zarr

        spec = self.spec
        group = zarr.open_group(str(self.path), mode="r+")
        r0, r1 = self._rows(c)
        lead = (r1 - r0,) + spec.shape[1:]
        data = {name: np.asarray(out[name], dtype=np.float64).reshape(lead + extra_shape)
                for name, (_, extra_shape) in spec.variables().items()}
        data["status"] = np.asarray(status, dtype=np.int8).reshape(lead)
        for name, val in data.items():
            group[name][r0:r1] = val
        _atomic_write(self._marker(c), json.dumps({"rows": [r0, r1], "sha256": _digest(data)}))

    def _reset_chunk(self, group, c: int) -> None:
        """Overwrite chunk ``c`` with "not computed" (NaN, status −1) and drop its marker."""
        r0, r1 = self._rows(c)
        lead = (r1 - r0,) + self.spec.shape[1:]
        for name, (_, extra_shape) in self.spec.variables().items():
            group[name][r0:r1] = np.full(lead + extra_shape, np.nan)
        group["status"][r0:r1] = np.full(lead, -1, np.int8)
        self._marker(c).unlink(missing_ok=True)

    def check_chunk(self, group, c: int) -> str | None:
        """None if chunk ``c``'s data match its marker, else what is wrong."""
        try:
            rec = json.loads(self._marker(c).read_text())
            rows, sums = rec["rows"], rec["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return "its completion marker is unreadable (written by an older version?)"
        if list(rows) != list(self._rows(c)):
            return f"its marker covers rows {rows}, not {list(self._rows(c))}"
        r0, r1 = self._rows(c)
        names = [*self.spec.variables(), "status"]
        try:
            got = _digest({k: np.asarray(group[k][r0:r1]) for k in names})
        except Exception as err:  # noqa: BLE001 - any decoding failure means damage
            return f"its data cannot be read ({type(err).__name__}: {err})"
        bad = [k for k in names if got.get(k) != sums.get(k)]
        if bad:
            return f"checksum mismatch in {', '.join(bad)} (missing, truncated or altered)"
        return None

    def verify(self, *, repair: bool = True) -> dict[int, str]:
        """Re-read every chunk marked done and compare with its checksums; returns
        {chunk: what is wrong}. With ``repair``, damaged chunks are reset to "not computed"
        (status −1, marker removed) so that a resume recomputes them."""
        import zarr

        group = zarr.open_group(str(self.path), mode="r+" if repair else "r")
        damaged = {}
        for c in range(self.n_chunks):
            if not self.is_done(c):
                continue
            why = self.check_chunk(group, c)
            if why is not None:
                damaged[c] = why
                if repair:
                    self._reset_chunk(group, c)
        return damaged

    def missing(self) -> list[int]:
        """Chunks without a completion marker."""
        return [c for c in range(self.n_chunks) if not self.is_done(c)]

    # -- end --------------------------------------------------------------------------------
    def finalise(self, *, export_netcdf: bool = True, max_bytes: float = 2e9) -> Path | None:
        """Export the complete store as NetCDF next to it (``PATH`` with suffix ``.nc``) if it
        is smaller than ``max_bytes``; returns that path or None."""
        if not export_netcdf:
            return None
        ds = open_store(self.path)
        if ds.nbytes > max_bytes:
            return None
        target = self.path.with_suffix(".nc")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        ds.load().to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, target)
        return target

    def best_reversal(self) -> dict | None:
        """The summary of a sweep, following each configuration's temperature order.

        - With ``uphill_heat`` kept: the configuration moving the most heat uphill (out of the
          colder and into the hotter reservoir at once; hot/cold from its own temperatures):
          ``{"uphill_heat": ..., <coordinates>}``.
        - Else with ``min_heat_current``: the most negative J^Q out of reservoir ``hot``
          (heat into it) among the configurations where ``hot`` is strictly the hottest
          reservoir; configurations with T_hot ≤ T_other are left out (``"excluded"``
          counts them), since heat into the colder reservoir is no reversal.
        None when neither observable was kept or no configuration qualifies."""
        spec = self.spec
        ds = open_store(self.path)
        ok = np.asarray(ds["status"]) == 0
        if "uphill_heat" in spec.observables:
            key, val = "uphill_heat", np.asarray(ds["uphill_heat"]).copy()
            val[~ok] = np.nan
            if np.all(np.isnan(val)):
                return None
            idx = np.unravel_index(np.nanargmax(val), val.shape)
            extra = {}
        elif "min_heat_current" in spec.observables:
            key, val = "min_heat_current", np.asarray(ds["min_heat_current"]).copy()
            temp = self.temperatures()
            others = np.delete(temp, spec.hot, axis=-1)
            hottest = temp[..., spec.hot] > np.max(others, axis=-1)
            val[~ok | ~hottest] = np.nan
            extra = {"excluded": int(np.sum(ok & ~hottest))}
            if np.all(np.isnan(val)):
                return None
            idx = np.unravel_index(np.nanargmin(val), val.shape)
        else:
            return None
        best = {a.name: float(a.values[i]) for a, i in zip(spec.axes, idx, strict=True)}
        best[key] = float(val[idx])
        best.update(extra)
        if key == "min_heat_current" and "min_heat_current_time" in ds:
            best["time"] = float(np.asarray(ds["min_heat_current_time"])[idx])
        if "uphill_duration" in ds:
            best["uphill_duration"] = float(np.asarray(ds["uphill_duration"])[idx])
        return best
