"""craft_airflow.protocol.http: file parts rewound for every attempt."""

from __future__ import annotations

import io

from protocol_kit import CONFIG, _ct_body, multipart, prepare_ours

from craft_airflow.protocol.builders import (
    build_run_pipeline,
)


def test_files_are_rewound_for_each_attempt():
    stream = io.BytesIO(b"xxhello")
    stream.read(2)
    request = build_run_pipeline(CONFIG, "p", files={"f": ("f.txt", stream)})
    for _ in range(2):
        part = multipart(*_ct_body(prepare_ours(request)))
        assert ("f", "f.txt", b"hello") in part
