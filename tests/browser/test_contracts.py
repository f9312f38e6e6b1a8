import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_orders import sign_in

pytestmark = pytest.mark.browser


def test_the_tea_cooperative_counters_the_trader_signs_and_then_the_cooperative(
    page: Page, live_server
):
    sign_in(page, live_server, "13908520001")  # 王建国, Longfeng tea cooperative
    expect(page.get_by_text(re.compile("等待您方答复：黔北茶贸"))).to_be_visible()
    page.get_by_role("link", name="去答复").click()
    page.get_by_role("link", name="提出修改").click()
    page.get_by_label(re.compile("价格或保底价")).fill("620")
    page.get_by_label("给对方的说明").fill("保底价按 620 元")
    page.get_by_role("button", name="提出这些条款").click()
    expect(page.get_by_text("已提出第 2 版。")).to_be_visible()
    page.get_by_role("link", name="修改了什么").click()
    expect(page.get_by_role("cell", name="¥600.00/kg")).to_be_visible()
    expect(page.get_by_role("cell", name="¥620.00/kg")).to_be_visible()
    contract_url = page.url.split("/diff")[0]

    page.context.clear_cookies()
    sign_in(page, live_server, "13908520010")  # 徐峰, the tea trader
    page.goto(contract_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="签署第 2 版").click()
    expect(page.get_by_text("已签署。双方都签署后合同生效。")).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, live_server, "13908520001")
    page.goto(contract_url)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="签署第 2 版").click()
    expect(page.locator("h1 .badge")).to_have_text("有效")
    expect(page.get_by_role("heading", name="履约进度")).to_be_visible()
    # 40 kg at the ¥620 floor is ¥24,800; the 20% deposit came from the trader's wallet.
    expect(page.get_by_text("¥4,960.00")).to_be_visible()


def test_the_school_follows_its_cabbage_contract_and_its_first_delivery(page: Page, live_server):
    sign_in(page, live_server, "13908520006")  # 张丽, Meijiang Middle School
    page.get_by_role("link", name="合同", exact=True).click()
    page.get_by_role("link", name="湄江中学 冬季食堂大白菜").click()
    expect(page.get_by_role("heading", name="履约进度")).to_be_visible()
    expect(page.get_by_text("0 / 2400 kg").first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^#\d+$")).first).to_be_visible()
    expect(page.get_by_text("保底价：尚无市场成交").first).to_be_visible()
