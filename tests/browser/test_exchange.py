import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_orders import sign_in

pytestmark = pytest.mark.browser


def test_a_watcher_sees_a_trade_on_zunyi_black_appear_without_reloading(
    browser: Browser, page: Page, live_server
):
    page.goto(f"{live_server}/exchange")
    page.get_by_role("link", name="ZYH-1").click()
    expect(page.get_by_role("heading", name=re.compile("委托簿"))).to_be_visible()
    tape = page.locator("#trade-rows tr")
    before = tape.first.inner_text()
    page.evaluate("window.stillTheSamePage = true")

    coop = browser.new_context(locale="zh-CN").new_page()
    sign_in(
        coop, live_server, "13908520001"
    )  # 王建国, the tea cooperative: it sells into the best bid
    coop.goto(page.url)
    form = coop.locator("form", has=coop.get_by_role("button", name="提交委托"))
    form.get_by_label("买卖方向").select_option("sell")
    form.get_by_label("每千克限价（元）").fill("366")
    form.get_by_label(re.compile("手数")).fill("1")
    form.get_by_label("卖出所用仓单").select_option(index=1)
    form.get_by_role("button", name="提交委托").click()
    expect(coop.get_by_text(re.compile("1 手中已成交 1 手"))).to_be_visible()

    expect(tape.first).not_to_have_text(before, timeout=5000)  # polled, not reloaded
    expect(tape.first).to_contain_text("¥366.00")
    assert page.evaluate("window.stillTheSamePage") is True
    coop.context.close()


def test_an_english_auction_counts_down_and_shows_its_leading_bid(page: Page, live_server):
    page.goto(f"{live_server}/exchange/auctions")
    page.get_by_role("link", name="1", exact=True).click()
    expect(page.locator("#price-now")).to_have_text("¥790.00")
    clock = page.locator("#countdown")
    expect(clock).to_have_text(re.compile(r"\d+:\d{2}:\d{2}"))
    first = clock.inner_text()
    expect(clock).not_to_have_text(first, timeout=3000)  # it ticks
    expect(page.locator("#bid-rows tr")).to_have_count(1)


def test_the_warehouse_discharges_a_pledge_and_the_holder_may_use_the_receipt_again(
    browser: Browser, page: Page, live_server
):
    sign_in(page, live_server, "13908520011")  # 罗斌, the China Tea City warehouse
    page.goto(f"{live_server}/warehouse/receipts")
    pledged = page.locator("tr", has_text="湄潭县农村商业银行")
    expect(pledged).to_contain_text("已质押")
    number = pledged.locator("strong").first.inner_text()
    page.once(
        "dialog", lambda dialog: dialog.accept()
    )  # "the lender has confirmed the loan is repaid?"
    pledged.get_by_role("button", name="解除质押").click()
    expect(page.get_by_text(f"仓单 {number} 已解除质押。")).to_be_visible()

    coop = browser.new_context(locale="zh-CN").new_page()
    sign_in(coop, live_server, "13908520001")  # 王建国, the tea cooperative that pledged it
    coop.goto(f"{live_server}/exchange/receipts")
    freed = coop.locator("tr", has_text=number)
    expect(freed).to_contain_text("持有中")
    freed.get_by_text("质押融资").click()  # the pledge form opens again: it may be pledged anew
    expect(freed.get_by_label("质权人（贷款方）")).to_be_visible()
    coop.context.close()
