"""`flask seed-demo`: realistic Meitan organisations and people, created through the same services as
everything else. Safe to run twice: what exists already is left as it is.
"""

from dataclasses import dataclass

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import members, organisations
from app.accounts.identifiers import credit_code_check_character
from app.accounts.models import Organisation, User
from app.auth import SELF_REGISTERING_KINDS, OrgKind, Role, VerificationStatus
from app.db import transaction
from app.demo.catalog import seed_catalog
from app.demo.contracts import seed_contracts
from app.demo.exchange import seed_exchange
from app.demo.live import seed_live
from app.demo.logistics import seed_logistics
from app.demo.orders import seed_orders

DEMO_PASSWORD = "meitan2026"  # noqa: S105 - printed for newcomers; demo data only
MEITAN = "520328"  # the administrative division code of 湄潭县


@dataclass(frozen=True)
class DemoPerson:
    name: str
    phone: str
    role: Role
    shown_as: str = ""  # how `make run` introduces the account; empty for people not listed


@dataclass(frozen=True)
class DemoOrganisation:
    kind: OrgKind
    name_zh: str
    name_en: str
    registration: str  # the first two characters of the credit code: who registered it, and as what
    serial: int
    legal_representative: str
    town: str
    village: str
    address: str
    people: tuple[DemoPerson, ...]
    verified: bool = True

    @property
    def credit_code(self) -> str:
        first_17 = f"{self.registration}{MEITAN}MA6H{self.serial:05d}"
        return first_17 + credit_code_check_character(first_17)


ORGANISATIONS = (
    DemoOrganisation(
        OrgKind.platform,
        "湄潭产销通平台运营中心",
        "AgriLink Platform Operations",
        "91",
        1,
        "韩梅",
        "湄江街道",
        "",
        "湄潭县湄江街道浙大西迁路 8 号",
        (DemoPerson("韩梅", "13908520000", Role.admin, "platform admin 平台管理员"),),
    ),
    DemoOrganisation(
        OrgKind.cooperative,
        "湄潭县兴隆镇龙凤村茶叶专业合作社",
        "Longfeng Village Tea Cooperative",
        "93",
        2,
        "王建国",
        "兴隆镇",
        "龙凤村",
        "湄潭县兴隆镇龙凤村田家沟组",
        (
            DemoPerson("王建国", "13908520001", Role.owner, "cooperative manager 合作社负责人"),
            DemoPerson("陈芳", "13908520031", Role.manager),
            DemoPerson("周小燕", "13908520013", Role.host, "live-stream host 直播主播"),
        ),
    ),
    DemoOrganisation(
        OrgKind.cooperative,
        "湄潭县两路口村蔬菜种植专业合作社",
        "Lianglukou Village Vegetable Cooperative",
        "93",
        3,
        "刘德明",
        "湄江街道",
        "两路口村",
        "湄潭县湄江街道两路口村",
        (DemoPerson("刘德明", "13908520002", Role.owner),),
    ),
    DemoOrganisation(
        OrgKind.cooperative,
        "湄潭县回龙村辣椒专业合作社",
        "Huilong Village Chili Cooperative",
        "93",
        4,
        "赵光辉",
        "兴隆镇",
        "回龙村",
        "湄潭县兴隆镇回龙村",
        (DemoPerson("赵光辉", "13908520003", Role.owner),),
    ),
    DemoOrganisation(
        OrgKind.family_farm,
        "湄潭县石莲镇李家生态家庭农场",
        "Li Family Eco Farm, Shilian",
        "92",
        5,
        "李永福",
        "石莲镇",
        "牛场村",
        "湄潭县石莲镇牛场村",
        (DemoPerson("李永福", "13908520004", Role.owner),),
    ),
    DemoOrganisation(
        OrgKind.enterprise,
        "贵州湄潭翠芽茶业有限公司",
        "Guizhou Meitan Cuiya Tea Co., Ltd.",
        "91",
        6,
        "杨文华",
        "湄江街道",
        "",
        "湄潭县湄江街道茶城大道 18 号",
        (DemoPerson("杨文华", "13908520005", Role.owner, "leading enterprise 龙头企业"),),
    ),
    DemoOrganisation(
        OrgKind.school,
        "湄潭县湄江中学",
        "Meijiang Middle School, Meitan",
        "12",
        7,
        "张丽",
        "湄江街道",
        "",
        "湄潭县湄江街道象山路 2 号",
        (
            DemoPerson("张丽", "13908520006", Role.owner, "school buyer 学校采购"),
            DemoPerson("周强", "13908520016", Role.inspector, "school inspector 验收员"),
            DemoPerson("吴敏", "13908520026", Role.inspector),
        ),
    ),
    DemoOrganisation(
        OrgKind.school,
        "湄潭县兴隆镇中心小学",
        "Xinglong Town Central Primary School",
        "12",
        8,
        "孙红",
        "兴隆镇",
        "",
        "湄潭县兴隆镇新街",
        (DemoPerson("孙红", "13908520007", Role.owner),),
    ),
    DemoOrganisation(
        OrgKind.supermarket,
        "遵义惠民生鲜超市有限公司",
        "Zunyi Huimin Fresh Supermarket Co., Ltd.",
        "91",
        9,
        "马军",
        "湄江街道",
        "",
        "湄潭县湄江街道天文大道 66 号",
        (DemoPerson("马军", "13908520008", Role.owner, "supermarket buyer 超市采购"),),
    ),
    DemoOrganisation(
        OrgKind.supermarket,
        "贵州黔优超市连锁有限公司湄潭店",
        "Qianyou Supermarket, Meitan Store",
        "91",
        10,
        "何静",
        "湄江街道",
        "",
        "湄潭县湄江街道湄江路 120 号",
        (DemoPerson("何静", "13908520009", Role.owner),),
    ),
    DemoOrganisation(
        OrgKind.trader,
        "遵义黔北茶叶贸易有限公司",
        "Zunyi Qianbei Tea Trading Co., Ltd.",
        "91",
        11,
        "徐峰",
        "湄江街道",
        "",
        "湄潭县中国茶城 C 区 12 号",
        (DemoPerson("徐峰", "13908520010", Role.owner, "tea trader 茶商"),),
    ),
    DemoOrganisation(
        OrgKind.warehouse,
        "中国茶城仓储有限公司",
        "China Tea City Warehousing Co., Ltd.",
        "91",
        12,
        "罗斌",
        "湄江街道",
        "",
        "湄潭县中国茶城物流区",
        (DemoPerson("罗斌", "13908520011", Role.manager, "warehouse keeper 仓库"),),
    ),
    DemoOrganisation(
        OrgKind.exchange,
        "贵州遵义茶叶交易中心",
        "Zunyi Tea Exchange",
        "91",
        13,
        "邓伟",
        "湄江街道",
        "",
        "湄潭县中国茶城交易大厅",
        (
            DemoPerson("郑洁", "13908520012", Role.officer, "exchange officer 交易所监察员"),
            DemoPerson("邓伟", "13908520022", Role.supervisor, "exchange supervisor 交易所主管"),
        ),
    ),
    DemoOrganisation(
        OrgKind.cooperative,
        "湄潭县新建村果蔬专业合作社",
        "Xinjian Village Fruit and Vegetable Cooperative",
        "93",
        14,
        "黄大勇",
        "复兴镇",
        "新建村",
        "湄潭县复兴镇新建村",
        (
            DemoPerson(
                "黄大勇",
                "13908520014",
                Role.owner,
                "cooperative awaiting verification 待审核合作社",
            ),
        ),
        verified=False,
    ),
)


