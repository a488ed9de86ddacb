"""The dashboard's entry point: group states."""

from __future__ import annotations

import pytest

from projector import services
from projector.models import ErrorGroup
from tests.projector_support.factories import BASE_MS, event, fingerprint, xadd

pytestmark = [pytest.mark.django_db, pytest.mark.backends]


@pytest.fixture
def groups(make_projector, fake_redis, names):
    xadd(fake_redis, names, [event(1, ts=BASE_MS + i) for i in range(4)] + [event(2, cls="not_found")])
    make_projector().run()
    return {g.fingerprint: g for g in ErrorGroup.objects.all()}


def test_set_state_and_actions(groups):
    group = groups[fingerprint(1)]
    assert services.set_state(group.id, "resolved") is True
    group.refresh_from_db()
    assert group.state == "resolved" and group.state_changed_at is not None
    assert services.set_state(group.id, "resolved") is False  # already so
    assert services.set_state(10**9, "ignored") is False
    assert services.apply_action(group.id, "reopen") is True and services.apply_action(group.id, "ignore") is True
    with pytest.raises(ValueError):
        services.set_state(group.id, "deleted")
    with pytest.raises(ValueError):
        services.apply_action(group.id, "delete")

