"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does with Quarto, which is not always at hand).

Run `python tests/make_readme.py` after editing index.ipynb; tests/test_readme.py checks they agree."""
import base64, hashlib, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = 'https://kpvp-nb.github.io/kpvp_nb/'

def cell_pictures(c) -> list:
    "The PNG outputs of a code cell, as (file name, bytes); the name holds the content's hash, so a new picture is a new file."
    out = []
    for o in c.get('outputs', []):
        if 'image/png' in o.get('data', {}):
            b = base64.b64decode(o['data']['image/png'])
            out.append((f"index_{hashlib.sha256(b).hexdigest()[:12]}.png", b))
    return list(dict(out).items())                                     # a picture shown twice (display + result) once

def readme_text(write_images:bool=False) -> str:
    "The README's text; `write_images` also writes the pictures it links to under nbs/images/."
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    parts = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src)
        elif '#| echo: false' in src:                                  # a picture cell: its picture, not its code
            for name, b in cell_pictures(c):
                if write_images: (ROOT / 'nbs' / 'images').mkdir(exist_ok=True); (ROOT / 'nbs' / 'images' / name).write_bytes(b)
                parts.append(f'![predictions of the shipped model](nbs/images/{name})')
        elif not src.lstrip().startswith('#|'): parts.append(f'```python\n{src}\n```')
    md = '\n\n'.join(parts)
    md = re.sub(r'\]\((?!https?:)([\w/.-]+)\.ipynb\)', lambda m: f']({DOCS}{m.group(1)}.html)', md)
    return '<!-- Generated from nbs/index.ipynb by tests/make_readme.py: edit the notebook, not this file. -->\n\n' + md.strip() + '\n'

if __name__ == '__main__':
    (ROOT / 'README.md').write_text(readme_text(write_images=True))
    print('wrote', ROOT / 'README.md')
