from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.auth import OrgKind
from app.db import LOCAL_TIME, local_date, utcnow
from app.errors import Conflict
from app.events import Event
from app.logistics import dispatch
from app.orders.models import Order, OrderStatus
from app.orders.services import Delivery
from tests.factories import ListingFactory, OrganisationFactory, UserFactory
from tests.logistics.steps import CANTEEN, FAR_AWAY, SUPERMARKET, point, truck
from tests.orders.steps import checkout, credit

TOMORROW = local_date(utcnow()) + timedelta(days=1)


@pytest.fixture
def coop(session):
    return OrganisationFactory(kind=OrgKind.cooperative, name_zh="两路口蔬菜合作社")


@pytest.fixture
def dispatcher(session):
    return UserFactory()


@pytest.fixture
def goods(session, coop):
    """Cabbage (no cold chain) and lettuce (cold chain) from the cooperative."""
    return (
        ListingFactory(seller=coop, product_code="chinese_cabbage", price_fen=240, quantity=10_000),
        ListingFactory(seller=coop, product_code="lettuce", price_fen=600, quantity=10_000),
    )


def buyer_at(session, kind, name, position, window):
    buyer = OrganisationFactory(kind=kind, name_zh=name)
    credit(session, buyer.id, 10_000_000)
    point(session, buyer, name, position, start=window[0], end=window[1])
    return buyer


def order_for(session, buyer, lines, window, name=None):
    delivery = Delivery(name or buyer.name_zh, TOMORROW, window[0], window[1])
    return checkout(session, buyer, UserFactory().id, lines, delivery=delivery).orders[0]


def test_tomorrows_orders_become_one_stop_per_buyer_on_trucks_that_meet_every_window(
    session, coop, goods, dispatcher
):
    cabbage, lettuce = goods
    school = buyer_at(session, OrgKind.school, "湄江中学食堂", CANTEEN, (time(6), time(6, 30)))
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    first = order_for(session, school, [(cabbage, 200)], (time(6), time(6, 30)))
    second = order_for(session, school, [(cabbage, 100)], (time(6), time(6, 30)))
    cold = order_for(session, shop, [(lettuce, 50)], (time(8), time(10)))
    dry = truck(session, coop, "普通货车", capacity_kg=2000)
    cooled = truck(session, coop, "冷藏车", capacity_kg=800, refrigerated=True)
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    stops = {stop.point_name: stop for stop in plan.stops}
    assert len(plan.stops) == 2  # the school's two orders ride together
    canteen = stops["湄江中学食堂"]
    assert sorted(canteen.orders) == sorted([first.id, second.id]) and canteen.load_kg == 300
    assert stops["惠民生鲜"].vehicle_id == cooled.id  # lettuce needs the cold chain
    assert canteen.vehicle_id in (dry.id, cooled.id)
    for stop in plan.stops:
        local = stop.eta.astimezone(LOCAL_TIME).time()
        assert stop.window_start <= local <= stop.window_end, (stop.point_name, local)
    assert cold.id in stops["惠民生鲜"].orders


def test_a_stop_that_cannot_be_reached_in_its_window_is_named_with_the_reason(
    session, coop, goods, dispatcher
):
    cabbage, _lettuce = goods
    hills = buyer_at(session, OrgKind.school, "山区小学", FAR_AWAY, (time(5, 30), time(5, 45)))
    order_for(session, hills, [(cabbage, 50)], (time(5, 30), time(5, 45)))
    truck(session, coop, "普通货车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    [stop] = plan.stops
    assert stop.vehicle_id is None
    assert "05:45" in stop.unserved_reason  # it names the window it cannot meet


def test_cold_goods_with_no_refrigerated_truck_are_left_unserved_saying_so(
    session, coop, goods, dispatcher
):
    _cabbage, lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(lettuce, 20)], (time(8), time(10)))
    truck(session, coop, "普通货车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    assert plan.stops[0].vehicle_id is None
    assert plan.stops[0].unserved_reason  # "needs cold chain and no refrigerated vehicle"


def test_a_delivery_point_without_a_map_position_is_explained(session, coop, goods, dispatcher):
    cabbage, _lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(cabbage, 20)], (time(8), time(10)), name="新开的分店")
    truck(session, coop, "普通货车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    assert "新开的分店" in plan.stops[0].unserved_reason


def test_a_stop_moved_by_hand_stays_on_its_truck_when_the_plan_is_made_again(
    session, coop, goods, dispatcher
):
    cabbage, _lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(cabbage, 20)], (time(8), time(10)))
    truck(session, coop, "一号车")
    second = truck(session, coop, "二号车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    dispatch.move_stop(
        session,
        organisation_id=coop.id,
        actor_id=dispatcher.id,
        stop_id=plan.stops[0].id,
        vehicle_id=second.id,
    )
    again = dispatch.plan_day(
        session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW
    )
    assert again.stops[0].vehicle_id == second.id and again.stops[0].pinned


