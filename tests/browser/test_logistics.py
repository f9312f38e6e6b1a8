import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_orders import sign_in

pytestmark = pytest.mark.browser


def test_the_dispatcher_plans_tomorrow_and_prints_a_route_sheet(page: Page, live_server):
    sign_in(page, live_server, "13908520002")  # 刘德明, the vegetable cooperative
    page.goto(f"{live_server}/logistics/plan")
    expect(page.get_by_role("heading", name=re.compile("配送计划"))).to_be_visible()
    page.get_by_role("button", name="重新排线").click()
    expect(page.get_by_text("排线完成。如有未能安排的站点，请查看原因。")).to_be_visible()
    expect(page.get_by_text("湄潭县湄江街道象山路 2 号").first).to_be_visible()
    page.get_by_role("link", name="路单").first.click()
    expect(page.get_by_role("heading", name=re.compile("路单"))).to_be_visible()


def test_a_school_sets_up_a_standing_order_and_sees_its_coming_days(page: Page, live_server):
    sign_in(page, live_server, "13908520006")  # 张丽, Meijiang Middle School
    page.goto(f"{live_server}/logistics/standing")
    expect(page.get_by_role("heading", name="接下来几天")).to_be_visible()
    expect(page.get_by_text("已下单").first).to_be_visible()
    page.get_by_role("link", name="新建定期订单").click()
    page.get_by_label("周二").check()
    page.locator("#f-listing_1").fill("1")
    page.locator("#f-quantity_1").fill("2")
    page.get_by_role("button", name="创建定期订单").click()
    expect(page.get_by_text(re.compile("定期订单已创建|不向您的单位销售"))).to_be_visible()


def test_the_supply_page_draws_its_chart(page: Page, live_server):
    sign_in(page, live_server, "13908520006")
    page.goto(f"{live_server}/supply?product=potato")
    expect(page.get_by_role("heading", name=re.compile("供需对比"))).to_be_visible()
    expect(
        page.get_by_text(re.compile("供应不足"))
    ).to_be_visible()  # this week, before the potatoes come in
    width = page.locator("#supply-chart").evaluate("canvas => canvas.width")
    assert width > 0
