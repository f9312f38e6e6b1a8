"""Demo batches and listings: Meitan's tea, rice, chili, vegetables and fruit, with their tests."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import Membership, Organisation, User
from app.catalog import batches, services
from app.catalog.models import Batch, InputKind, TestResult
from app.db import utcnow

LAB = "遵义市农产品质量安全检测中心"

# seller credit code serial -> batches: (code, product, farm, zone, village, days ago, inputs, test, listings)
# a listing: (grade, unit, price in fen, stock, minimum order, shelf life in days, extra particulars)
DEMO = {
    2: [
        ("LF-CY-2026-01", "meitan_cuiya", "龙凤村田家沟茶园", "兴隆坝区", "龙凤村", 235,
         [("fertiliser", "菜籽饼有机肥", "150 千克/亩", 280), ("pesticide", "0.3% 苦参碱水剂", "稀释 1000 倍", 250)],
         "农药残留 42 项未检出",
         [("special", "kg", 128000, 20, 1, 540, {"title": "湄潭翠芽 特级 明前", "geographical_indication": True,
                                                   "green_food": True, "packaging": "250 克铁罐 × 4"}),
          ("first", "kg", 68000, 80, 2, 540, {"geographical_indication": True, "commitment_certificate": "520328-2026-0412"}),
          ("first", "tin_250g", 19800, 120, 1, 540, {"title": "湄潭翠芽 一级 250 克礼罐", "geographical_indication": True})]),
        ("LF-ZH-2026-02", "zunyi_hong", "龙凤村田家沟茶园", "兴隆坝区", "龙凤村", 180, [], "农药残留 42 项未检出",
         [("first", "kg", 56000, 60, 1, 730, {})]),
    ],
    3: [
        ("LLK-BC-2026-11", "chinese_cabbage", "两路口村蔬菜基地", "湄江坝区", "两路口村", 1,
         [("fertiliser", "腐熟农家肥", "2 吨/亩", 60)], "蔬菜农残速测 合格",
         [("first", "kg", 240, 2000, 50, 10, {"visible_to": ["school", "supermarket"], "packaging": "20 千克网袋"})]),
        ("LLK-TD-2026-09", "potato", "两路口村蔬菜基地", "湄江坝区", "两路口村", 20, [], "蔬菜农残速测 合格",
         [("first", "kg", 300, 3500, 50, 60, {"packaging": "25 千克编织袋"})]),
        ("LLK-XHS-2026-11", "tomato", "两路口村大棚", "湄江坝区", "两路口村", 2, [], "蔬菜农残速测 合格",
         [("first", "kg", 560, 600, 20, 10, {"commitment_certificate": "520328-2026-1127"})]),
        ("LLK-DM-2026-10", "meitan_rice", "两路口村稻田", "湄江坝区", "两路口村", 50, [], "重金属与农残检测 合格",
         [("grade1", "bag_25kg", 18750, 400, 4, 365, {"title": "湄潭优质稻大米 一等 25 千克", "green_food": True})]),
    ],
    4: [
        ("HL-CTJ-2026-10", "chaotian_chili", "回龙村辣椒基地", "兴隆坝区", "回龙村", 3, [], "农药残留 28 项未检出",
         [("first", "kg", 980, 900, 10, 14, {})]),
        ("HL-GLJ-2026-09", "dried_chili", "回龙村辣椒基地", "兴隆坝区", "回龙村", 40, [], "水分与农残检测 合格",
         [("special", "kg", 3600, 500, 5, 365, {"packaging": "5 千克真空袋"})]),
    ],
    5: [
        ("LJ-MHT-2026-10", "kiwifruit", "李家生态农场", "", "牛场村", 20, [("fertiliser", "有机肥", "100 千克/亩", 120)],
         "农药残留 36 项未检出",
         [("first", "kg", 1600, 800, 10, 30, {"organic": True})]),
        ("LJ-LM-2026-07", "blueberry", "李家生态农场", "", "牛场村", 5, [], "农药残留 36 项未检出",
         [("special", "box_5kg", 26000, 60, 1, 12, {"organic": True, "visible_to": ["supermarket"]})]),
    ],
    6: [
        ("CY-JCP-2026-01", "meijiang_cuipian", "翠芽茶业永兴茶园", "永兴坝区", "中华村", 230, [], "农药残留 42 项未检出",
         [("special", "kg", 88000, 120, 1, 540, {"geographical_indication": True})]),
        ("CY-ZYH-2026-02", "zunyi_hong", "翠芽茶业永兴茶园", "永兴坝区", "中华村", 175, [], "农药残留 42 项未检出",
         [("special", "kg", 108000, 90, 1, 730, {"title": "遵义红 特级 工夫红茶"}),
          ("first", "box_500g", 36800, 200, 1, 730, {"title": "遵义红 一级 500 克礼盒"})]),
    ],
}  # fmt: skip


def seed_catalog(session: Session, organisations: dict[int, Organisation]) -> int:
    """Record the demo batches and list from them; a batch already there is skipped. Returns how many were made."""
    made = 0
    today = utcnow()
    for serial, demo_batches in DEMO.items():
        seller = organisations[serial]
        actor_id = session.scalar(
            select(User.id).join(Membership).where(Membership.organisation_id == seller.id)
        )
        for code, product, farm, zone, village, days_ago, inputs, test, listings in demo_batches:
            if session.scalar(select(Batch.id).where(Batch.code == code)):
                continue
            harvested = (today - timedelta(days=days_ago)).date()
            batches.record_batch(
                session,
                organisation_id=seller.id,
                actor_id=actor_id,
                product=product,
                farm=farm,
                code=code,
                harvest_date=harvested,
                zone=zone,
                town=seller.town,
                village=village,
                processing="",
                inputs=[
                    {
                        "kind": InputKind(kind),
                        "name": name,
                        "amount": amount,
                        "applied_on": harvested - timedelta(days=before),
                    }
                    for kind, name, amount, before in inputs
                ],
            )
            batches.add_test_report(
                session,
                organisation_id=seller.id,
                actor_id=actor_id,
                batch_code=code,
                lab=LAB,
                tested_on=harvested + timedelta(days=1 if days_ago > 1 else 0),
                result=TestResult.passed,
                summary=test,
            )
            for grade, unit, price, stock, minimum, shelf_life, extra in listings:
                services.create_listing(
                    session,
                    organisation_id=seller.id,
                    actor_id=actor_id,
                    product=product,
                    grade=grade,
                    unit=unit,
                    batch=code,
                    price_fen=price,
                    quantity=stock,
                    min_order=minimum,
                    production_date=harvested,
                    shelf_life_days=shelf_life,
                    **extra,
                )
            made += 1
    return made
