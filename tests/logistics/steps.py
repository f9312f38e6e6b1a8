"""Logistics set-ups as tests take them: Meitan's places, a school's canteen, a cooperative's trucks."""

from datetime import time

from app.logistics import services

MEITAN = (27.766, 107.466)  # 湄江街道, where the cooperative's depot is
CANTEEN = (27.772, 107.481)  # 湄江中学, a few minutes away
SUPERMARKET = (27.760, 107.455)
FAR_AWAY = (27.95, 107.80)  # an hour's drive into the hills


def point(session, organisation, name: str, position, start=time(6), end=time(6, 30)):
    return services.save_delivery_point(
        session,
        organisation_id=organisation.id,
        name=name,
        address="",
        latitude=position[0],
        longitude=position[1],
        window_start=start,
        window_end=end,
    )


def truck(session, organisation, name: str, capacity_kg: int = 2000, refrigerated: bool = False):
    return services.save_vehicle(
        session,
        organisation_id=organisation.id,
        name=name,
        capacity_kg=capacity_kg,
        refrigerated=refrigerated,
        depot_latitude=MEITAN[0],
        depot_longitude=MEITAN[1],
        shift_start=time(5, 30),
        shift_end=time(13),
    )
