"""The peers bench/tasks.py measures Conveyor against: one small app module per library.

Each reads its connection settings from the environment (set by bench/tasks.py for its
worker subprocesses) and registers one no-op task that only records enqueue→start latency
when the payload carries a timestamp.
"""
