"""The search page in a real headless Chromium against the real server: ask a dev question, see the answer
with its citation, open the cited span in context."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from conftest import DEV_QUESTIONS, RunningServer

from rag.batch import read_questions

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.server, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Chromium or ChromeDriver missing: apt-get install chromium chromium-driver (done by .ci/run)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1100,1300",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_question_shows_the_answer_with_its_citation(browser, server: RunningServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    question = next(q for q in read_questions(DEV_QUESTIONS) if q.id == "d08")
    api = httpx.post(f"{server.base_url}/search", json={"query": question.question, "top_k": 5}, timeout=60).json()
    expected = next(r for r in api["results"] if any(a in r["text"] for a in question.answers))

    browser.get(server.base_url + "/")
    browser.find_element(By.ID, "query").send_keys(question.question)
    browser.find_element(By.ID, "ask").click()
    WebDriverWait(browser, 30).until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "li.result")))

    items = browser.find_elements(By.CSS_SELECTOR, "li.result")
    assert len(items) == 5
    item = items[expected["rank"] - 1]
    passage = item.find_element(By.CSS_SELECTOR, ".passage")
    assert any(answer in passage.text for answer in question.answers)
    cite = expected["citation"]
    assert item.find_element(By.CSS_SELECTOR, ".source").text == cite["source"]
    lines = cite["line_start"], cite["line_end"]
    label = f"line {lines[0]}" if lines[0] == lines[1] else f"lines {lines[0]}–{lines[1]}"
    assert item.find_element(By.CSS_SELECTOR, ".lines").text == label
    assert item.find_element(By.CSS_SELECTOR, ".date").text == cite["date"]
    assert item.find_element(By.CSS_SELECTOR, ".score").text == f"score {expected['score']:.3f}"
    assert item.find_element(By.CSS_SELECTOR, ".relevance").text == f"relevance {expected['relevance']:.2f}"
    assert not browser.find_element(By.ID, "verdict").is_displayed()
    marked = {m.text.lower() for m in passage.find_elements(By.TAG_NAME, "mark")}
    assert {"women", "children", "khojaly"} <= marked
    offset, mark = cite["start"], expected["highlight"]
    sentence = expected["text"][mark["start"] - offset : mark["end"] - offset]
    assert passage.find_element(By.CSS_SELECTOR, ".answer").get_attribute("textContent") == sentence

    item.find_element(By.CSS_SELECTOR, "a.context").click()
    WebDriverWait(browser, 10).until(lambda d: len(d.window_handles) == 2)
    browser.switch_to.window(browser.window_handles[1])
    cited = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "cited")))
    assert cited.get_attribute("textContent") == expected["text"]
    browser.close()
    browser.switch_to.window(browser.window_handles[0])


def test_empty_question_is_refused_on_the_page(browser, server: RunningServer) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.base_url + "/")
    browser.execute_script(
        "document.getElementById('query').value = '   '; document.getElementById('search-form').requestSubmit();"
    )
    assert "Type a question first." in browser.find_element(By.ID, "status").text
    assert browser.find_elements(By.CSS_SELECTOR, "li.result") == []


def test_the_page_says_when_nothing_seems_to_answer(browser, server: RunningServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.base_url + "/")
    browser.find_element(By.ID, "query").send_keys("Give me a recipe for chocolate cake.")
    browser.find_element(By.ID, "ask").click()
    WebDriverWait(browser, 30).until(ec.presence_of_all_elements_located((By.CSS_SELECTOR, "li.result")))
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.is_displayed() and "seems to answer" in verdict.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.result")) == 5  # the closest passages are still shown
