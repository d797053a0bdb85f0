"""Checks of the exported library's code, run by tests/run_all.sh (and so by .ci/run):

1. pyflakes: no unused imports or variables, no undefined names;
2. duplication: no run of RUN or more consecutive code lines appears twice in the library
   (lines compared with their indentation and trailing comments stripped, blank, comment-only and import
   lines skipped, and so are parameter declarations `name:type=default,` of signatures, and runs made only of trivial lines such as `else:` or `)` ignored);
3. line length: reports the lines over the house limit (110 columns) and fails above --max-long of them.

    python tests/check_library.py [--run 6] [--max-long N]
"""
import argparse, collections, hashlib, re, subprocess, sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / 'kpvp_nb'
TRIVIAL = re.compile(r"^(else:|try:|finally:|\)+:?|\]+|\}+|return|pass|break|continue|@torch\.no_grad\(\)|[)\]}]+,?)$")

def code_lines(path):
    "(line number, normalised text) of every line of `path` that carries code."
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        s = re.sub(r"\s+#(?![^'\"]*['\"]\s*[,)]).*$", '', line).strip()   # drop a trailing comment (not a '#' inside a string)
        if not s or s.startswith('#') or re.match(r'(from \S+ )?import ', s): continue   # imports are not logic
        if re.match(r'^\*{0,2}\w+(:[^=]+)?(=[^=].*)?,$', s) and not re.match(r'^\w+ *=', s): continue   # a parameter declaration, one per line
        out.append((n, s))
    return out

def duplicates(files, run:int=6):
    "Runs of `run` normalised lines found in more than one place: {hash: [(file, first line, last line), ...]}."
    seen = collections.defaultdict(list)
    for f in files:
        ls = code_lines(f)
        for i in range(len(ls) - run + 1):
            win = [t for _, t in ls[i:i + run]]
            if sum(not TRIVIAL.match(t) for t in win) < run - 1: continue
            h = hashlib.sha1('\n'.join(win).encode()).hexdigest()
            seen[h].append((f, ls[i][0], ls[i + run - 1][0]))
    dups = {}
    for h, places in seen.items():
        distinct = []
        for p in places:                                   # overlapping windows of one repeated block count once
            if not any(q[0] == p[0] and q[1] <= p[2] and p[1] <= q[2] for q in distinct): distinct.append(p)
        if len(distinct) > 1: dups[h] = distinct
    return dups

def main(argv=None):
    ap = argparse.ArgumentParser(description='pyflakes, duplication and line lengths of the exported library')
    ap.add_argument('--run', type=int, default=6, help='shortest repeated run of code lines that fails (default 6)')
    ap.add_argument('--width', type=int, default=110, help='the house line limit (default 110)')
    ap.add_argument('--max-long', type=int, default=None, help='fail when more lines than this exceed --width')
    a = ap.parse_args(argv)
    files = sorted(p for p in LIB.glob('*.py') if p.name != '_modidx.py')
    ok = True
    r = subprocess.run([sys.executable, '-m', 'pyflakes', *map(str, files)], capture_output=True, text=True)
    if r.stdout.strip() or r.returncode:
        ok = False; print('pyflakes:\n' + (r.stdout or r.stderr))
    else: print(f'pyflakes: clean ({len(files)} modules)')
    dups = duplicates(files, a.run)
    if dups:
        ok = False
        for places in dups.values():
            print(f'duplicated run of {a.run} lines: ' + '; '.join(f'{p.name}:{lo}-{hi}' for p, lo, hi in places))
    else: print(f'duplication: no run of {a.run} code lines appears twice')
    long_ = [(p.name, n, len(l)) for p in files for n, l in enumerate(p.read_text().splitlines(), 1) if len(l) > a.width]
    total = sum(len(p.read_text().splitlines()) for p in files)
    print(f'line length: {len(long_)} of {total} lines exceed {a.width} columns'
          + (f' (longest {max(x[2] for x in long_)}: {max(long_, key=lambda x: x[2])[0]})' if long_ else ''))
    if a.max_long is not None and len(long_) > a.max_long: ok = False; print(f'  more than --max-long {a.max_long}')
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
