import pytest
from playwright.sync_api import Page, expect

from app.demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_a_cooperative_manager_signs_in_switches_to_english_and_sees_the_dashboard(
    page: Page, live_server
):
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("手机号或邮箱").fill("13908520001")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.locator("main form").get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", name="王建国，您好")).to_be_visible()
    expect(page.get_by_role("heading", name="出售您的农产品")).to_be_visible()

    page.get_by_role("button", name="English").click()

    expect(page.get_by_role("heading", name="Hello, 王建国")).to_be_visible()
    expect(page.get_by_role("heading", name="Sell your produce")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_api_documentation_renders_in_the_browser(page: Page, live_server):
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.get_by_text("/api/v1/auth/token").first).to_be_visible(timeout=15000)
