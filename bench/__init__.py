"""Benchmarks (not tests): ``./run.sh bench [NAME …] [-- ARGS]``; results in bench/results/."""
