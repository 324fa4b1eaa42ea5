"""A person's path through Airflow's UI with the provider, in a real browser: log in, the Craft AI
connection form, triggering ``craft_run_pipeline``, and the page its extra link opens.

The tests run in order and share one logged-in browser (session fixtures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI, AirflowDeployment
from deployment.stack import LINK_NAME
from deployment.timings import phase
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from craft_airflow.get_provider_info import get_provider_info

DAG_ID = "craft_run_pipeline"
TASK_ID = "run_all_types"
UI_TIMEOUT = 90  # a React page on a loaded 2-core machine


def _connection_type() -> dict[str, Any]:
    (connection_type,) = get_provider_info()["connection-types"]
    return dict(connection_type)


def find(driver: WebDriver, by: str, value: str, timeout: float = UI_TIMEOUT) -> WebElement:
    """The element once visible."""
    return WebDriverWait(driver, timeout).until(
        expected_conditions.visibility_of_element_located((by, value))
    )


def click(driver: WebDriver, xpath: str) -> None:
    WebDriverWait(driver, UI_TIMEOUT).until(
        expected_conditions.element_to_be_clickable((By.XPATH, xpath))
    ).click()


@dataclass
class FormField:
    label: str
    input_type: str
    placeholder: str
    value: str


def form_fields(driver: WebDriver) -> dict[str, FormField]:
    """The dialog's fields by input name (extras without the UI's ``element_`` prefix)."""
    fields = {}
    groups = driver.find_elements(By.CSS_SELECTOR, "[role=dialog] [data-part=root][role=group]")
    for group in groups:
        labels = group.find_elements(By.CSS_SELECTOR, "label")
        for element in group.find_elements(By.CSS_SELECTOR, "input[name], textarea[name]"):
            name = str(element.get_attribute("name")).removeprefix("element_")
            fields[name] = FormField(
                label=" ".join(str(labels[0].get_attribute("textContent")).split()).rstrip(" *")
                if labels
                else "",
                input_type=str(element.get_attribute("type")),
                placeholder=str(element.get_attribute("placeholder") or ""),
                value=str(element.get_attribute("value") or ""),
            )
    return fields


@pytest.fixture(scope="session")
def airflow(local_deployment: tuple[AirflowDeployment, AirflowAPI]) -> AirflowDeployment:
    return local_deployment[0]


@pytest.fixture(scope="session")
def logged_in(browser: WebDriver, airflow: AirflowDeployment, screenshot: Any) -> WebDriver:
    """Through the simple auth manager's sign-in form."""
    with phase("browser: log in"):
        browser.get(f"{airflow.api_url}/")
        find(browser, By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(airflow.admin_password)
        screenshot("sign-in")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        find(browser, By.XPATH, "//a[@aria-label='Dags']")
    screenshot("home")
    return browser


@pytest.fixture(scope="session")
def connection_form(logged_in: WebDriver, airflow: AirflowDeployment, screenshot: Any) -> dict:
    """The add-connection dialog with the Craft AI type chosen: its fields, extras shown."""
    with phase("browser: the add-connection form"):
        logged_in.get(f"{airflow.api_url}/connections")
        click(logged_in, "//button[normalize-space()='Add Connection']")
        combo = find(logged_in, By.CSS_SELECTOR, "[role=dialog] input[role=combobox]")
        combo.send_keys(_connection_type()["hook-name"])
        find(logged_in, By.XPATH, f"//*[@role='option'][.='{_connection_type()['hook-name']}']")
        combo.send_keys(Keys.ENTER)
        find(logged_in, By.CSS_SELECTOR, "[role=dialog] input[name=host]")
        screenshot("connection-form-standard-fields")
        click(logged_in, "//*[@role='dialog']//button[normalize-space()='Extra Fields']")
        find(logged_in, By.CSS_SELECTOR, "[role=dialog] input[name=element_control_url]")
        screenshot("connection-form-extra-fields")
        fields = form_fields(logged_in)
        last = logged_in.find_elements(By.CSS_SELECTOR, "[role=dialog] input[name^=element_]")[-1]
        logged_in.execute_script("arguments[0].scrollIntoView({block: 'center'})", last)
        screenshot("connection-form-extra-fields-end")
    return fields


def test_log_in(logged_in: WebDriver, airflow: AirflowDeployment) -> None:
    assert logged_in.current_url.startswith(airflow.api_url)
    assert "/auth/login" not in logged_in.current_url
    assert logged_in.get_cookie("_token"), "no session token after signing in"


def test_connection_form_fields_and_labels(connection_form: dict[str, FormField]) -> None:
    declared = _connection_type()
    behaviour = declared["ui-field-behaviour"]
    host, password = connection_form["host"], connection_form["password"]
    assert host.label == "Environment URL"
    assert (password.label, password.input_type) == ("SDK token", "password")
    assert host.placeholder == behaviour["placeholders"]["host"]
    assert password.placeholder == behaviour["placeholders"]["password"]
    for hidden in behaviour["hidden-fields"]:
        assert hidden not in connection_form, f"{hidden} should be hidden"
    for name, spec in declared["conn-fields"].items():
        assert name in connection_form, f"extra {name} missing from the form"
        assert connection_form[name].label == spec["label"], name
        if spec["schema"].get("format") == "password":
            assert connection_form[name].input_type == "password", f"{name} is not masked"
    assert connection_form["verify_tls"].input_type == "checkbox"
    assert connection_form["control_url"].label == "Control URL"


def test_connection_form_placeholders_on_every_extra(
    connection_form: dict[str, FormField],
) -> None:
    placeholders = _connection_type()["ui-field-behaviour"]["placeholders"]
    missing = []
    for name, spec in _connection_type()["conn-fields"].items():
        field = connection_form[name]
        if field.input_type == "checkbox":
            continue  # a switch has no placeholder
        expected = placeholders.get(name)
        if expected is not None and field.placeholder == expected:
            continue
        # A number with a default shows that default as its value: as good a hint.
        default = spec["schema"].get("default")
        if expected is None and default is not None and field.value == str(default):
            continue
        if expected is None and field.placeholder:
            continue
        missing.append((name, field.placeholder, expected))
    assert not missing, f"extras without their placeholder (name, shown, declared): {missing}"


@pytest.fixture(scope="session")
def triggered_run(
    logged_in: WebDriver,
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    screenshot: Any,
) -> str:
    """``craft_run_pipeline`` triggered from its page's Trigger dialog; the run's id once done."""
    deployment, api = local_deployment
    with phase("browser: trigger craft_run_pipeline and wait"):
        logged_in.get(f"{deployment.api_url}/dags/{DAG_ID}")
        click(logged_in, "//button[normalize-space()='Trigger']")
        find(logged_in, By.XPATH, "//*[@role='dialog']//*[contains(., 'Unpause')]")
        screenshot("trigger-dialog")
        click(logged_in, "//*[@role='dialog']//button[normalize-space()='Trigger']")

        def the_run() -> str | None:
            runs = api.get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
            return str(runs[0]["dag_run_id"]) if runs else None

        run_id = str(wait_until(the_run, timeout=UI_TIMEOUT, what="the triggered run"))
        state = api.wait_run(DAG_ID, run_id, timeout=300)
    logged_in.get(f"{deployment.api_url}/dags/{DAG_ID}/runs/{quote(run_id)}")
    find(logged_in, By.XPATH, f"//a[normalize-space()='{TASK_ID}']")
    screenshot("dag-run")
    assert state == "success", api.task_states(DAG_ID, run_id)
    return run_id


def test_trigger_craft_run_pipeline(
    triggered_run: str, local_deployment: tuple[AirflowDeployment, AirflowAPI]
) -> None:
    _, api = local_deployment
    assert api.run_state(DAG_ID, triggered_run) == "success"
    assert api.xcom(DAG_ID, triggered_run, TASK_ID)["number"] == 42


def test_extra_link_opens_the_execution_page(
    logged_in: WebDriver,
    triggered_run: str,
    local_deployment: tuple[AirflowDeployment, AirflowAPI],
    screenshot: Any,
) -> None:
    deployment, api = local_deployment
    execution_id = api.xcom(DAG_ID, triggered_run, TASK_ID, "execution_id")
    with phase("browser: the extra link and the execution page"):
        details = f"/dags/{DAG_ID}/runs/{quote(triggered_run)}/tasks/{TASK_ID}/details"
        logged_in.get(f"{deployment.api_url}{details}")
        link = find(logged_in, By.XPATH, f"//a[normalize-space()='{LINK_NAME}']")
        assert (
            link.get_attribute("href") == api.extra_links(DAG_ID, triggered_run, TASK_ID)[LINK_NAME]
        )
        screenshot("task-details-extra-link")
        before = set(logged_in.window_handles)
        link.click()
        WebDriverWait(logged_in, UI_TIMEOUT).until(lambda d: set(d.window_handles) - before)
        (opened,) = set(logged_in.window_handles) - before
        logged_in.switch_to.window(opened)
        find(logged_in, By.TAG_NAME, "body")
        screenshot("execution-page")
        assert logged_in.current_url.endswith(f"/executions/{execution_id}")
        text = logged_in.find_element(By.TAG_NAME, "body").text
        assert execution_id in text
        assert "Succeeded" in text
        # Below the inputs (which share most names): the outputs, with their values.
        outputs = find(logged_in, By.XPATH, "//h2[normalize-space()='Outputs']")
        logged_in.execute_script("arguments[0].scrollIntoView({block: 'start'})", outputs)
        screenshot("execution-page-outputs")
    after = text.split("\nOutputs\n", 1)[-1]
    assert after != text, "no Outputs section on the execution page"
    values = api.xcom(DAG_ID, triggered_run, TASK_ID)
    for output in ("text", "number", "flag", "payload", "items", "report"):
        assert output in after, f"output {output!r} not on the execution page"
    assert values["text"] in after  # upper-cased by the pipeline: an output value, not an input
