"""The variants of ``benchmarks/side_by_side.py``: key -> DAG id, and the pipeline they run.
Imports nothing from Airflow: the benchmark script reads it without an Airflow home."""

PIPELINE = "slow"
INPUTS = {"seconds": 10}
DAG_IDS = {
    "a": "bench_sdk_python_operator",
    "b": "bench_worker_wait",
    "c": "bench_deferrable_resume_on_worker",
    "d": "bench_deferrable_finish_on_triggerer",
    "e30": "bench_fixed_poll_30s",
    "e5": "bench_fixed_poll_5s",
}
