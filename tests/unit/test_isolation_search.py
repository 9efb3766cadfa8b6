"""Poison isolation's search (find_poison): which places it finds and the probes it makes, each
a Spark job in the job, so the count is pinned with literal values."""

from moviestream.pipeline.isolation import find_poison


class Probes:
    """A fake judging that raises for any range holding a poisoned place, skipped places left out
    as the job's probes leave them out; it records every range it was asked about."""

    def __init__(self, poisoned: set[int], skip: frozenset[int] = frozenset()) -> None:
        self.poisoned, self.skip, self.asked = poisoned, skip, []

    def __call__(self, lo: int, hi: int) -> BaseException | None:
        self.asked.append((lo, hi))
        hit = sorted(p for p in self.poisoned - self.skip if lo <= p < hi)
        return ValueError(f"poison at {hit[0]}") if hit else None


def test_two_poisoned_places_in_sixty_take_nineteen_probes_none_twice():
    probes = Probes({7, 40})
    found = find_poison(0, 60, [], probes, budget=100)
    assert [(place, str(error)) for place, error in found] == [(7, "poison at 7"), (40, "poison at 40")]
    assert probes.asked == [
        (0, 60), (0, 30), (0, 15), (0, 7), (7, 11), (7, 9), (7, 8), (8, 9), (9, 11), (11, 15),
        (15, 30), (30, 60), (30, 45), (30, 37), (37, 41), (37, 39), (39, 40), (41, 45), (45, 60),
    ]  # fmt: skip
    assert len(set(probes.asked)) == len(probes.asked)


def test_a_range_known_to_raise_is_not_probed_again():
    probes = Probes({3})
    found = find_poison(0, 8, [], probes, budget=100, failure=RuntimeError("the batch raised"))
    assert [place for place, _ in found] == [3]
    # (2, 4) and (3, 4) are known to raise once their left halves judged fine: no probe
    assert probes.asked == [(0, 4), (0, 2), (2, 3), (4, 8)]


def test_halves_are_cut_at_the_kinesis_record_edge_nearest_the_middle():
    probes = Probes({9})
    found = find_poison(0, 12, [5, 9], probes, budget=100)
    assert [place for place, _ in found] == [9]
    assert probes.asked == [(0, 12), (0, 5), (5, 9), (9, 10), (10, 12)]


def test_places_already_isolated_are_neither_probed_alone_nor_found_again():
    skip = frozenset({2, 3})
    probes = Probes({2, 3, 6}, skip)
    found = find_poison(0, 8, [], probes, budget=100, skip=skip)
    assert [place for place, _ in found] == [6]
    assert (2, 3) not in probes.asked and (3, 4) not in probes.asked
    assert probes.asked == [(0, 8), (0, 4), (4, 6), (6, 7), (7, 8)]


def test_the_search_stops_once_past_its_budget():
    probes = Probes({1, 4, 6})
    found = find_poison(0, 8, [], probes, budget=1)
    assert [place for place, _ in found] == [1, 4]  # two found: past a budget of one
    assert (6, 7) not in probes.asked


def test_nothing_raising_costs_one_probe():
    probes = Probes(set())
    assert find_poison(0, 500, [], probes, budget=10) == []
    assert probes.asked == [(0, 500)]
