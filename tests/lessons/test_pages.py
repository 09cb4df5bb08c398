import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("path", "script"),
    [
        ("/lessons/kernel-regression", "js/lessons/kernel_regression.js"),
        ("/lessons/scoring", "js/lessons/scoring.js"),
    ],
)
def test_lesson_pages_load_their_script_and_nothing_inline(
    client: TestClient, path: str, script: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    html = response.text
    assert f'<script type="module" src="/static/{script}">' in html
    assert f'href="{path}" aria-current="page"' in html
    # A Content-Security-Policy of 'self' will forbid inline scripts, handlers and styles.
    assert "<script>" not in html and " onclick=" not in html and " style=" not in html
    assert "://" not in html  # nothing from the network, and the Host header never echoed
