"""A Snakemake report opened in headless Chromium (Debian's `chromium` and `chromium-driver`
packages; .ci/run installs them), navigated by clicks as a person would."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30


def missing_browser() -> str | None:
    """Why no browser test can run here (None when it can)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and not shutil.which(path.name):
            return (
                f"{path} not found: install Debian's chromium and chromium-driver "
                "(`apt-get install chromium chromium-driver`; .ci/run does)"
            )
    return None


class ReportPage:
    """One report in a browser window; use as a context manager."""

    def __init__(self, report: Path):
        self.report = report

    def __enter__(self) -> ReportPage:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = str(CHROMIUM)
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"):  # fmt: skip
            options.add_argument(argument)
        # The Debian driver, named explicitly: Selenium never looks for one on the network.
        self.driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        self.driver.get(self.report.resolve().as_uri())
        self._wait(
            lambda driver: driver.execute_script(
                "return document.querySelector('#app') !== null "
                "&& document.querySelector('#app').innerText.toLowerCase().includes('results')"
            )
        )
        return self

    def __exit__(self, *exc) -> None:
        self.driver.quit()

    def _wait(self, condition):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, WAIT_SECONDS).until(condition)

    def click_text(self, text: str) -> None:
        """Click the navigation entry (category, subcategory, breadcrumb) showing ``text``."""
        from selenium.webdriver.common.by import By

        self._wait(lambda driver: driver.find_elements(By.XPATH, f"//nav//*[text()='{text}']"))
        self.driver.find_element(By.XPATH, f"//nav//*[text()='{text}']").click()

    def rows(self) -> list[str]:
        """The labels of the results listed in the navigation (one string per row)."""
        from selenium.webdriver.common.by import By

        return [row.text for row in self.driver.find_elements(By.XPATH, "//nav//tbody/tr")]

    def view(self, label: str) -> None:
        """Click the eye button of the listed result whose row shows ``label``."""
        from selenium.webdriver.common.by import By

        row = f"//nav//tbody/tr[td[text()='{label}']]"
        self._wait(lambda driver: driver.find_elements(By.XPATH, row))
        self.driver.find_element(By.XPATH, f"{row}//a[@iconname='eye']").click()

    def shown_image_size(self) -> tuple[int, int]:
        """Natural width and height of the image the page shows, once it is decoded."""
        from selenium.webdriver.common.by import By

        def decoded(driver):
            images = driver.find_elements(By.XPATH, "//div[contains(@class,'p-3')]/img")
            sizes = [
                driver.execute_script(
                    "return arguments[0].complete ? "
                    "[arguments[0].naturalWidth, arguments[0].naturalHeight] : null",
                    image,
                )
                for image in images
            ]
            return next((size for size in sizes if size and size[0] > 0), False)

        return tuple(self._wait(decoded))

    def shown_table(self) -> list[list[str]]:
        """The rows (header first) of the table in the HTML page the report shows."""
        from selenium.webdriver.common.by import By

        frame = self._wait(lambda driver: driver.find_elements(By.TAG_NAME, "iframe"))[0]
        self.driver.switch_to.frame(frame)
        try:
            self._wait(lambda driver: driver.find_elements(By.TAG_NAME, "tr"))
            return [
                [cell.text for cell in row.find_elements(By.XPATH, "./th|./td")]
                for row in self.driver.find_elements(By.TAG_NAME, "tr")
            ]
        finally:
            self.driver.switch_to.default_content()

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
