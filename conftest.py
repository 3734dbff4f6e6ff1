"""Repository-wide pytest settings for the notebooks run by nbval."""


def pytest_collectstart(collector):
    # Warnings and progress bars go to stderr; their wording depends on library versions, not on our maths.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
