"""What a user installs: dependencies where they are expected, notebooks that install a pinned release on Colab."""
import configparser, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CFG = configparser.ConfigParser(delimiters=['=']); CFG.read(ROOT / 'settings.ini')
CFG = CFG['DEFAULT']


def test_library_never_imports_notebook_only_packages():
    assert 'scikit-video' not in CFG['requirements'].split() and 'scikit-video' in CFG['tutorials_requirements'].split()
    hits = [p.name for p in (ROOT / 'kpvp_nb').rglob('*.py') if re.search(r'^\s*(import|from)\s+skvideo', p.read_text(), re.M)]
    assert hits == [], hits


def test_colab_install_cells_are_pinned_to_this_version():
    tag = f"@v{CFG['version']}"
    for nb in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        if '.ipynb_checkpoints' in nb.parts or nb.name == 'index.ipynb': continue
        cells = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']
        colab = [c for c in cells if 'google.colab' in c and 'pip' in c]
        assert colab, f"{nb.name}: no Colab install cell"
        for c in colab:
            urls = re.findall(r'git\+https://github\.com/kpvp-nb/kpvp_nb\.git(@[\w.]+)?', c)
            assert urls and all(u == tag for u in urls), f"{nb.name}: the Colab install is not pinned to {tag}: {c!r}"


def test_links_between_notebooks_are_absolute():
    # relative links break inside Colab, which opens one notebook alone
    bad = []
    for nb in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            if c['cell_type'] == 'markdown':
                bad += [f"{nb.name}: {m}" for m in re.findall(r'\]\((?!https?:|#)[^)\s]*\.ipynb[^)]*\)', ''.join(c['source']))]
    assert bad == [], bad
