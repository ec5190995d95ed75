"""The report in a real browser: headless Chromium opens it from disk, offline and script-safe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trustaudit._audit import AuditConfig, audit
from trustaudit.report import write_report

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    pytest.importorskip("playwright.sync_api")
    return path


def test_report_opens_offline_without_running_data(chromium: str, trained_pair, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, small, dev = trained_pair
    lines = dev.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "dev.tsv"
    data.write_text("\n".join(lines[:9]) + "\n", encoding="utf-8")
    result = audit(base, small, data, AuditConfig(explain_n=8, lime_samples=100, shap_max_evals=60, n_resamples=100))
    report = write_report(result, tmp_path / "report.html")
    url = report.resolve().as_uri()

    requests: list[str] = []
    problems: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS[1:], headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url, wait_until="load")
        page.wait_for_timeout(300)

        assert [r for r in requests if r != url and not r.startswith("data:")] == [], "a request left the file"
        assert dialogs == [], "script from the data ran"
        assert problems == [], f"console errors: {problems}"
        body = page.inner_text("body")
        assert "<script>alert(1)</script>" in body and "<img src=x onerror=alert(1)>" in body
        assert page.locator("img").count() == 0

        examples = page.locator("#examples .example")
        total = examples.count()
        assert total == 8
        page.fill("#example-filter", "onerror")
        visible = [examples.nth(i).is_visible() for i in range(total)]
        assert sum(visible) == 1
        page.fill("#example-filter", "")

        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
