"""Head roles in the page: each thumbnail of the overview labelled by its head's role, and a
legend that says what the roles mean."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import run_text

pytestmark = pytest.mark.browser

SELF_ATTENTION_ROLES = ["previous token", "induction", "self", "sink", "broad"]
# The first request for a model's roles computes them on the server.
ROLES_TIMEOUT_MS = 60_000


def _requests(page: Page) -> list[str]:
    paths: list[str] = []
    page.on("request", lambda request: paths.append(f"{request.method} {request.url}"))
    return paths


def _assert_clean(page: Page) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []


def test_minilm_overview_labels_each_head_with_its_role_and_a_legend(page: Page) -> None:
    requests = _requests(page)
    run_text(page)
    badges = page.locator("#overview .thumb .role-badge")
    expect(badges.first).to_be_visible(timeout=ROLES_TIMEOUT_MS)

    # Layer 0, head 2 reads the previous token (score 1.00 on the probes).
    previous = page.locator('#overview .thumb[data-layer="0"][data-head="2"]')
    expect(previous).to_have_attribute("data-role", "previous_token")
    expect(previous.locator(".role-badge")).to_have_text("P")
    expect(previous).to_have_attribute(
        "title", re.compile(r"^layer 0, head 2: previous token (0\.9\d|1\.00)$")
    )
    expect(previous).to_have_attribute("aria-label", re.compile(r"previous token"))
    # Every head carries its role in its label; a head with none says so and has no badge.
    heads = page.locator('#overview .thumb:not([data-head="mean"])')
    expect(heads).to_have_count(6 * 12)
    expect(page.locator("#overview .thumb[data-role]")).to_have_count(6 * 12)
    unlabelled = page.locator('#overview .thumb[data-role="none"]')
    expect(unlabelled.first).to_have_attribute("title", re.compile(r": no role$"))
    expect(unlabelled.locator(".role-badge")).to_have_count(0)
    expect(page.locator('#overview .thumb[data-head="mean"] .role-badge')).to_have_count(0)
    assert badges.count() + unlabelled.count() == 6 * 12
    expect(page.locator('#overview .thumb[data-role="sink"] .role-badge').first).to_have_text("S")

    legend = page.locator("#roles-legend li b")
    expect(legend).to_have_text(SELF_ATTENTION_ROLES)
    expect(page.locator('#roles-legend li[data-role="previous_token"]')).to_contain_text(
        "reads the token just before it (score ≥ 0.5)"
    )
    expect(page.locator("#roles-legend")).to_contain_text("not on your sentence")

    # Asked for once the run was on screen, never before it.
    attention = [i for i, r in enumerate(requests) if r.endswith("/api/v1/attention")]
    roles = [i for i, r in enumerate(requests) if "/api/v1/models/minilm/heads" in r]
    assert len(roles) == 1 and roles[0] > attention[0]
    _assert_clean(page)


def test_roles_are_fetched_once_and_combined_views_explain_their_absence(page: Page) -> None:
    requests = _requests(page)
    run_text(page)
    expect(page.locator("#overview .thumb .role-badge").first).to_be_visible(
        timeout=ROLES_TIMEOUT_MS
    )
    page.check("#aggregate-heads")
    page.wait_for_selector('#heatmap[data-options="token/keep/heads/attention"] .main-svg')
    expect(page.locator("#roles-legend")).to_contain_text("choose “each head”")
    expect(page.locator("#overview .role-badge")).to_have_count(0)
    page.check("#aggregate-none")
    page.wait_for_selector('#heatmap[data-options="token/keep/none/attention"] .main-svg')
    expect(page.locator("#overview .thumb .role-badge").first).to_be_visible()
    run_text(page, "The cat sat on the mat")
    expect(page.locator("#overview .thumb .role-badge").first).to_be_visible()
    assert sum("/heads" in r for r in requests) == 1
    _assert_clean(page)


def test_translator_cross_attention_heads_are_labelled_alignment(page: Page) -> None:
    page.select_option("#model", "transformer-zh-en")
    run_text(page, "我爱吃苹果")
    expect(page.locator("#block-tabs .tab").nth(2)).to_have_attribute("aria-selected", "true")
    badges = page.locator("#overview .thumb .role-badge")
    expect(badges.first).to_be_visible(timeout=ROLES_TIMEOUT_MS)
    expect(page.locator("#roles-legend li b")).to_have_text(["alignment", "sink", "broad"])
    expect(page.locator('#overview .thumb[data-role="alignment"]').first).to_have_attribute(
        "title", re.compile(r"^layer \d, head \d: alignment 0\.\d\d$")
    )
    _assert_clean(page)
