import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_orders import sign_in

pytestmark = pytest.mark.browser


def test_the_officer_console_receives_a_live_trade(browser: Browser, page: Page, live_server):
    sign_in(page, live_server, "13908520012")  # 郑洁, the exchange officer
    page.goto(f"{live_server}/surveillance")
    expect(page.get_by_role("heading", name="市场监察台")).to_be_visible()
    expect(page.locator("#tape-state")).to_have_text("实时")
    rows = page.locator("#tape-rows tr")
    before = rows.count()
    page.evaluate("window.stillTheSamePage = true")

    trader = browser.new_context(locale="zh-CN").new_page()
    sign_in(
        trader, live_server, "13908520010"
    )  # 徐峰, the tea trader, sells Zunyi Black into the best bid
    trader.goto(f"{live_server}/exchange/ZYH-1")
    form = trader.locator("form", has=trader.get_by_role("button", name="提交委托"))
    form.get_by_label("买卖方向").select_option("sell")
    form.get_by_label("每千克限价（元）").fill("365.5")
    form.get_by_label(re.compile("手数")).fill("1")
    form.get_by_label("卖出所用仓单").select_option(index=1)
    form.get_by_role("button", name="提交委托").click()
    expect(trader.get_by_text(re.compile("已成交 1 手"))).to_be_visible()

    expect(rows).to_have_count(before + 1, timeout=5000)  # pushed over server-sent events
    expect(rows.first).to_contain_text("ZYH-1")  # at the best bid: the resting order's price
    expect(rows.first).to_contain_text("遵义黔北茶叶贸易有限公司")
    assert page.evaluate("window.stillTheSamePage") is True
    trader.context.close()
