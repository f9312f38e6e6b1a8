import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from app.db import local_date, utcnow
from app.demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, live_server: str, phone: str) -> None:
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("手机号或邮箱").fill(phone)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.locator("main form").get_by_role("button", name="登录").click()


def test_a_supermarket_buyer_puts_cuiya_in_the_cart_and_checks_out(page: Page, live_server):
    sign_in(page, live_server, "13908520008")
    page.goto(f"{live_server}/market")
    page.get_by_role("searchbox").fill("翠芽")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name="湄潭翠芽 特级 明前").click()
    page.get_by_role("button", name="加入购物车").click()
    expect(page.get_by_text("购物车已更新。")).to_be_visible()

    page.goto(f"{live_server}/cart")
    page.get_by_label("收货地点").fill("惠民生鲜 湄潭店 收货区")
    page.get_by_label("配送日期").fill((local_date(utcnow()) + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="提交订单").click()

    expect(page.get_by_text(re.compile(r"已下 1 个订单"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("惠民生鲜 湄潭店 收货区"))).to_be_visible()


def test_the_school_inspector_accepts_part_of_a_delivery_at_the_gate(page: Page, live_server):
    sign_in(page, live_server, "13908520016")
    page.goto(f"{live_server}/orders?side=buying&status=delivered")
    page.get_by_role("link", name=re.compile(r"#\d+")).first.click()

    page.get_by_label(re.compile("验收数量")).fill("1")
    page.get_by_label("在场验收人").fill("周强、吴敏")
    page.get_by_label("称重结果").fill("1.02 kg")
    page.get_by_role("button", name="签字验收").click()

    expect(page.get_by_text("已验收。卖家按验收数量收款，其余货款已退回。")).to_be_visible()
    expect(page.get_by_text("周强、吴敏")).to_be_visible()
    expect(page.get_by_text("卖家实收")).to_be_visible()
