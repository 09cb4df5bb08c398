"""The API docs render from this server alone, under the pages' Content-Security-Policy."""

import pytest
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_render_offline_with_no_policy_violation(
    browser: Browser, live_server: str, path: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    hosts: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: hosts.append(request.url.split("/")[2]))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    page.goto(live_server + path)
    operations = page.locator("#swagger-ui .opblock-summary-path")
    expect(operations.first).to_be_visible(timeout=30_000)
    paths = operations.all_inner_texts()
    assert "/api/v1/attention" in paths and "/api/v1/models" in paths
    assert set(hosts) == {live_server.split("/")[2]}
    assert violations == []
    context.close()
