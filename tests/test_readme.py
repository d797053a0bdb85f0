"""The README is the home page notebook, and its two commands are the ones that CI runs."""
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from make_readme import readme_text

def sh_blocks(text):
    return [b.strip() for b in re.findall(r'```sh\n(.*?)```', text, re.S)]

def test_readme_is_generated_from_index():
    assert (ROOT / 'README.md').read_text() == readme_text(), "README.md is stale: run `python tests/make_readme.py`"
    for name in re.findall(r'\]\(nbs/images/(index_\w+\.png)\)', readme_text()):
        assert (ROOT / 'nbs' / 'images' / name).is_file(), f"nbs/images/{name} is missing: run `python tests/make_readme.py`"

def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one():
    blocks = sh_blocks((ROOT / 'README.md').read_text())
    assert len(blocks) == 2, blocks
    demo, tests = blocks
    assert 'kpvp_demo' in demo and 'pip install' in demo
    assert 'run_all.sh' in tests and '[dev]' in tests
    ci = (ROOT / '.ci' / 'run').read_text()
    # CI runs in the clone already: the command after `cd kpvp_nb &&` must be in .ci/run verbatim
    assert tests.split('cd kpvp_nb && ', 1)[1] in ci

def test_console_scripts_exist():
    import configparser, importlib
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    for entry in cfg['DEFAULT']['console_scripts'].split():
        name, target = entry.split('=')
        mod, fn = target.split(':')
        assert callable(getattr(importlib.import_module(mod), fn)), entry
