"""File downloads: an ``application/octet-stream`` attachment named after the file."""

from __future__ import annotations

from platform_kit import Api


def test_execution_files_are_attachments(api: Api) -> None:
    done = api.finish("word-count", files={"document": ("notes.txt", b"a b c")})
    execution_id = done["execution_id"]
    for path, content in (
        (f"/api/v1/executions/{execution_id}/inputs/document", b"a b c"),
        (f"/api/v1/executions/{execution_id}/outputs/upper", b"A B C"),
    ):
        response = api.get(path)
        assert response.status_code == 200, response.text
        assert response.content == content
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith('attachment; filename="')
    assert (
        'filename="notes.txt"'
        in api.get(f"/api/v1/executions/{execution_id}/inputs/document").headers[
            "content-disposition"
        ]
    )
