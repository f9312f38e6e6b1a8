import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_orders import sign_in

pytestmark = pytest.mark.browser

SESSION = (
    "明前翠芽开春直播 · 龙凤村茶园"  # the demo's tea session, live with a deal on the gift tins
)


def test_a_viewer_sees_the_deal_stock_fall_live_when_a_school_buys(
    browser: Browser, page: Page, live_server
):
    page.goto(f"{live_server}/live")
    page.get_by_role("link", name=SESSION).click()
    deal = page.locator(".deal").first
    expect(deal.locator('[data-field="clock"]')).to_have_text(re.compile("距结束"))
    left = deal.locator('[data-field="left"]')
    before = int(left.inner_text())
    page.evaluate("window.stillTheSamePage = true")

    school = browser.new_context(locale="zh-CN").new_page()
    sign_in(school, live_server, "13908520006")  # 张丽, Meijiang Middle School
    school.goto(page.url)
    card = school.locator(".deal").first
    card.get_by_label("付款").select_option("later")
    card.get_by_role("button", name="立即购买").click()
    expect(school.get_by_text(re.compile("已下单“湄潭翠芽"))).to_be_visible()

    expect(left).to_have_text(str(before - 1), timeout=5000)  # pushed, not reloaded
    assert page.evaluate("window.stillTheSamePage") is True
    school.context.close()


def test_the_host_sees_the_console_with_its_figures(page: Page, live_server):
    sign_in(page, live_server, "13908520013")  # 周小燕, the tea cooperative's host
    page.goto(f"{live_server}/live/mine")
    page.get_by_role("link", name="中控台").first.click()
    expect(page.get_by_role("heading", level=1, name=re.compile("明前翠芽"))).to_be_visible()
    expect(page.get_by_text("在线观众")).to_be_visible()
    expect(page.get_by_role("button", name="发布秒杀")).to_be_visible()
