"""The simulated memristor's per-state caches keep only recently used states, so a run
that visits ever new states (a long pulse train) does not grow memory with them."""
from labqc.instruments.sim.memristor_iv import LastUsed


def test_the_least_recently_used_entry_goes_first():
    cache = LastUsed(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1          # "a" is now the most recent
    cache["c"] = 3
    assert list(cache) == ["a", "c"]
    assert cache.get("b") is None and cache.get("b", 0) == 0


def test_a_cache_never_holds_more_than_its_size():
    cache = LastUsed(64)
    for n in range(10_000):
        cache[(n % 7, n * 0.001)] = n
    assert len(cache) == 64
    assert cache.get((9_999 % 7, 9.999)) == 9_999
