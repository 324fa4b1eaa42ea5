"""The variants of ``benchmarks/side_by_side.py`` and ``benchmarks/deployment_scale.py``: key ->
DAG id, and the pipeline they run. Imports nothing from Airflow: the benchmark scripts read it
without an Airflow home."""

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

#: ``benchmarks/deployment_scale.py``: the ``gate`` pipeline of ``tests/deployment/pipelines``, held
#: open until the benchmark creates the gate file named by the run's ``conf["gate"]``.
SCALE_PIPELINE = "gate"
SCALE_DAG_IDS = {
    "d": "bench_scale_finish_on_triggerer",
    "e30": "bench_scale_fixed_poll_30s",
}
