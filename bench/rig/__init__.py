"""What the benchmarks stand on: the measured Django app, its settings, the worker, the sink, the statistics."""
