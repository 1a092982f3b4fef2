"""Lab tooling on top of the engine: weight-free reference models, the demo, the reliability benchmark
with its metrics and plot (`python -m lib_diffdiff demo|bench`). Nothing in the engine imports it."""
