"""catalogue reference data (categories, grades, units, products) and full-text search structures

Revision ID: c41d7e0a9b12
Revises: 8a37567bced8
Create Date: 2026-11-28 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c41d7e0a9b12"
down_revision: str | Sequence[str] | None = "8a37567bced8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = [
    # id, code, parent_id, name_zh, name_en, position
    (1, "tea", None, "茶叶", "Tea", 1),
    (2, "tea.green", 1, "绿茶", "Green tea", 2),
    (3, "tea.black", 1, "红茶", "Black tea", 3),
    (4, "rice", None, "大米", "Rice", 4),
    (5, "chili", None, "辣椒", "Chili", 5),
    (6, "vegetables", None, "蔬菜", "Vegetables", 6),
    (7, "fruit", None, "水果", "Fruit", 7),
]
GRADE_SCALES = [
    (1, "tea", "茶叶等级", "Tea grades"),
    (2, "rice", "大米等级（GB/T 1354）", "Rice grades (GB/T 1354)"),
    (3, "produce", "果蔬等级", "Fruit and vegetable classes"),
]
GRADES = [
    # id, scale_id, code, name_zh, name_en, rank
    (1, 1, "special", "特级", "Premium", 1),
    (2, 1, "first", "一级", "Grade 1", 2),
    (3, 1, "second", "二级", "Grade 2", 3),
    (4, 2, "grade1", "一等", "Grade 1", 1),
    (5, 2, "grade2", "二等", "Grade 2", 2),
    (6, 2, "grade3", "三等", "Grade 3", 3),
    (7, 3, "special", "特级", "Extra class", 1),
    (8, 3, "first", "一级", "Class I", 2),
    (9, 3, "second", "二级", "Class II", 3),
]
UNITS = [
    # code, name_zh, name_en, grams
    ("kg", "千克", "kg", 1000),
    ("jin", "斤", "jin (500 g)", 500),
    ("t", "吨", "tonne", 1_000_000),
    ("box_5kg", "箱（5千克）", "box of 5 kg", 5000),
    ("box_10kg", "箱（10千克）", "box of 10 kg", 10000),
    ("bag_25kg", "袋（25千克）", "bag of 25 kg", 25000),
    ("tin_250g", "罐（250克）", "tin of 250 g", 250),
    ("box_500g", "盒（500克）", "gift box of 500 g", 500),
]
PRODUCTS = [
    # id, code, category_id, grade_scale_id, default_unit, name_zh, name_en, aliases, spec, cold_chain
    (
        1,
        "meitan_cuiya",
        2,
        1,
        "kg",
        "湄潭翠芽",
        "Meitan Cuiya",
        "cuiya meitan meitancuiya green tea mingqian 明前 扁茶",
        "扁平光滑、翠绿显毫，清明前后采一芽一叶初展；按地理标志产品湄潭翠芽的感官与理化指标分级。",
        False,
    ),
    (
        2,
        "meijiang_cuipian",
        2,
        1,
        "kg",
        "湄江翠片",
        "Meijiang Cuipian",
        "cuipian meijiang green tea",
        "扁平匀整、色泽翠绿，汤色嫩绿明亮；按湄江翠片企业标准分级。",
        False,
    ),
    (
        3,
        "zunyi_hong",
        3,
        1,
        "kg",
        "遵义红",
        "Zunyi Black (Zunyi Hong)",
        "zunyihong zunyi hong black tea red tea gongfu 工夫红茶",
        "条索紧细、金毫显露，汤色红亮，甜香持久；按遵义红工夫红茶标准分级。",
        False,
    ),
    (
        4,
        "meitan_rice",
        4,
        2,
        "bag_25kg",
        "湄潭优质稻大米",
        "Meitan quality rice",
        "dami rice youzhidao 优质稻 粳米 籼米",
        "按 GB/T 1354《大米》分等：碎米、加工精度、不完善粒、杂质、水分（≤15.5%）。",
        False,
    ),
    (
        5,
        "chaotian_chili",
        5,
        3,
        "kg",
        "朝天椒",
        "Chaotian chili (facing-heaven pepper)",
        "chaotianjiao lajiao chili pepper hot pepper 鲜辣椒",
        "果形完整、色泽鲜红或青绿、无病斑虫眼；按鲜辣椒等级规格分级。",
        False,
    ),
    (
        6,
        "dried_chili",
        5,
        3,
        "kg",
        "干辣椒",
        "Dried chili",
        "ganlajiao dried chili pepper 干椒",
        "色泽红亮、干燥均匀（含水量≤14%）、无霉变。",
        False,
    ),
    (
        7,
        "chinese_cabbage",
        6,
        3,
        "kg",
        "大白菜",
        "Chinese cabbage",
        "baicai dabaicai cabbage napa 白菜",
        "叶球紧实、新鲜、无黄叶烂叶；按大白菜等级规格分级。",
        False,
    ),
    (
        8,
        "potato",
        6,
        3,
        "kg",
        "土豆",
        "Potato",
        "tudou malingshu potato 马铃薯",
        "薯形完整、表皮光滑、无发芽无青皮。",
        False,
    ),
    (
        9,
        "tomato",
        6,
        3,
        "kg",
        "西红柿",
        "Tomato",
        "xihongshi fanqie tomato 番茄",
        "成熟度一致、果形端正、无裂果。",
        False,
    ),
    (
        10,
        "green_pepper",
        6,
        3,
        "kg",
        "青椒",
        "Green pepper",
        "qingjiao sweet pepper bell pepper 菜椒",
        "果实饱满、色泽鲜绿、无病斑。",
        False,
    ),
    (
        11,
        "lettuce",
        6,
        3,
        "kg",
        "生菜",
        "Lettuce",
        "shengcai lettuce",
        "叶片鲜嫩、无黄叶；需冷链运输（2–8℃）。",
        True,
    ),
    (
        12,
        "kiwifruit",
        7,
        3,
        "kg",
        "猕猴桃",
        "Kiwifruit",
        "mihoutao kiwi kiwifruit",
        "单果重≥80 克、果形端正、无机械伤；需冷链运输（0–4℃）。",
        True,
    ),
    (
        13,
        "blueberry",
        7,
        3,
        "box_5kg",
        "蓝莓",
        "Blueberry",
        "lanmei blueberry",
        "果粉完整、果实饱满、无破损；需冷链运输（0–4℃）。",
        True,
    ),
    (
        14,
        "pear",
        7,
        3,
        "kg",
        "金秋梨",
        "Golden autumn pear",
        "li pear jinqiuli 梨",
        "果形端正、果皮光洁、可溶性固形物≥12%。",
        False,
    ),
]


def upgrade() -> None:
    _insert_catalogue()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_listing_search_document_tsv ON listing_search "
            "USING gin (to_tsvector('simple', document))"
        )
        return
    # SQLite: an FTS5 table over listing_search's text, kept in step by triggers.
    op.execute(
        "CREATE VIRTUAL TABLE listing_search_fts USING fts5("
        "document, content='listing_search', content_rowid='listing_id', tokenize='unicode61')"
    )
    op.execute(
        "CREATE TRIGGER listing_search_fts_insert AFTER INSERT ON listing_search BEGIN "
        "INSERT INTO listing_search_fts(rowid, document) VALUES (new.listing_id, new.document); END"
    )
    op.execute(
        "CREATE TRIGGER listing_search_fts_delete AFTER DELETE ON listing_search BEGIN "
        "INSERT INTO listing_search_fts(listing_search_fts, rowid, document) "
        "VALUES ('delete', old.listing_id, old.document); END"
    )
    op.execute(
        "CREATE TRIGGER listing_search_fts_update AFTER UPDATE ON listing_search BEGIN "
        "INSERT INTO listing_search_fts(listing_search_fts, rowid, document) "
        "VALUES ('delete', old.listing_id, old.document); "
        "INSERT INTO listing_search_fts(rowid, document) VALUES (new.listing_id, new.document); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_listing_search_document_tsv")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER listing_search_fts_{trigger}")
        op.execute("DROP TABLE listing_search_fts")
    for table in ("products", "units", "grades", "grade_scales", "categories"):
        op.execute(f"DELETE FROM {table}")


def _insert_catalogue() -> None:
    categories = sa.table(
        "categories",
        *(
            sa.column(name)
            for name in ("id", "code", "parent_id", "name_zh", "name_en", "position")
        ),
    )
    scales = sa.table(
        "grade_scales", *(sa.column(name) for name in ("id", "code", "name_zh", "name_en"))
    )
    grades = sa.table(
        "grades",
        *(sa.column(name) for name in ("id", "scale_id", "code", "name_zh", "name_en", "rank")),
    )
    units = sa.table(
        "units", *(sa.column(name) for name in ("code", "name_zh", "name_en", "grams"))
    )
    products = sa.table(
        "products",
        *(
            sa.column(name)
            for name in (
                "id",
                "code",
                "category_id",
                "grade_scale_id",
                "default_unit_code",
                "name_zh",
                "name_en",
                "aliases",
                "spec",
                "cold_chain",
            )
        ),
    )
    for table, rows in (
        (categories, CATEGORIES),
        (scales, GRADE_SCALES),
        (grades, GRADES),
        (units, UNITS),
        (products, PRODUCTS),
    ):
        names = [column.name for column in table.columns]
        op.bulk_insert(table, [dict(zip(names, row, strict=True)) for row in rows])
    if op.get_bind().dialect.name == "postgresql":  # explicit ids leave the sequences behind
        for table in ("categories", "grade_scales", "grades", "products"):
            op.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
