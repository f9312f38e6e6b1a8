import pytest
from playwright.sync_api import Page, expect

from app.demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_a_school_buyer_searches_for_cuiya_and_follows_it_to_its_trace_page(
    page: Page, live_server
):
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("手机号或邮箱").fill("13908520006")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.locator("main form").get_by_role("button", name="登录").click()

    page.goto(f"{live_server}/market")
    page.get_by_role("searchbox").fill("翠芽")
    page.get_by_role("button", name="搜索").click()

    expect(page.get_by_text("共 3 条商品")).to_be_visible()
    page.get_by_role("link", name="湄潭翠芽 特级 明前").click()
    expect(page.get_by_role("heading", name="湄潭翠芽 特级 明前")).to_be_visible()

    page.get_by_role("link", name="LF-CY-2026-01").click()
    expect(page.get_by_role("heading", name="湄潭翠芽 · LF-CY-2026-01")).to_be_visible()
    expect(page.get_by_text("检测全部合格")).to_be_visible()
    expect(page.get_by_text("龙凤村田家沟茶园").first).to_be_visible()


def test_anyone_opens_a_trace_page_from_its_qr_code_without_signing_in(page: Page, live_server):
    page.goto(f"{live_server}/t/LF-CY-2026-01/label")
    qr = page.locator(".label img").first
    expect(qr).to_have_attribute("src", "/t/LF-CY-2026-01/qr.svg")

    page.goto(f"{live_server}/t/LF-CY-2026-01")
    expect(page.get_by_role("heading", name="流转记录")).to_be_visible()
    expect(page.get_by_text("上架为“湄潭翠芽 特级 明前”。")).to_be_visible()
