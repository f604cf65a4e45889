"""snakeherd's tests, a package so that the helpers in ``tests.support`` import from the
repository root (pytest puts it on ``sys.path``; the benchmarks put it there themselves)."""
