"""The HTML review in a real browser (Debian's headless Chromium through selenium): what a
reviewer sees, counts, filters and sorts, and that user data never runs as markup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from review_world import XSS_NAME

pytestmark = pytest.mark.e2e


def open_report(world: Any, browser: Any, tmp_path: Path, *args: str) -> Path:
    page = tmp_path / "report.html"
    world.atlassian("report", "--format", "html", "-o", str(page), *args)
    browser.get(page.as_uri())
    return page


def visible_accounts(browser: Any) -> list[str]:
    """The resource names of the account rows on screen, top to bottom."""
    return [
        row.find_element("css selector", ".res").text.split("/", 1)[1]
        for row in browser.find_elements("css selector", "#accounts tbody tr")
        if row.is_displayed()
    ]


def stat(browser: Any, namespace: str, org: str, name: str) -> str:
    selector = f'[data-org="{namespace}/{org}"] [data-stat="{name}"] dd'
    text: str = browser.find_element("css selector", selector).text
    return text


def test_the_page_shows_every_account_with_counts_per_org(
    world: Any, browser: Any, tmp_path: Path
) -> None:
    open_report(world, browser, tmp_path)
    assert browser.title == f"Access review: namespace {world.namespace}, 2026-12-02"
    assert len(visible_accounts(browser)) == 19
    assert browser.find_element("id", "shown").text == "19"
    ns = world.namespace
    acme = {
        s: stat(browser, ns, "acme", s)
        for s in ("accounts", "active", "suspended", "deprovisioned", "billable", "reclaimable",
                  "protected", "idp", "unmanaged", "admin", "exempt")
    }  # fmt: skip
    assert acme == {
        "accounts": "16", "active": "14", "suspended": "1", "deprovisioned": "1",
        "billable": "13", "reclaimable": "\u2013", "protected": "2", "idp": "1", "unmanaged": "1",
        "admin": "1", "exempt": "0",
    }  # fmt: skip
    assert stat(browser, ns, "globex", "reclaimable") == "1"  # from its inactivity policy
    assert stat(browser, ns, "initech", "not observed") == "1"
    # A section per product per site, with its assigned users.
    apps = browser.find_elements("css selector", "details.app")
    assert [a.get_attribute("data-app") for a in apps] == [
        "acme/Confluence (acme)", "acme/Confluence (beta)", "acme/Jira Software (acme)",
        "globex/Jira Service Management (globex)",
    ]  # fmt: skip
    confluence = apps[0]
    assert "6 assigned · 3 used in the last 30 days · 0 never used" in confluence.text
    assert "Atlassian counts 25 active users" in confluence.text
    assert len(confluence.find_elements("css selector", "tbody tr")) == 6
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")


def test_typing_in_the_filter_and_choosing_a_state_hide_other_rows(
    world: Any, browser: Any, tmp_path: Path
) -> None:
    open_report(world, browser, tmp_path)
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    box = browser.find_element("id", "filter")
    box.send_keys("olga")
    assert visible_accounts(browser) == ["olga-old"]
    assert browser.find_element("id", "shown").text == "1"
    erase = Keys.CONTROL + "a" + Keys.NULL + Keys.BACKSPACE  # as a person does: clear() fires
    # no input event
    box.send_keys(erase + "jira software")  # products are searched too
    assert visible_accounts(browser) == ["ada-admin", "dan-gone", "ivan-idp", "jane-doe",
                                         "john-smith"]  # fmt: skip
    box.send_keys(erase)
    assert len(visible_accounts(browser)) == 19

    Select(browser.find_element("id", "state")).select_by_value("Suspended")
    assert visible_accounts(browser) == ["sue-suspended"]
    Select(browser.find_element("id", "state")).select_by_value("")
    Select(browser.find_element("id", "flag")).select_by_value("protected")
    assert visible_accounts(browser) == ["ada-admin", "pete-protected"]


def test_clicking_a_header_sorts_and_clicking_again_reverses(
    world: Any, browser: Any, tmp_path: Path
) -> None:
    open_report(world, browser, tmp_path)
    header = browser.find_element("xpath", "//table[@id='accounts']//th[.='Days idle']")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    order = visible_accounts(browser)
    assert order[:4] == ["mallory", "eve-formula", "jane-doe", "walt-wait"]
    never_active = ["nina-new", "nora-never", "oscar-orphan", "una-unmanaged"]
    assert sorted(order[-4:]) == never_active
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert visible_accounts(browser)[:3] == ["dan-gone", "sue-suspended", "ivan-idp"]
    browser.find_element("xpath", "//table[@id='accounts']//th[.='Account']").click()
    assert visible_accounts(browser)[:2] == ["nora-never", "ada-admin"]  # 5b10-nora, admin@


def test_a_display_name_with_markup_is_shown_as_text_and_never_runs(
    world: Any, browser: Any, tmp_path: Path
) -> None:
    page = open_report(world, browser, tmp_path)
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return document.images.length") == 0
    assert browser.execute_script("return document.scripts.length") == 1  # the page's own
    names = browser.find_elements("css selector", "#accounts .who .name")
    assert XSS_NAME in [n.text for n in names]
    assert "<script>window" not in page.read_text()


def test_the_page_loads_nothing_from_the_network(world: Any, browser: Any, tmp_path: Path) -> None:
    page = open_report(world, browser, tmp_path, "--inactive-days", "90")
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert "http://" not in page.read_text().replace("http://evil.example", "")
    assert "https://" not in page.read_text().replace("https://acme.atlassian.net", "")
    # Not nora nor nina (never active, first observed 62 and 5 days ago), nor oscar (never
    # observed): the operator's inactivity policy would not count them 90 days idle either.
    assert len(visible_accounts(browser)) == 11
    assert "nora-never" not in visible_accounts(browser)
    assert stat(browser, world.namespace, "acme", "reclaimable") == "6"
