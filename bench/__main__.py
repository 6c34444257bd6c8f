"""`python -m bench [name ...]`: run the named benchmarks, or all of them."""

import importlib
import sys

BENCHMARKS = ("http_health", "tasks", "routing", "batches", "soak")


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        importlib.import_module(f"bench.{name}").run()


if __name__ == "__main__":
    main(sys.argv[1:])
