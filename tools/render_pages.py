"""Render documentation pages to HTML and PNG screenshots without Quarto, for a developer to look at.

A development aid, not part of CI. For each notebook given it
1. runs nbdev's docs pre-processing the way `nbdev_docs` does before Quarto (nbdev's own
   `nbdev.serve_drv.main` with `nbdev.serve.FilterDefaults`, on a copy, into OUT/_work/), so that the
   `show_doc` sections, the added links and the `#| hide` / `#| echo: false` handling are those of the site;
   if that fails it prints a warning and falls back to the raw notebook;
2. converts the result to OUT/NAME.html with nbconvert (the `lab` or `classic` template), cells directed
   `#| hide` / `#| include: false` removed, `#| echo: false` inputs and `#| output: false` outputs dropped,
   and equations typeset by a local MathJax 3 (installed once from npm into ~/.cache/kpvp_render;
   `$...$` and `$$...$$` are its delimiters, as on the site);
3. opens the page in headless Chromium, measures it, and writes the whole page as PNG tiles of at most
   WIDTH x 4000 pixels, OUT/NAME-01.png, OUT/NAME-02.png, ...
It prints one line per page: height, tiles, images (<img>; GIF animations are images), videos (<video>, for MP4
animations) and typeset equations (MathJax elements in the rendered DOM), so that one can tell at a glance that
pictures and equations came out.

This is not the site: Quarto's real rendering differs in theme (cosmo), navbar, sidebar, table of contents,
code folding and callouts, and Quarto's pandoc reads markdown a little differently from nbconvert's mistune.
Never run `nbdev_docs`, `nbdev_preview` or `nbdev_proc_nbs` where Quarto is not installed; for the pre-processing
check that CI runs, use `python tests/check_docs.py`.

Usage: python tools/render_pages.py NB.ipynb [NB.ipynb ...] --out DIR [--width 1280] [--timeout 180]
       [--template lab|classic] [--raw]
Needs: nbdev, nbconvert, Pillow, Chromium (apt-get install chromium), npm the first time (apt-get install -y npm).
"""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

CACHE = Path(os.environ.get('KPVP_RENDER_CACHE', '~/.cache/kpvp_render')).expanduser()
MATHJAX_FILES = ('tex-svg-full.js', 'tex-svg.js', 'tex-chtml-full.js')   # SVG first: needs no web fonts
TILE_H = 4000
SEGMENT_H = int(os.environ.get('KPVP_RENDER_SEGMENT', 4 * TILE_H))   # a multiple of TILE_H
VIRTUAL_TIME_MS = 15000


class Fail(Exception):
    "An error reported as one line."


def die(msg): sys.exit(f"render_pages: {msg}")


