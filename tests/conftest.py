"""pytest setup: tests marked `slow` run only when asked for (`pytest -m slow tests`)."""
import pytest

def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: heavy tests, run with `pytest -m slow tests`')

def pytest_collection_modifyitems(config, items):
    if 'slow' in (config.option.markexpr or ''): return
    skip = pytest.mark.skip(reason='slow: run with `pytest -m slow tests`')
    for it in items:
        if 'slow' in it.keywords: it.add_marker(skip)
