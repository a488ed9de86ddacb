import pytest

from tests.webui_support.factories import event, project
from tests.webui_support.fixtures import bugbot_env, staff_client, staff_user, webui_env  # noqa: F401


@pytest.mark.django_db
def test_pages_render(webui_env, staff_client):
    project(webui_env, [event("a"), event("a"), event("b", cls="csrf")])
    for url in ["/errors/", "/errors/?range=30d", "/errors/patterns/", "/errors/known/", "/errors/dead/",
                "/errors/api/series/", "/errors/api/top/", "/errors/api/health/"]:
        r = staff_client.get(url)
        assert r.status_code == 200, (url, r.content[:3000])
    from projector.models import ErrorGroup
    g = ErrorGroup.objects.first()
    r = staff_client.get(f"/errors/patterns/{g.fingerprint}/")
    assert r.status_code == 200
    r = staff_client.get(f"/errors/patterns/{g.fingerprint}/file/")
    assert r.status_code == 200, r.content[:3000]
    print(r.content.decode()[:4000])
