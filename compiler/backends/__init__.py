"""Backends: `jax_lower` turns IR functions into JAX functions op by op through the
registry; `stablehlo` exports them as StableHLO text and `jax.export` artifacts."""
