import pytest

from projector.models import ErrorGroup, ErrorLog
from tests.projector_support.factories import BASE_MS, counts, event, expected, xadd


@pytest.mark.django_db
def test_loop_counts_everything(make_projector, fake_redis, names):
    evs = [event(i % 5, ts=BASE_MS + i * 1000) for i in range(50)]
    xadd(fake_redis, names, evs)
    p = make_projector()
    assert p.run() == 0
    assert counts() == expected(evs)
    assert ErrorLog.objects.count() == 50
    print(p.stats)
