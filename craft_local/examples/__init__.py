"""The example pipelines the example DAGs run, shipped in the wheel: ``craft-local serve
--examples`` declares them. One folder per pipeline, its ``pipeline.json`` beside its code (the
layout of :mod:`craft_local.declared`); ``create_on_environment`` creates them on a real
environment with the official ``craft-ai-sdk``."""

from __future__ import annotations

from pathlib import Path

#: The folder holding one folder per example pipeline.
EXAMPLE_PIPELINES = Path(__file__).resolve().parent
