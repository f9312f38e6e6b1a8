"""Vehicle routing with capacities and time windows, by Google OR-Tools, on distances from coordinates.

No map service is reachable, so travel time is the great-circle distance times a road factor at an average
speed. Times are minutes after midnight of the delivery day. A stop the solver cannot fit is dropped (each
stop is optional at a high price), and explain() says why in words a dispatcher can act on.
"""

import math
from dataclasses import dataclass, field

from flask_babel import gettext as _
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

ROAD_FACTOR = 1.3  # roads in the hills of Meitan are longer than the straight line
SPEED_KMH = 40
SERVICE_MINUTES = 10  # unloading and signing at each stop
MAX_WAIT_MINUTES = 12 * 60  # a vehicle may wait for a window to open (waiting costs nothing)
_DROP_PENALTY = 1_000_000  # far above any route's travel time: drop a stop only when it cannot fit


@dataclass(frozen=True)
class VehicleSpec:
    id: int
    capacity_kg: int
    refrigerated: bool
    depot: tuple[float, float]
    shift: tuple[int, int]  # minutes after midnight: leaves the depot from, back by


@dataclass(frozen=True)
class StopSpec:
    id: int
    position: tuple[float, float]
    load_kg: int
    cold: bool
    window: tuple[int, int]
    pinned_to: int | None = None  # a vehicle id the dispatcher chose


@dataclass
class Solution:
    routes: dict[int, list[tuple[int, int]]] = field(
        default_factory=dict
    )  # vehicle -> (stop, arrival)
    unserved: list[int] = field(default_factory=list)
    travel_minutes: dict[int, int] = field(default_factory=dict)  # vehicle -> minutes on the road

    @property
    def total_travel(self) -> int:
        return sum(self.travel_minutes.values())