def warn(msg): print(f"WARNING: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- tools
def find_chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        exe = shutil.which(name)
        if exe: return exe
    die("Chromium not found on PATH: apt-get install chromium")


def find_mathjax(timeout):
    "The local MathJax 3 script, installed from the npm registry into CACHE on first use."
    es5 = CACHE / 'node_modules' / 'mathjax' / 'es5'
    def found(): return next((es5 / f for f in MATHJAX_FILES if (es5 / f).is_file()), None)
    if found(): return found()
    npm = shutil.which('npm')
    if npm is None: die("npm not found (needed once, to install MathJax 3): apt-get install -y npm")
    print(f"installing MathJax 3 from npm into {CACHE} (once) ...", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run([npm, 'install', '--no-audit', '--no-fund', '--prefix', str(CACHE), 'mathjax@3'],
                           capture_output=True, text=True, timeout=max(timeout, 300))
    except subprocess.TimeoutExpired: die("npm install mathjax@3 timed out")
    if r.returncode != 0 or not found():
        last = (r.stderr.strip().splitlines() or ['no output'])[-1]
        die(f"npm install --prefix {CACHE} mathjax@3 failed: {last}")
    return found()


def project_root(path):
    "The folder holding settings.ini above `path` (nbdev's config, which the pre-processing reads)."
    for d in [path.parent, *path.parent.parents]:
        if (d / 'settings.ini').is_file(): return d
    return None


# ------------------------------------------------------------------------------ 1. nbdev pre-processing
_PROC_CODE = r'''
import sys, io, warnings, contextlib
from pathlib import Path
warnings.filterwarnings('ignore')
src, dst, err = map(Path, sys.argv[1:4])
try:
    import nbdev.serve_drv
    from nbdev.serve import FilterDefaults
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        nbdev.serve_drv.main((src, dst, FilterDefaults))
except BaseException as e:
    first = str(e).strip().split('\n')[0]
    c = e.__cause__
    cause = f" -> {type(c).__name__}: {str(c).strip().splitlines()[0] if str(c).strip() else ''}" if c is not None else ''
    err.write_text(f"{type(e).__name__}: {first}{cause}")
    sys.exit(1)
'''


def nbdev_process(nb, name, work, root, timeout):
    "Run nbdev's docs pre-processing on a copy of `nb`; return (processed notebook, None) or (None, why)."
    if root is None: return None, "no settings.ini above the notebook (not an nbdev project)"
    copy, dst, err = work / 'src' / f"{name}.ipynb", work / 'proc' / f"{name}.ipynb", work / 'proc' / f"{name}.err"
    for d in (copy, dst): d.parent.mkdir(parents=True, exist_ok=True)
    for f in (dst, err): f.unlink(missing_ok=True)
    shutil.copy2(nb, copy)   # a snapshot: the notebook may change while this runs
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
    p = subprocess.Popen([sys.executable, '-c', _PROC_CODE, str(copy), str(dst), str(err)], cwd=root, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: _, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.communicate()
        return None, f"still running after {timeout:.0f} s (a cell that nbdev executes trains or downloads?)"
    if p.returncode == 0 and dst.is_file(): return dst, None
    if err.is_file(): return None, err.read_text().strip()[:400]
    return None, (stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1][:400]


# ---------------------------------------------------------------------------------- 2. HTML (nbconvert)
_MD_ATTR_LINK = re.compile(r'\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}')


def _pandoc_links(md):
    "Pandoc's `[text](url){attr=...}` (show_doc's [source] link) as HTML, which mistune does not read."
    def sub(m):
        attrs = ' '.join(a for a in re.findall(r'[\w-]+="[^"]*"', m.group(3)))
        return f'<a href="{m.group(2)}" {attrs}>{m.group(1)}</a>'
    return _MD_ATTR_LINK.sub(sub, md)


_MD_IMG = re.compile(r'(!\[[^\]\n]*\]\()([^)\s]+)')
_HTML_SRC = re.compile(r'(<(?:img|video|source)\b[^>]*?\bsrc=["\'])([^"\']+)')


def _local_refs(md, folder):
    "Relative picture paths made absolute: the HTML is written elsewhere than the notebook."
    def sub(m):
        ref = m.group(2)
        if re.match(r'^([a-z][\w+.-]*:|/|#)', ref, re.I): return m.group(0)
        f = folder / ref.split('#')[0].split('?')[0]
        return m.group(1) + f.resolve().as_uri() if f.is_file() else m.group(0)
    return _HTML_SRC.sub(sub, _MD_IMG.sub(sub, md))


def _directives(src):
    "Leading `#|` directives of a code cell as {name: value}, and the source without them."
    lines, dirs = src.splitlines(), {}
    i = 0
    while i < len(lines) and (lines[i].strip().startswith('#|') or not lines[i].strip()):
        s = lines[i].strip()[2:].strip()
        if s:
            k, _, v = s.partition(':') if re.match(r'^[\w-]+\s*:', s) else s.partition(' ')
            dirs[k.strip().lower()] = v.strip().strip('"\'').lower()
        i += 1
    return dirs, '\n'.join(lines[i:])


def _false(v): return v in ('false', 'no', '0')


def prepare(nb, processed, folder):
    "Apply the directives the site applies, drop what Quarto would not show, and add the page title."
    cells, counts = [], {'hidden': 0}
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw' and processed and i == 0 and c.source.startswith('---'):
            import yaml   # nbdev's frontmatter: Quarto shows title and description as the page header
            try: fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            except yaml.YAMLError: fm = {}
            head = [f"# {fm['title']}"] if fm.get('title') else []
            if fm.get('description'): head.append(str(fm['description']).strip())
            if head: cells.append(_md_cell('\n\n'.join(head), ['kpvp-title']))
            continue
        if c.cell_type == 'markdown':
            c.source = _local_refs(_pandoc_links(c.source), folder); cells.append(c); continue
        if c.cell_type != 'code': cells.append(c); continue
        dirs, c.source = _directives(c.source)
        hide = 'hide' in dirs or _false(dirs.get('include', '')) or 'default_exp' in dirs
        if hide: counts['hidden'] += 1; continue
        tags = set(c.metadata.get('tags', []))
        if _false(dirs.get('echo', '')): tags.add('kpvp-remove-input')
        if _false(dirs.get('output', '')): c.outputs = []
        if tags: c.metadata['tags'] = sorted(tags)
        for o in c.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if isinstance(md, str): o['data']['text/markdown'] = _local_refs(_pandoc_links(md), folder)
            h = o.get('data', {}).get('text/html')
            if isinstance(h, str): o['data']['text/html'] = _local_refs(h, folder)
        cells.append(c)
    nb.cells = cells
    nb.metadata.pop('widgets', None)   # the widget manager comes from a CDN, out of reach here
    return counts


def _md_cell(src, tags):
    import nbformat
    return nbformat.v4.new_markdown_cell(src, metadata={'tags': tags})


_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_jquery -%}{%- endblock html_head_js_jquery -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
<style>
  main, body.jp-Notebook > main { max-width: 1100px; margin: 0 auto; }
  .celltag_kpvp-title p { font-size: 1.25em; color: #5a5a5a; }   /* Quarto's subtitle under the title */
  .jp-Cell pre { white-space: pre-wrap; overflow-wrap: anywhere; }   /* _quarto.yml: code-overflow: wrap */
  .jp-RenderedMarkdown .highlight pre { font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
    background: var(--jp-cell-editor-background); padding: 6px 8px; line-height: 1.4; }
  .jp-RenderedMarkdown .highlight { margin-bottom: 1em; }
  mjx-container[display="true"] { overflow-x: auto; overflow-y: hidden; }
</style>
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'},
  options: {skipHtmlTags: ['script', 'noscript', 'style', 'textarea', 'pre', 'code']},
  svg: {fontCache: 'global'}
};
window.addEventListener('load', function () {
  function report() {
    var skip = /^(SCRIPT|STYLE|PRE|CODE|TEXTAREA|MJX-CONTAINER)$/, raw = 0;
    var w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, null);
    for (var n = w.nextNode(); n; n = w.nextNode()) {
      var p = n.parentElement, inside = false;
      for (; p; p = p.parentElement) if (skip.test(p.tagName)) { inside = true; break; }
      if (!inside && /\$[^$\s][^$]*\$/.test(n.nodeValue)) raw++;
    }
    var imgs = Array.prototype.slice.call(document.images);
    var d = document.createElement('div');
    d.id = 'kpvp-render-metrics'; d.style.display = 'none';
    d.setAttribute('data-height', Math.max(document.body.scrollHeight, document.documentElement.scrollHeight));
    d.setAttribute('data-images', imgs.length);
    d.setAttribute('data-broken', imgs.filter(function (i) { return !i.complete || !i.naturalWidth; }).length);
    d.setAttribute('data-videos', document.querySelectorAll('video').length);
    d.setAttribute('data-math', document.querySelectorAll('mjx-container').length);
    d.setAttribute('data-math-errors', document.querySelectorAll('mjx-merror, [data-mjx-error]').length);
    d.setAttribute('data-raw-dollars', raw);
    d.setAttribute('data-mathjax', (window.MathJax && window.MathJax.version) || 'not loaded');
    document.body.appendChild(d);
    var top = /kpvp-scroll=(\d+)/.exec(location.hash);   // render_pages.py shoots tall pages in segments
    if (top) document.documentElement.style.transform = 'translateY(-' + parseInt(top[1], 10) + 'px)';
  }
  var ready = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
  if (ready) ready.then(report, report); else report();
});
</script>
<script id="MathJax-script" src="{{ resources.mathjax_url }}"></script>
{%- endblock html_head_js_mathjax -%}
"""


def to_html(nb_path, processed, template, mathjax, folder):
    "The notebook as one HTML page (str), and how many cells were hidden."
    import nbformat, jinja2
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    nb = nbformat.reads(Path(nb_path).read_text(encoding='utf-8'), as_version=4)
    counts = prepare(nb, processed, folder)
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'kpvp-remove-input'}
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    ex = HTMLExporter(config=c, template_name=template, template_file='kpvp_render.html.j2',
                      extra_loaders=[jinja2.DictLoader({'kpvp_render.html.j2': _TEMPLATE})])
    ex.mathjax_url = mathjax.as_uri()
    title = Path(nb_path).stem
    body, _ = ex.from_notebook_node(nb, resources={'metadata': {'name': title}})
    return body, counts


# ----------------------------------------------------------------------------- 3. Chromium screenshots
def chromium(exe, url, width, height, timeout, profile, *extra):
    cmd = [exe, '--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--mute-audio',
           f'--virtual-time-budget={VIRTUAL_TIME_MS}', f'--window-size={width},{height}',
           f'--user-data-dir={profile}', '--host-resolver-rules=MAP * ~NOTFOUND',   # no network: fail fast
           '--no-first-run', '--disable-extensions', *extra, url]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.communicate()
        raise Fail(f"Chromium still running after {timeout:.0f} s")
    if p.returncode != 0:
        lines = [l for l in err.strip().splitlines() if 'ERROR' in l or 'FATAL' in l] or err.strip().splitlines()
        raise Fail(f"Chromium exited with status {p.returncode}: {(lines or ['no output'])[-1][:200]}")
    return out


def measure(exe, url, width, timeout, profile):
    "Height and counts, read back from the div the page's own script adds once MathJax is done."
    dom = chromium(exe, url, width, 900, timeout, profile, '--dump-dom')
    m = re.search(r'<div id="kpvp-render-metrics"([^>]*)>', dom)
    if not m: raise Fail("the page did not report its size (its script did not run within the virtual time budget)")
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', m.group(1)))


def screenshot(exe, url, width, height, out_stem, timeout, profile):
    "The whole page as PNG tiles of at most width x TILE_H; returns their paths."
    from PIL import Image
    for old in out_stem.parent.glob(out_stem.name + '-[0-9][0-9].png'): old.unlink()
    tiles = []
    for top in range(0, height, SEGMENT_H):   # one Chromium window per segment: very tall windows may fail
        h = min(SEGMENT_H, height - top)
        seg = out_stem.parent / '_work' / f"{out_stem.name}-segment.png"
        seg.unlink(missing_ok=True)
        chromium(exe, url + (f'#kpvp-scroll={top}' if top else ''), width, h, timeout, profile, f'--screenshot={seg}')
        if not seg.is_file(): raise Fail("Chromium wrote no screenshot")
        with Image.open(seg) as im:
            im.load()
            if im.height < h: warn(f"{out_stem.name}: a segment came out {im.height} px high, not {h}")
            for y in range(0, im.height, TILE_H):
                t = out_stem.parent / f"{out_stem.name}-{len(tiles) + 1:02d}.png"
                im.crop((0, y, im.width, min(y + TILE_H, im.height))).save(t, optimize=True)
                tiles.append(t)
        seg.unlink()
    return tiles


# ------------------------------------------------------------------------------------------------ main
def render(nb, out, a, exe, mathjax, name):
    work = out / '_work'
    processed, why = (None, 'skipped (--raw)') if a.raw else nbdev_process(nb, name, work, project_root(nb), a.timeout)
    if processed is None and not a.raw:
        warn(f"{nb}: nbdev's docs pre-processing failed, so this is the raw notebook (no show_doc sections, "
             f"exported code shown as it is); tests/check_docs.py runs the same check: {why}")
    src = processed or nb
    html, counts = to_html(src, processed is not None, a.template, mathjax, nb.parent)
    page = out / f"{name}.html"
    page.write_text(html, encoding='utf-8')
    with tempfile.TemporaryDirectory(prefix='kpvp_render_chromium_') as profile:
        m = measure(exe, page.resolve().as_uri(), a.width, a.timeout, profile)
        height = max(1, int(float(m.get('height', '1'))))
        tiles = screenshot(exe, page.resolve().as_uri(), a.width, height, out / name, a.timeout, profile)
    return page, tiles, height, m, processed is not None, counts


def summary(height, tiles, m, counts):
    "One line: size, pictures, equations, and anything that looks wrong."
    def n(k): return m.get(k, '?')
    parts = [f"{height} px high in {len(tiles)} tile(s)", f"{n('images')} images", f"{n('math')} MathJax elements"]
    if n('broken') not in ('0', '?'): parts[1] += f" ({n('broken')} not loaded: remote?)"
    if n('videos') not in ('0', '?'): parts.insert(2, f"{n('videos')} videos")
    if n('math-errors') not in ('0', '?'): parts.append(f"{n('math-errors')} TeX errors")
    if n('raw-dollars') not in ('0', '?'): parts.append(f"{n('raw-dollars')} text runs with $...$ left untypeset")
    if not n('mathjax').startswith('3'): parts.append(f"MathJax {n('mathjax')}")
    if counts['hidden']: parts.append(f"{counts['hidden']} hidden cells removed")
    return ', '.join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='+', type=Path, help='notebooks to render (e.g. nbs/index.ipynb)')
    p.add_argument('--out', type=Path, required=True, help='folder for the HTML pages and PNG tiles')
    p.add_argument('--width', type=int, default=1280, help='page width in pixels (default 1280)')
    p.add_argument('--timeout', type=float, default=180,
                   help="seconds allowed for nbdev's pre-processing of one notebook and for each Chromium run "
                        "(default 180)")
    p.add_argument('--template', choices=('lab', 'classic'), default='lab', help="nbconvert template (default lab)")
    p.add_argument('--raw', action='store_true', help="skip nbdev's pre-processing: render the notebooks as they are")
    a = p.parse_args(argv)
    if a.width < 200 or a.width > 4000: die("--width must be between 200 and 4000")
    import importlib.util
    absent = [m for m in ('nbconvert', 'nbformat', 'PIL', 'jinja2') + (() if a.raw else ('nbdev',)) if importlib.util.find_spec(m) is None]
    if absent: die(f"{absent[0]} is not installed: pip install nbdev nbconvert pillow")
    missing = [str(n) for n in a.notebooks if not n.is_file() or n.suffix != '.ipynb']
    if missing: die(f"not a notebook file: {', '.join(missing)}")
    exe = find_chromium()
    mathjax = find_mathjax(a.timeout)
    out = a.out.expanduser()
    (out / '_work').mkdir(parents=True, exist_ok=True)
    names, bad, t0 = set(), [], time.time()
    for nb in a.notebooks:
        name = nb.stem
        if name in names: name = f"{nb.parent.name}_{nb.stem}"   # e.g. two index.ipynb
        names.add(name)
        t = time.time()
        try: page, tiles, h, m, proc, counts = render(nb.resolve(), out, a, exe, mathjax, name)
        except Fail as e:
            print(f"FAIL {nb}: {e}", flush=True); bad.append(str(nb)); continue
        except Exception as e:
            msg = str(e).strip().splitlines()
            print(f"FAIL {nb}: {type(e).__name__}: {msg[0] if msg else ''}", flush=True); bad.append(str(nb)); continue
        print(f"  {page}")
        for f in tiles: print(f"  {f}")
        print(f"{'ok ' if proc or a.raw else 'RAW'} {nb}: {summary(h, tiles, m, counts)} "
              f"[{'nbdev-processed' if proc else 'raw notebook'}, {time.time() - t:.0f} s]", flush=True)
    print(f"render_pages: {len(a.notebooks) - len(bad)} of {len(a.notebooks)} pages rendered into {out} "
          f"in {time.time() - t0:.0f} s", flush=True)
    if bad: sys.exit(1)


if __name__ == '__main__': main()
