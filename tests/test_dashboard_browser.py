"""The Ray dashboard as a user meets it: real headless Chromium against local-multi's dashboard.

Logs in with the cluster's token in the dashboard's own dialog, finds a job that `ray101 run`
submitted in the job list by its Name (metadata.job_name), opens it and reads its workload,
cluster and topology metadata; a wrong token is refused. Needs Debian's `chromium` and
`chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver); skipped without them.

RAY101_SCREENSHOTS=docs/img keeps the screenshot of the job list (docs/img/dashboard-jobs.png).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RAY101_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RAY101_CHROMEDRIVER", "/usr/bin/chromedriver")
# As the machine notes say: no first-run, no background traffic to hosts this sandbox cannot reach.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1700,760")
TOKEN_BOX = "input[placeholder='Enter your authentication token']"
WAIT_S = 60

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
                       reason=f"no Chromium: apt-get install chromium chromium-driver "
                              f"({CHROMIUM}, {CHROMEDRIVER})"),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="r101chrome-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _dashboard(lab) -> dict:
    return json.loads(lab.cli("dashboard", "--cluster", "local-multi", "--json",
                              check=True).stdout)


def _log_in(driver, url: str, token: str) -> None:
    """Open the job list and answer the dashboard's token dialog, as a user would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    box = WebDriverWait(driver, WAIT_S).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, TOKEN_BOX)))
    box.send_keys(token)
    driver.find_element(By.XPATH, "//button[normalize-space()='Submit']").click()


def _name_filter(driver):
    from selenium.webdriver.common.by import By

    label = driver.find_element(By.XPATH, "//label[normalize-space()='Name']")
    return driver.find_element(By.ID, label.get_attribute("for"))


def test_token_login_shows_the_ray101_job_with_its_name_and_tags(lab, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    run = lab.cli("run", "parallel-retrieve", "--cluster", "local-multi", "-p", "seconds=0.2",
                  "-q", "--json", check=True)
    job = json.loads(run.stdout)[0]
    name = "parallel-retrieve on local-multi (multi-node, repeat 1)"
    info = _dashboard(lab)
    token = lab.token()
    assert token not in json.dumps(info)
    wait = WebDriverWait(browser, WAIT_S)

    _log_in(browser, info["jobs"], token)
    wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]")))
    row_xpath = f"//table//tr[.//*[contains(normalize-space(), '{job['job_id']}')]]"
    wait.until(EC.presence_of_element_located((By.XPATH, row_xpath)))
    shot = tmp_path / "dashboard-jobs.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("RAY101_SCREENSHOTS"):
        shutil.copy(shot, Path(os.environ["RAY101_SCREENSHOTS"]) / shot.name)

    # The Name column shows metadata.job_name, and the Name filter finds the job by it.
    _name_filter(browser).send_keys("parallel-retrieve on local-multi")
    row = wait.until(EC.presence_of_element_located((By.XPATH, row_xpath)))
    assert name in row.text.replace("\n", " ")
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert rows and all("parallel-retrieve on local-multi" in r.text.replace("\n", " ")
                        for r in rows), [r.text for r in rows]

    # Its page lists the metadata ray101 tagged it with.
    browser.get(f"{info['dashboard']}/#/jobs/{job['job_id']}")
    wait.until(lambda d: "User-provided metadata" in d.find_element(By.TAG_NAME, "body").text
               and '"workload"' in d.find_element(By.TAG_NAME, "body").text)
    page = browser.find_element(By.TAG_NAME, "body").text
    for key, value in (("job_name", name), ("workload", "parallel-retrieve"),
                       ("cluster", "local-multi"), ("topology", "multi")):
        assert f'"{key}": "{value}"' in page, key
    assert token not in page


def test_a_wrong_token_is_refused(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    info = _dashboard(lab)
    _log_in(browser, info["jobs"], "0" * 64)
    WebDriverWait(browser, WAIT_S).until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, "[role=dialog]"), "Invalid authentication token"))
    # The dialog stays, no session cookie was set, and no job reached the page.
    assert browser.find_element(By.CSS_SELECTOR, TOKEN_BOX).is_displayed()
    assert "ray-authentication-token" not in {c["name"] for c in browser.get_cookies()}
    assert "ray101-" not in browser.find_element(By.TAG_NAME, "body").text
