"""Repository-wide pytest settings for the notebooks run by nbval."""


def pytest_collectstart(collector):
    # Warnings and progress bars go to stderr; their wording depends on library versions, not on our maths.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


import asyncio  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _outside_any_event_loop(request):
    """Playwright's sync API (tests/browser, which run first) leaves its event loop marked as running in this
    thread. A widget would then take the test process for a kernel and defer its frames to a loop that never
    runs, so every test but the browser ones starts outside any loop, and the loop is put back afterwards."""
    if request.node.get_closest_marker("browser") or "tests/browser/" in request.node.nodeid:
        yield
        return
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)
