"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does with Quarto, which is not always at hand).

Run `python tests/make_readme.py` after editing index.ipynb; tests/test_readme.py checks they agree."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = 'https://kpvp-nb.github.io/kpvp_nb/'

def readme_text() -> str:
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src)
        elif not src.lstrip().startswith('#|'): parts.append(f'```python\n{src}\n```')
    md = '\n\n'.join(parts)
    md = re.sub(r'\]\((?!https?:)([\w/.-]+)\.ipynb\)', lambda m: f']({DOCS}{m.group(1)}.html)', md)
    return '<!-- Generated from nbs/index.ipynb by tests/make_readme.py: edit the notebook, not this file. -->\n\n' + md.strip() + '\n'

if __name__ == '__main__':
    (ROOT / 'README.md').write_text(readme_text())
    print('wrote', ROOT / 'README.md')