def test_the_driver_departs_arrives_late_and_delivers_and_both_sides_are_told(
    session, coop, goods, dispatcher
):
    cabbage, _lettuce = goods
    school = buyer_at(session, OrgKind.school, "湄江中学食堂", CANTEEN, (time(6), time(6, 30)))
    order = order_for(session, school, [(cabbage, 100)], (time(6), time(6, 30)))
    truck(session, coop, "普通货车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    [route] = plan.routes
    dispatch.depart(session, organisation_id=coop.id, actor_id=dispatcher.id, route_id=route.id)
    assert session.get(Order, order.id).status == OrderStatus.shipped
    with pytest.raises(Conflict):
        dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    at_06_50 = datetime.combine(TOMORROW, time(6, 50), LOCAL_TIME)
    stop = dispatch.arrive(
        session,
        organisation_id=coop.id,
        actor_id=dispatcher.id,
        stop_id=plan.stops[0].id,
        now=at_06_50,
    )
    assert stop.late
    told = session.scalars(select(Event).where(Event.kind == "delivery.late")).all()
    assert {event.organisation_id for event in told} == {school.id, coop.id}
    dispatch.deliver(session, organisation_id=coop.id, actor_id=dispatcher.id, stop_id=stop.id)
    assert session.get(Order, order.id).status == OrderStatus.delivered


def test_a_dispatcher_cannot_move_another_cooperatives_stops(session, coop, goods, dispatcher):
    cabbage, _lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(cabbage, 20)], (time(8), time(10)))
    truck(session, coop, "一号车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    from app.errors import NotFound

    other = OrganisationFactory(kind=OrgKind.cooperative)
    with pytest.raises(NotFound):
        dispatch.move_stop(
            session,
            organisation_id=other.id,
            actor_id=dispatcher.id,
            stop_id=plan.stops[0].id,
            vehicle_id=None,
        )


def test_orders_for_different_windows_at_one_gate_are_separate_stops(
    session, coop, goods, dispatcher
):
    cabbage, _lettuce = goods
    school = buyer_at(session, OrgKind.school, "湄江中学食堂", CANTEEN, (time(6), time(6, 30)))
    order_for(session, school, [(cabbage, 100)], (time(6), time(6, 30)))
    order_for(session, school, [(cabbage, 50)], (time(11), time(11, 30)))
    truck(session, coop, "普通货车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    etas = sorted(stop.eta.astimezone(LOCAL_TIME).time() for stop in plan.stops)
    assert len(plan.stops) == 2 and etas[0] <= time(6, 30) and etas[1] >= time(11)


def test_with_no_vehicles_every_stop_says_so(session, coop, goods, dispatcher):
    cabbage, _lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(cabbage, 20)], (time(8), time(10)))
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    assert (
        "no vehicles" in plan.stops[0].unserved_reason
        or "没有车辆" in plan.stops[0].unserved_reason
    )


def test_a_stop_cannot_be_marked_arrived_before_its_vehicle_leaves(
    session, coop, goods, dispatcher
):
    cabbage, _lettuce = goods
    shop = buyer_at(session, OrgKind.supermarket, "惠民生鲜", SUPERMARKET, (time(8), time(10)))
    order_for(session, shop, [(cabbage, 20)], (time(8), time(10)))
    truck(session, coop, "一号车")
    plan = dispatch.plan_day(session, organisation_id=coop.id, actor_id=dispatcher.id, day=TOMORROW)
    with pytest.raises(Conflict):
        dispatch.arrive(
            session, organisation_id=coop.id, actor_id=dispatcher.id, stop_id=plan.stops[0].id
        )
