"""The platform's error type and its JSON body."""

from __future__ import annotations

from craft_local.errors import (
    PlatformError,
    bad_request,
    conflict,
    error_body,
    not_found,
    unauthorized,
)


def test_error_body_has_the_contract_keys() -> None:
    assert error_body("NotFound", "gone", "rid", {"k": 1}) == {
        "message": "gone",
        "name": "NotFound",
        "request_id": "rid",
        "additional_data": {"k": 1},
    }


def test_shortcuts() -> None:
    missing = not_found("Pipeline", "ghost")
    assert (missing.status, missing.name, missing.message) == (
        404,
        "PipelineNotFound",
        "Pipeline 'ghost' does not exist.",
    )
    bad = bad_request("no", input_name="x")
    assert (bad.status, bad.name, bad.additional_data) == (
        400,
        "InvalidRequest",
        {"input_name": "x"},
    )
    assert bad_request("no").additional_data is None
    assert (conflict("dup").status, conflict("dup", "Taken").name) == (409, "Taken")
    assert (unauthorized().status, unauthorized().name) == (401, "Unauthorized")
    assert isinstance(missing, PlatformError) and str(missing) == missing.message
