"""Command-line interface: ``jaxtransport demo``, ``sweep``, ``optimise`` and ``info``.

The CLI only parses arguments, configures JAX and calls the library.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def demo(out: Path, t_max: float, n_times: int) -> int:
    from .demo import demo as run_demo

    return run_demo(out, t_max, n_times)


def info() -> int:
    import jax

    import jaxtransport as jt

    print(f"jaxtransport {jt.__version__}, JAX {jax.__version__}, backend "
          f"{jax.default_backend()}, devices {jax.devices()}, "
          f"x64 {jax.config.read('jax_enable_x64')}")
    return 0


def _rank_from_env():
    """(process index, count) from a scheduler's environment (Slurm, Open MPI), else None."""
    for idx, cnt in (("SLURM_PROCID", "SLURM_NTASKS"),
                     ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE")):
        if idx in os.environ and cnt in os.environ:
            return int(os.environ[idx]), int(os.environ[cnt])
    return None


def sweep(args) -> int:
    import jax

    if args.devices and args.devices > 1:  # fake CPU devices must exist before first use
        jax.config.update("jax_num_cpu_devices", args.devices)
    if args.compilation_cache:
        jax.config.update("jax_compilation_cache_dir", str(args.compilation_cache))
    from . import config as cfgmod
    from .storage import StoreError
    from .sweep import run_sweep

    try:
        cfg, text = cfgmod.load(args.config)
        spec = cfgmod.build_sweep(cfg)
    except (cfgmod.ConfigError, ValueError, TypeError, OSError) as err:
        print(f"error: {args.config}: {err}", file=sys.stderr)
        return 2
    run = cfg.get("run", {})
    rank = (args.process_index, args.process_count)
    if args.process_index is None:
        rank = _rank_from_env() or (0, 1)
    devices = jax.local_devices()[: args.devices] if args.devices else None
    chunk = args.chunk_size if args.chunk_size is not None else run.get("chunk_size")
    budget = float(run.get("memory_budget_mb", 2000)) * 1e6
    print(f"sweep {args.config}: {spec.size} configurations, axes "
          + ", ".join(f"{a.name}[{len(a.values)}]" for a in spec.axes)
          + f"; process {rank[0]} of {rank[1]}; devices {devices or jax.local_devices()}")
    try:
        res = run_sweep(spec, args.out, resume=args.resume, memory_budget=budget,
                        chunk_size=chunk, devices=devices, process_index=rank[0],
                        process_count=rank[1], config_text=text, progress=args.progress)
    except (FileExistsError, StoreError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"computed {len(res.computed_chunks)} of {res.n_chunks} chunks in "
          f"{res.seconds:.2f} s (stage 1: {res.stage1_seconds:.2f} s; "
          f"{res.configurations_per_second:.4g} configurations/s); "
          f"store {res.path}")
    if res.report():
        print(res.report())
    best = res.best
    if best:
        skip = ("min_heat_current", "time", "uphill_heat", "uphill_duration", "excluded")
        where = ", ".join(f"{k}={v:.4g}" for k, v in best.items() if k not in skip)
        if "uphill_heat" in best:
            dur = (f", uphill for {best['uphill_duration']:.4g} in total"
                   if "uphill_duration" in best else "")
            print(f"most heat moved uphill (out of the colder and into the hotter reservoir "
                  f"at once): {best['uphill_heat']:.6g}{dur} ({where})")
        else:
            when = f" at t = {best['time']:.4g}" if "time" in best else ""
            print(f"strongest heat flow into the hot reservoir (configurations where it is "
                  f"the hottest; {best['excluded']} others left out): J^Q_hot = "
                  f"{best['min_heat_current']:.6g}{when} ({where}); not necessarily uphill: "
                  f"add observable 'uphill_heat' for heat out of the cold one at the same time")
    return 0


def verify(argv) -> int:
    """``jaxtransport sweep verify PATH``: check every completed chunk against its checksum,
    name the damaged or missing ones and (unless --no-repair) recompute them from the
    configuration stored in the store."""
    parser = argparse.ArgumentParser(
        prog="jaxtransport sweep verify", description=verify.__doc__)
    parser.add_argument("path", type=Path, help="the sweep's Zarr store")
    parser.add_argument("--no-repair", action="store_true",
                        help="only report (do not reset or recompute damaged chunks)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    import zarr

    from . import config as cfgmod
    from .storage import StoreError, SweepStore
    from .sweep import run_sweep

    if not args.path.exists():
        parser.exit(2, f"jaxtransport sweep verify: error: no sweep store at {args.path}\n")
    try:
        attrs = dict(zarr.open_group(str(args.path), mode="r").attrs)
        text = attrs.get("config_toml", "")
        if not text:
            raise StoreError(f"{args.path} stores no configuration (it was written through "
                             "the Python API): use run_sweep(spec, path, resume=True).")
        cfg = cfgmod.loads(text, str(args.path))
        spec = cfgmod.build_sweep(cfg)
        store = SweepStore(args.path, spec, int(attrs.get("rows_per_chunk", 1)), text)
        store.open_or_create(resume=True, create=False, wait=0)
        damaged = store.verify(repair=not args.no_repair)
        missing = store.missing()
    except (cfgmod.ConfigError, StoreError, ValueError, OSError) as err:
        parser.exit(2, f"jaxtransport sweep verify: error: {err}\n")
    for c, why in sorted(damaged.items()):
        print(f"chunk {c}: damaged: {why}")
    print(f"{args.path}: {store.n_chunks - len(missing)} of {store.n_chunks} chunks verified"
          + (f"; {len(damaged)} damaged" if damaged else "")
          + (f"; missing: {', '.join(map(str, missing))}" if missing else ""))
    if args.no_repair or not missing:
        return 1 if (damaged or missing) else 0
    res = run_sweep(spec, args.path, resume=True, chunk_size=None,
                    memory_budget=float(cfg.get("run", {}).get("memory_budget_mb", 2000)) * 1e6,
                    config_text=text, progress=args.progress)
    print(f"recomputed chunks {', '.join(map(str, res.computed_chunks)) or 'none'}")
    if res.report():
        print(res.report())
    return 0 if res.complete else 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if argv[:2] == ["sweep", "verify"]:
        return verify(argv[2:])
    parser = argparse.ArgumentParser(prog="jaxtransport", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="genuine cold-to-hot heat flow on built-in examples: "
                            "print, plot, save (seconds)")
    p_demo.add_argument("--out", type=Path, default=Path("jaxtransport-demo"),
                        help="output folder (PNG + NetCDF)")
    smoke = os.environ.get("JAXTRANSPORT_SMOKE") == "1"
    p_demo.add_argument("--t-max", type=float, default=10.0)
    p_demo.add_argument("--n-times", type=int, default=101 if smoke else 201)
    sub.add_parser("info", help="versions, devices, x64 status")
    p_sw = sub.add_parser("sweep", help="run a TOML-configured sweep into a Zarr store "
                                        "(`jaxtransport sweep verify PATH` checks a store)")
    p_sw.add_argument("config", type=Path, help="TOML file (see jaxtransport.config)")
    p_sw.add_argument("--out", type=Path, required=True, help="Zarr store path (e.g. s.zarr)")
    p_sw.add_argument("--resume", action="store_true", help="continue an existing store")
    p_sw.add_argument("--devices", type=int, default=None,
                      help="number of local devices to shard over (CPU: creates them)")
    p_sw.add_argument("--chunk-size", type=int, default=None, help="configurations per chunk")
    p_sw.add_argument("--process-index", type=int, default=None)
    p_sw.add_argument("--process-count", type=int, default=1)
    p_sw.add_argument("--compilation-cache", type=Path, default=None,
                      help="opt-in persistent XLA compilation cache directory (trusted, "
                           "not shared)")
    p_sw.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p_opt = sub.add_parser("optimise", help="optimise the initial preparation (TOML config)")
    p_opt.add_argument("config", type=Path, help="TOML config (see jaxtransport.optimise.config)")
    p_opt.add_argument("--out", type=Path, default=None,
                       help="output folder (default: <config stem>_optimise next to the config)")
    p_opt.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="tqdm progress bar (default: only on a terminal)")
    args = parser.parse_args(argv)
    if args.command == "optimise":
        from jaxtransport.optimise.config import run

        try:
            run(args.config, args.out, args.progress)
        except (ValueError, OSError) as err:
            parser.exit(2, f"jaxtransport optimise: error: {err}\n")
        return 0
    if args.command == "demo":
        if args.t_max <= 0 or args.n_times < 2:
            parser.error("--t-max must be > 0 and --n-times >= 2")
        return demo(args.out, args.t_max, args.n_times)
    if args.command == "sweep":
        if args.process_index is not None and not 0 <= args.process_index < args.process_count:
            parser.error("--process-index must be in [0, --process-count)")
        if args.chunk_size is not None and args.chunk_size < 1:
            parser.error(f"--chunk-size must be a positive integer (configurations per "
                         f"chunk), got {args.chunk_size}")
        if args.process_count < 1:
            parser.error(f"--process-count must be >= 1, got {args.process_count}")
        if not args.config.is_file():
            parser.exit(2, f"jaxtransport sweep: error: config file {args.config} not found\n")
        return sweep(args)
    return info()


if __name__ == "__main__":
    sys.exit(main())
