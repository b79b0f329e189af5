import os

import jax

jax.config.update("jax_enable_x64", True)
# four CPU devices for the sharding tests (must be set before the backend starts)
jax.config.update("jax_num_cpu_devices", 4)
os.environ.setdefault("MPLBACKEND", "Agg")
