"""Scaling: cost of the two stages vs system size and batch size (CPU timings).

(a) Stage 1 (``jt.response``, Continuum, warm: plan cached, compiled) vs the number of sites n
of a chain with a hot lead on the first and a cold lead on the last site, and the stage-1
kernel memory. (b) Stage 2 (``Response.evaluate`` jitted, warm) throughput in configurations
(random C0, T_hot, T_cold) per second vs batch size, two sites. Timing rules as in
``experiments/benchmarks`` (warm-up call, ``block_until_ready``, minimum of repeats); the
device, JAX version and load average are stored with the data and printed on the figure.
These are this machine's numbers: compare only timings taken on the same device kind.

    python experiments/scaling.py [--quick] [--config FILE] [--out DIR]
"""

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from _experiment import Run, bench, env_info

import jaxtransport as jt

DEFAULTS = {
    "sites": [1, 2, 3, 4, 6],
    "batch_sizes": [1, 8, 64, 512, 4096],
    "times": {"stop": 10.0, "num": 201},
    "method": {"tolerance": 1e-6},
    "repeat": 3,
}


def chain(n):
    h = 0.3 * (np.eye(n, k=1) + np.eye(n, k=-1)) + np.diag(np.linspace(0.5, -0.5, n))
    lead = jt.CutoffLorentzian(gamma=0.5, width=2.0, cutoff=8.0)
    return jt.Model(h, (jt.Reservoir(lead, temperature=1.5, coupling=np.eye(n)[0]),
                        jt.Reservoir(lead, temperature=0.5, coupling=np.eye(n)[-1])))


def random_configs(key, batch, n):
    k = jax.random.split(key, 4)
    z = jax.random.normal(k[0], (batch, n, n)) + 1j * jax.random.normal(k[1], (batch, n, n))
    q, _ = jnp.linalg.qr(z)
    nu = jax.random.uniform(k[2], (batch, n))
    c0 = (q * nu[..., None, :]) @ q.conj().swapaxes(-1, -2)
    t_hot = jax.random.uniform(k[3], (batch,), minval=1.3, maxval=1.7)
    return c0, jnp.stack([t_hot, jnp.full_like(t_hot, 0.5)], axis=-1)


def main():
    run = Run("scaling", __doc__, DEFAULTS)
    cfg = run.config
    times = np.linspace(0.0, cfg["times"]["stop"], cfg["times"]["num"])
    method = jt.Continuum(**cfg["method"], temperature_range=(0.4, 2.2))
    stage1, mem = [], []
    for n in cfg["sites"]:
        model = chain(n)
        resp = jt.response(model, times, method)  # plan + compile
        stage1.append(bench(jt.response, model, times, method, warmup=0,
                            repeat=cfg["repeat"])["min_s"])
        mem.append(sum(x.nbytes for x in jax.tree_util.tree_leaves(resp)
                       if hasattr(x, "nbytes")) / 2**20)
        print(f"n = {n}: stage 1 {stage1[-1]:.2f} s, {mem[-1]:.0f} MiB")
    resp = jt.response(chain(2), times, method)
    evaluate = jax.jit(lambda c, t: resp.evaluate(c, t).heat_current)
    rate = []
    for b in cfg["batch_sizes"]:
        c0, temp = random_configs(jax.random.PRNGKey(0), b, 2)
        rate.append(b / bench(evaluate, c0, temp, warmup=1, repeat=cfg["repeat"])["min_s"])
        print(f"batch {b}: {rate[-1]:.0f} configurations/s")
    env = env_info()

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    ax.plot(cfg["sites"], stage1, "o-", label="stage 1, warm")
    ax.set_xlabel("number of sites n")
    ax.set_ylabel("stage-1 time  [s]")
    ax2 = ax.twinx()
    ax2.plot(cfg["sites"], mem, "s--", color="tab:orange", label="kernel memory")
    ax2.set_ylabel("stage-1 kernels  [MiB]", color="tab:orange")
    ax.set_title(f"(a) stage 1 vs system size ({len(times)} times)", fontsize=9)
    axes[1].loglog(cfg["batch_sizes"], rate, "o-")
    axes[1].set_xlabel("batch size (configurations per call)")
    axes[1].set_ylabel("stage 2: configurations / s")
    axes[1].set_title("(b) batched stage 2, two sites", fontsize=9)
    fig.suptitle(f"{env['device_kind']} ({env['cpu_count']} cores), JAX {env['jax']}, float64; "
                 f"load average {env['load_average_1_5_15'][0]:.1f}", fontsize=9)
    fig.tight_layout()
    ds = xr.Dataset({"stage1_s": (("sites",), stage1), "stage1_kernel_mib": (("sites",), mem),
                     "stage2_configurations_per_s": (("batch",), rate)},
                    coords={"sites": cfg["sites"], "batch": cfg["batch_sizes"]})
    run.save(fig, ds)


if __name__ == "__main__":
    main()
