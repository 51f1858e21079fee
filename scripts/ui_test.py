#!/usr/bin/env python3
"""The operator page in headless chromium (scripts/ui-test). Usage: ui_test.py BOMFLOW OUTPUT_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

binary, output = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="bomflow-ui-")
data = os.path.join(work, "data")
failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print(f"ui-test: FAILED: {what}", flush=True)


server = subprocess.Popen(
    [binary, "serve", "--data-dir", data, "--port", "0", "--sync", "none", "--log-level", "warning"],
    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
port = int(server.stdout.readline())
base = f"http://127.0.0.1:{port}"
for _ in range(100):
    if os.path.exists(os.path.join(data, "admin.key")):
        break
    time.sleep(0.05)
admin = open(os.path.join(data, "admin.key")).read().strip()
reader = subprocess.run(
    [binary, "keys", "create", "--data-dir", data, "--sync", "none", "--name", "viewer", "--permission", "read"],
    check=True, capture_output=True, text=True).stdout.strip().split()[-1]


def api(method, path, body=None):
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"X-Api-Key": admin, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


HOSTILE = "<script>alert(1)</script>"
TARGET = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f60718293"
api("POST", "/api/v1/workflow", {"token": TARGET, "template": "BOM_UPLOAD", "labels": {"note": HOSTILE, "team": "ui"}})
api("PATCH", f"/api/v1/workflow/token/{TARGET}/step/BOM_CONSUMPTION", {"status": "COMPLETED"})
api("POST", "/api/v1/workflow/claim", {"steps": ["BOM_PROCESSING"], "worker": "scanner-1", "leaseSeconds": 600})
for number in range(8):
    token = f"00000000-0000-4000-8000-0000000000{number:02d}"
    api("POST", "/api/v1/workflow", {"token": token, "steps": [{"step": "SCAN"}], "labels": {"team": "other"}})
    if number % 3 == 0:
        api("PATCH", f"/api/v1/workflow/token/{token}/step/SCAN", {"status": "FAILED", "failureReason": "scanner <crashed>"})


def browser(javascript=True):
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1400", "--no-first-run", "--disable-extensions"]:
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def sign_in(driver, key):
    driver.get(base + "/ui")
    check(driver.current_url.endswith("/ui/signin"), "an anonymous visit goes to the sign-in")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/ui"))


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def no_alert(driver):
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


driver = browser()
try:
    sign_in(driver, admin)
    check(driver.find_element(By.TAG_NAME, "h1").text == "Overview", "the overview after signing in")
    check("admin · ADMIN" in driver.find_element(By.CSS_SELECTOR, "form.signout").text, "the key's name and ADMIN shown")
    check(driver.find_element(By.ID, "throughput").tag_name == "svg", "the throughput chart")
    queues = driver.find_element(By.ID, "queues").text
    check("BOM_PROCESSING" in queues and "SCAN" in queues, f"the queues table: {queues}")
    check("scanner <crashed>" in driver.page_source.replace("&lt;", "<").replace("&gt;", ">"), "recent failures listed")
    driver.save_screenshot(os.path.join(output, "overview.png"))

    # The list, filtered by label and by template.
    driver.get(base + "/ui/workflows")
    field = driver.find_element(By.NAME, "label")
    field.send_keys("team:ui")
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(driver, 10).until(lambda d: "label=team" in d.current_url)
    links = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.workflows td a")]
    check(links == [TARGET], f"the label filter finds the one workflow: {links}")
    driver.get(base + "/ui/workflows?template=BOM_UPLOAD")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.workflows tbody tr")) == 1, "the template filter")
    driver.get(base + "/ui/workflows?state=processing")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.workflows tbody tr")) == 6, "the state filter (6 processing)")

    # The workflow: its hostile label is text, nothing runs.
    driver.get(base + "/ui/workflows?label=team:ui")
    driver.find_element(By.LINK_TEXT, TARGET).click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "token"))
    check(HOSTILE in driver.find_element(By.CSS_SELECTOR, "dl.meta").text, "the label is shown as text")
    check(no_alert(driver), "no alert opened")
    steps = driver.find_element(By.ID, "steps").text
    check("scanner-1" in steps and "Release lease" in steps, f"the claim and its release button: {steps[:200]}")
    check(driver.find_element(By.ID, "timeline").tag_name == "svg", "the timeline")
    history = driver.find_element(By.ID, "history").text
    check("CLAIMED" in history and "worker scanner-1" in history, "the history with who")
    driver.save_screenshot(os.path.join(output, "workflow.png"))

    # Live refresh: a change made elsewhere appears without reloading.
    api("PATCH", f"/api/v1/workflow/token/{TARGET}/step/BOM_PROCESSING", {"status": "COMPLETED", "worker": "scanner-1"})
    try:
        WebDriverWait(driver, 12).until(lambda d: "STATUS" in d.find_element(By.ID, "history").text
                                        and "BOM_PROCESSING" in d.find_element(By.ID, "history").text
                                        and "PENDING → COMPLETED" in d.find_element(By.ID, "history").text)
        refreshed = True
    except Exception:
        refreshed = False
    check(refreshed, "the page refreshed itself (nothing here reloads it) with the completion")

    # Cancel it with the form; the state changes.
    driver.find_element(By.CSS_SELECTOR, "#cancel input[name=reason]").send_keys("stopped from the page")
    driver.find_element(By.CSS_SELECTOR, "#cancel button").click()
    WebDriverWait(driver, 10).until(lambda d: "notice=cancelled" in d.current_url)
    check(driver.find_element(By.ID, "state").text == "failed", "the state badge says failed (cancelled)")
    check("The workflow was cancelled." in driver.find_element(By.CSS_SELECTOR, "p.notice").text, "the notice")
    check("stopped from the page" in driver.find_element(By.ID, "history").text, "the cancel in the history")
    state = api("GET", f"/api/v1/workflow/token/{TARGET}")
    check(state["processing"] is False, "the API agrees: not processing")
    check(no_alert(driver), "still no alert")
    errors = console_errors(driver)
    check(errors == [], f"no console errors: {errors}")

    # Sign out; a READ key sees and may not act.
    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/ui/signin"))
    driver.get(base + f"/ui/workflow/{TARGET}")
    check(driver.current_url.endswith("/ui/signin"), "signed out: the page asks to sign in")
    sign_in(driver, reader)
    driver.get(base + f"/ui/workflow/{TARGET}")
    check(not driver.find_elements(By.CSS_SELECTOR, "#cancel, #restart"), "a READ key sees no action")
    check("viewer · read only" in driver.find_element(By.CSS_SELECTOR, "form.signout").text, "read only shown")
    errors = console_errors(driver)
    check(errors == [], f"no console errors: {errors}")
finally:
    driver.quit()

# JavaScript off: sign in, open a workflow, cancel it.
driver = browser(javascript=False)
try:
    other = "00000000-0000-4000-8000-000000000001"
    sign_in(driver, admin)
    driver.get(base + f"/ui/workflow/{other}")
    driver.find_element(By.CSS_SELECTOR, "#cancel button").click()
    WebDriverWait(driver, 10).until(lambda d: "notice=cancelled" in d.current_url)
    check(driver.find_element(By.ID, "state").text == "failed", "without JavaScript the cancel works")
finally:
    driver.quit()

server.terminate()
server.wait(timeout=10)
shutil.rmtree(work, ignore_errors=True)
shots = [name for name in ("overview.png", "workflow.png") if os.path.getsize(os.path.join(output, name)) > 10_000]
check(len(shots) == 2, f"screenshots saved: {shots}")
print(f"ui-test: screenshots in {output}")
if failures:
    print(f"ui-test: {checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1)
print(f"ui-test: {checks} passed, 0 failed")