def travel_minutes(a: tuple[float, float], b: tuple[float, float]) -> int:
    """Minutes from a to b: great-circle kilometres times the road factor, at the average speed."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    km = 2 * 6371 * math.asin(math.sqrt(h))
    return math.ceil(km * ROAD_FACTOR / SPEED_KMH * 60)


def allowed(stop: StopSpec, vehicles: list[VehicleSpec]) -> list[VehicleSpec]:
    """The vehicles that may carry the stop: refrigerated for cold goods, the pinned one if pinned."""
    return [
        vehicle
        for vehicle in vehicles
        if (vehicle.refrigerated or not stop.cold)
        and (stop.pinned_to is None or stop.pinned_to == vehicle.id)
    ]


def solve(
    vehicles: list[VehicleSpec], stops: list[StopSpec], *, time_limit_s: float = 5
) -> Solution:
    """Routes for the vehicles that meet every window and capacity, as short as the time limit allows."""
    if not vehicles or not stops:
        return Solution(unserved=[stop.id for stop in stops])
    places = [vehicle.depot for vehicle in vehicles] + [stop.position for stop in stops]
    depots = list(range(len(vehicles)))
    manager = pywrapcp.RoutingIndexManager(len(places), len(vehicles), depots, depots)
    routing = pywrapcp.RoutingModel(manager)
    matrix = [[travel_minutes(a, b) for b in places] for a in places]
    first_stop = len(vehicles)

    # Time from a place to the next: the drive, plus unloading at a stop (not at a depot). The matrices
    # live in the solver (no Python call per arc), which lets the search try far more routes in its time.
    durations = [
        [minutes + (SERVICE_MINUTES if origin >= first_stop else 0) for minutes in row]
        for origin, row in enumerate(matrix)
    ]
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(matrix))
    routing.AddDimension(
        routing.RegisterTransitMatrix(durations), MAX_WAIT_MINUTES, 24 * 60, False, "time"
    )
    time_dimension = routing.GetDimensionOrDie("time")
    load = routing.RegisterUnaryTransitVector([0] * first_stop + [stop.load_kg for stop in stops])
    routing.AddDimensionWithVehicleCapacity(
        load, 0, [vehicle.capacity_kg for vehicle in vehicles], True, "load"
    )
    for number, vehicle in enumerate(vehicles):
        time_dimension.CumulVar(routing.Start(number)).SetRange(*vehicle.shift)
        time_dimension.CumulVar(routing.End(number)).SetRange(*vehicle.shift)
    for offset, stop in enumerate(stops):
        index = manager.NodeToIndex(first_stop + offset)
        time_dimension.CumulVar(index).SetRange(*stop.window)
        carriers = [vehicles.index(vehicle) for vehicle in allowed(stop, vehicles)]
        if len(carriers) < len(vehicles):  # -1: not on any vehicle, which the disjunction allows
            routing.VehicleVar(index).SetValues([-1, *carriers])
        routing.AddDisjunction([index], _DROP_PENALTY)
    return _read(
        _search(routing, time_limit_s), routing, manager, time_dimension, vehicles, stops, matrix
    )


def _search(routing, time_limit_s: float):
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    # Inserting stops into all routes at once copes best with windows (measured: scripts/bench/dispatch.py).
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    return routing.SolveWithParameters(parameters)


def _read(assignment, routing, manager, time_dimension, vehicles, stops, matrix) -> Solution:
    solution = Solution()
    if assignment is None:
        solution.unserved = [stop.id for stop in stops]
        return solution
    first_stop = len(vehicles)
    served = set()
    for number, vehicle in enumerate(vehicles):
        index, visits, minutes, previous = routing.Start(number), [], 0, number
        while not routing.IsEnd(index := assignment.Value(routing.NextVar(index))):
            node = manager.IndexToNode(index)
            stop = stops[node - first_stop]
            visits.append((stop.id, assignment.Value(time_dimension.CumulVar(index))))
            minutes += matrix[previous][node]
            previous = node
            served.add(stop.id)
        if visits:
            solution.routes[vehicle.id] = visits
            solution.travel_minutes[vehicle.id] = minutes + matrix[previous][number]
    solution.unserved = [stop.id for stop in stops if stop.id not in served]
    return solution


def explain(stop: StopSpec, vehicles: list[VehicleSpec]) -> str:
    """Why a stop could not be served, in words a dispatcher can act on."""
    if not vehicles:
        return _("There are no vehicles: add your trucks on the vehicles page.")
    if stop.cold and not any(vehicle.refrigerated for vehicle in vehicles):
        return _("Its goods need cold chain and no refrigerated vehicle is available.")
    carriers = allowed(stop, vehicles)
    if not carriers:
        return _(
            "The vehicle it is pinned to cannot carry it (cold goods need a refrigerated vehicle)."
        )
    largest = max(vehicle.capacity_kg for vehicle in carriers)
    if stop.load_kg > largest:
        return _(
            "%(load)d kg is more than any vehicle that may carry it holds (the largest: %(largest)d kg).",
            load=stop.load_kg,
            largest=largest,
        )
    earliest = min(
        max(vehicle.shift[0] + travel_minutes(vehicle.depot, stop.position), stop.window[0])
        for vehicle in carriers
    )
    if earliest > stop.window[1]:
        return _(
            "Even leaving the depot at the start of a shift, the first vehicle arrives at %(arrival)s, "
            "after the window closes at %(end)s.",
            arrival=clock(earliest),
            end=clock(stop.window[1]),
        )
    return _(
        "No vehicle has room left within its window (weight or time). Add a vehicle, or move another "
        "stop by hand and plan again."
    )


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def nearest_neighbour(vehicles: list[VehicleSpec], stops: list[StopSpec]) -> tuple[Solution, int]:
    """A simple plan to compare with (for the benchmark): the vehicle that is free first drives to the
    nearest stop it can carry, waiting if it is early, late if it must be, until every stop is visited or
    no vehicle has room. Returns the plan and how many of its arrivals fall inside their windows."""
    solution, left, on_time = Solution(), list(stops), 0
    state = {
        vehicle.id: {"at": vehicle.depot, "now": vehicle.shift[0], "room": vehicle.capacity_kg}
        for vehicle in vehicles
    }
    for vehicle in vehicles:
        solution.routes[vehicle.id], solution.travel_minutes[vehicle.id] = [], 0
    free = list(vehicles)
    while left and free:
        vehicle = min(free, key=lambda v: state[v.id]["now"])
        here = state[vehicle.id]
        fits = [stop for stop in left if allowed(stop, [vehicle]) and stop.load_kg <= here["room"]]
        if not fits:
            free.remove(vehicle)
            continue
        stop = min(fits, key=lambda s: travel_minutes(here["at"], s.position))
        leg = travel_minutes(here["at"], stop.position)
        arrival = max(here["now"] + leg, stop.window[0])
        on_time += arrival <= stop.window[1]
        solution.routes[vehicle.id].append((stop.id, arrival))
        solution.travel_minutes[vehicle.id] += leg
        here.update(
            at=stop.position, now=arrival + SERVICE_MINUTES, room=here["room"] - stop.load_kg
        )
        left.remove(stop)
    for vehicle in vehicles:
        if solution.routes[vehicle.id]:
            solution.travel_minutes[vehicle.id] += travel_minutes(
                state[vehicle.id]["at"], vehicle.depot
            )
    solution.unserved = [stop.id for stop in left]
    return solution, on_time