def seed_demo(session: Session) -> int:
    """Create the demo organisations, people, batches and listings that are missing; returns how many
    organisations were created."""
    admin_id = None
    created = 0
    by_serial = {}
    for demo in ORGANISATIONS:
        organisation = session.scalar(
            select(Organisation).where(Organisation.credit_code == demo.credit_code)
        )
        if organisation is None:
            organisation = _create(session, demo, admin_id)
            created += 1
        for person in demo.people:
            if session.scalar(select(User.id).where(User.phone == person.phone)) is None:
                members.add_member(
                    session,
                    organisation_id=organisation.id,
                    name=person.name,
                    phone=person.phone,
                    password=DEMO_PASSWORD,
                    role=person.role,
                )
        if demo.kind == OrgKind.platform:
            admin_id = session.scalar(select(User.id).where(User.phone == demo.people[0].phone))
        by_serial[demo.serial] = organisation
    seed_catalog(session, by_serial)
    seed_orders(session, by_serial, admin_id)
    seed_contracts(session, by_serial, admin_id)
    seed_logistics(session, by_serial)
    seed_live(session, by_serial)
    seed_exchange(session, by_serial)
    return created


def _create(session: Session, demo: DemoOrganisation, admin_id: int | None) -> Organisation:
    details = dict(
        kind=demo.kind,
        name_zh=demo.name_zh,
        name_en=demo.name_en,
        credit_code=demo.credit_code,
        legal_representative=demo.legal_representative,
        contact_phone=demo.people[0].phone,
        town=demo.town,
        village=demo.village,
        address=demo.address,
    )
    if demo.kind not in SELF_REGISTERING_KINDS:
        return organisations.set_up_organisation(session, **details)
    owner = demo.people[0]  # who registers a self-registering organisation becomes its owner
    membership = organisations.register_organisation(
        session, owner_name=owner.name, owner_phone=owner.phone, password=DEMO_PASSWORD, **details
    )
    organisation = membership.organisation
    if demo.verified and organisation.status != VerificationStatus.verified:
        organisations.verify_organisation(
            session, admin_id=admin_id, organisation_id=organisation.id
        )
    return organisation


def demo_sign_ins() -> list[tuple[str, str, str]]:
    """(who, login, organisation) for every account `make run` prints."""
    return [
        (person.shown_as, person.phone, demo.name_zh)
        for demo in ORGANISATIONS
        for person in demo.people
        if person.shown_as
    ]


@click.command("seed-demo")
@click.option(
    "--if-empty", is_flag=True, help="Only seed a database that has no organisations yet."
)
@with_appcontext
def seed_demo_command(if_empty: bool) -> None:
    """Create Meitan's demo organisations and people (safe to run twice)."""
    with transaction() as session:
        if if_empty and session.scalar(select(Organisation.id).limit(1)) is not None:
            click.echo("seed-demo: the database already has organisations; left as it is")
            return
        created = seed_demo(session)
    click.echo(
        f"seed-demo: {created} organisations created; every demo password is {DEMO_PASSWORD}"
    )
