"""The two lesson pages in Chromium: they draw, animate and mask with the server's numbers."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _open(page: Page, url: str) -> list[str]:
    """Opens a lesson; the list it returns fills with console errors (CSP violations among them)."""
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return console_errors


def _post(page: Page, url: str, body: dict[str, object]) -> Any:
    response = page.request.post(url, data=body)
    assert response.ok, response.text()
    return response.json()


def _assert_clean(page: Page, console_errors: list[str]) -> None:
    watch = page.watch  # type: ignore[attr-defined]
    assert watch.hosts == {"127.0.0.1"}
    assert watch.errors == []
    assert console_errors == []


def test_kernel_regression_draws_and_train_animates_to_the_learned_w(
    page: Page, live_server: str
) -> None:
    console_errors = _open(page, live_server + "/lessons/kernel-regression")
    expect(page.locator("#fit-plot .scatterlayer .trace")).to_have_count(3)
    expect(page.locator("#weights-plot .heatmaplayer image")).to_have_count(1)
    readout = page.locator("#readout")
    expect(readout).to_have_text("w = 1, fixed: nothing is learned.")

    page.click('#kind-tabs .tab[data-kind="parametric"]')
    expect(page.locator("#training-controls")).to_be_visible()
    expect(readout).to_contain_text("untrained")
    page.fill("#epochs", "12")
    page.click("#train")
    # Mid-animation the readout names the epoch; at the end, the learned w.
    expect(readout).to_contain_text("epoch ", timeout=15_000)
    expect(page.locator("#train")).to_be_disabled()
    expect(readout).to_have_attribute("data-state", "trained", timeout=15_000)

    fit = _post(
        page,
        live_server + "/api/v1/kernel-regression",
        {"kind": "parametric", "n_train": 50, "seed": 0, "epochs": 12, "learning_rate": 2},
    )
    assert float(readout.get_attribute("data-w") or "nan") == fit["w"]
    expect(readout).to_contain_text(f"learned w = {fit['w']:.3f} after 12 epochs")
    loss_points = page.locator("#history-plot .scatterlayer .trace").first.locator(".point")
    expect(loss_points).to_have_count(13)  # epochs 0..12
    expect(page.locator("#train")).to_be_enabled()

    # The frames' weights come from the page's copy of the formula: it must match the server.
    largest_gap = page.evaluate(
        """async (fit) => {
            const { kernelWeights } = await import("/static/js/lessons/kernel.js");
            const mine = kernelWeights(fit.x_test, fit.x_train, fit.w);
            const server = fit.weights;
            const gaps = mine.flatMap((row, q) => row.map((v, i) => Math.abs(v - server[q][i])));
            return Math.max(...gaps);
        }""",
        fit,
    )
    assert largest_gap < 1e-12
    _assert_clean(page, console_errors)


def _cell_texts(page: Page, plot: str, n_keys: int) -> list[list[str]]:
    texts = page.locator(f"#{plot} g.heatmaplayer text").all_text_contents()
    return [texts[i : i + n_keys] for i in range(0, len(texts), n_keys)]


def test_scoring_valid_length_zeroes_the_masked_keys_in_both_scorers(
    page: Page, live_server: str
) -> None:
    console_errors = _open(page, live_server + "/lessons/scoring")
    for plot in ("additive-plot", "dot-product-plot"):
        assert all(len(row) == 10 and "0" not in row for row in _cell_texts(page, plot, 10))

    page.fill("#valid-length", "4")
    expect(page.locator("#summary")).to_contain_text("Keys k4…k9 are masked")
    expect(page.locator("#valid-length-value")).to_have_text("4")

    body = _post(page, live_server + "/api/v1/scoring", {"valid_length": 4})
    for plot, scorer in [("additive-plot", "additive"), ("dot-product-plot", "scaled_dot_product")]:
        rows = _cell_texts(page, plot, 10)
        assert len(rows) == 4
        for row, weights in zip(rows, body[scorer]["weights"], strict=True):
            assert row[4:] == ["0"] * 6
            assert weights[4:] == [0.0] * 6
            for text, weight in zip(row[:4], weights[:4], strict=True):
                assert abs(float(text) - weight) <= 0.0005 + 1e-12 and weight > 0

    page.locator("#additive-plot").scroll_into_view_if_needed()
    box = page.locator("#additive-plot .nsewdrag").first.bounding_box()
    assert box is not None
    # The cell of query 1 and key 7 (4 rows, 10 columns): masked.
    page.mouse.move(box["x"] + box["width"] * 7.5 / 10, box["y"] + box["height"] * 1.5 / 4)
    hover = page.locator("#additive-plot .hovertext")
    expect(hover).to_contain_text("query 1 → key 7")
    expect(hover).to_contain_text("masked to −∞")
    expect(hover).to_contain_text("weight 0 (exactly)")
    _assert_clean(page, console_errors)


def test_scoring_with_unequal_sizes_explains_why_only_additive_is_drawn(
    page: Page, live_server: str
) -> None:
    console_errors = _open(page, live_server + "/lessons/scoring")
    page.fill("#query-size", "20")
    page.press("#query-size", "Enter")
    expect(page.locator("#dot-product-unavailable")).to_contain_text("query size is 20")
    expect(page.locator("#dot-product-plot")).to_be_hidden()
    expect(page.locator("#additive-plot g.heatmaplayer text")).to_have_count(40)

    page.fill("#n-keys", "40")
    page.press("#n-keys", "Enter")
    expect(page.locator("#error")).to_contain_text("Keys must be a whole number from 1 to 32")
    _assert_clean(page, console_errors)
