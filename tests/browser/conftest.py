"""Browser tests: a real headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium against pytest-django's live_server.

Never downloads a browser: when /usr/bin/chromium or /usr/bin/chromedriver
is missing (scripts/ensure-browser.sh installs them when run as root), every
test here is skipped with a message that says how to get them.
"""

from __future__ import annotations

import os

import pytest

CHROMIUM = os.environ.get("AIPROD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("AIPROD_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,800",
]
WAIT_SECONDS = 10


def browser_missing_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements.txt)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return (
                f"{path} not found: install Debian's chromium and chromium-driver "
                "(sudo bash scripts/ensure-browser.sh, or apt-get install -y chromium chromium-driver)"
            )
    return None


def start_chromium(width: int = 1280, height: int = 800):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag if not flag.startswith("--window-size") else f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="session")
def chromium(django_db_setup, django_db_blocker):
    # Depends on django_db_setup so it quits BEFORE the test database is
    # dropped: its keep-alive connections hold live-server threads, and
    # their database sessions, open until the browser goes.
    reason = browser_missing_reason()
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    driver = start_chromium()
    yield driver
    driver.quit()


class Page:
    """A thin helper over the driver for the dashboard: visit, click, fill, read."""

    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    def visit(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str):
        return self.driver.find_element("css selector", css)

    def find_all(self, css: str):
        return self.driver.find_elements("css selector", css)

    def fill(self, css: str, value: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def click_button(self, text: str, within: str = "main") -> None:
        """Clicks the button (or link styled as one) whose visible text starts with `text`, and waits for the new page."""
        from selenium.webdriver.support.ui import WebDriverWait

        candidates = self.find(within).find_elements("css selector", "button, a.btn, input[type=submit]")
        matches = [c for c in candidates if c.text.strip().startswith(text) and c.is_displayed()]
        assert matches, f"no button {text!r} on {self.driver.current_url}: {[c.text for c in candidates]}"
        old = self.find("html")
        matches[0].click()
        WebDriverWait(self.driver, WAIT_SECONDS).until(lambda driver: _left_the_page(old))
        WebDriverWait(self.driver, WAIT_SECONDS).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    def text(self, css: str = "main") -> str:
        return self.find(css).text

    def login(self, username: str, password: str) -> None:
        self.driver.delete_all_cookies()
        self.visit("/dashboard/login")
        self.fill("#id_username", username)
        self.fill("#id_password", password)
        self.click_button("Log in")
        assert self.driver.current_url.endswith("/dashboard/"), self.driver.current_url


def _left_the_page(element) -> bool:
    """True once `element` belongs to a page that has been replaced. Chromium
    reports this as a stale element or, mid-navigation, as "Node with given id
    does not belong to the document"; both mean the old page is gone."""
    from selenium.common.exceptions import WebDriverException

    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


@pytest.fixture
def page(chromium, live_server, transactional_db):
    chromium.delete_all_cookies()
    return Page(chromium, live_server.url)
