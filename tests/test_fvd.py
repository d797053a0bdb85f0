"""End-to-end tests of the `kpvp_fvd` command (the notebooks 12_fvd, 12_i3d and 12_i3d_weights test the library
and its numbers)."""
import json, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from kpvp_nb.i3d_weights import conformance_weights
from kpvp_nb.video import write_video

PACK = Path(__file__).parent / 'data' / 'fvd_golden_v1.npz'


def _cmd():
    "The installed console script, or the same entry point through this Python."
    exe = shutil.which('kpvp_fvd')
    return [exe] if exe else [sys.executable, '-c', 'from kpvp_nb.cli import fvd_cli; fvd_cli()']


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    "Two folders of 2 GIF videos each (9 frames, 32x32) and the conformance pack's random I3D weights as an .npz."
    d = tmp_path_factory.mktemp('fvd')
    rs = np.random.RandomState(0)
    base = rs.randint(0, 256, size=(4, 9, 8, 8, 3)).astype(np.uint8).repeat(4, axis=2).repeat(4, axis=3)
    for i in range(2):
        write_video(d / 'real' / f'r{i}.gif', base[i])
        write_video(d / 'fake' / f'f{i}.gif', base[2 + i])
    var_shapes = json.loads(str(np.load(PACK)['var_shapes_json']))
    np.savez(d / 'w.npz', **conformance_weights(var_shapes))
    return d


def test_cli_scores_folders_and_reuses_the_cache(folders):
    d = folders
    r = subprocess.run(_cmd() + ['--real', str(d / 'real'), '--fake', str(d / 'fake'), '--weights', str(d / 'w.npz'),
                                 '--cache', str(d / 'real_stats.npz'), '--json', str(d / 'r1.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'FVD ' in r.stdout and 'biased at small N' in r.stdout
    r1 = json.loads((d / 'r1.json').read_text())
    assert (r1['n_real'], r1['n_fake'], r1['n_frames_real'], r1['n_frames_fake']) == (2, 2, 9, 9)
    assert r1['fvd'] > 0 and r1['kvd_std'] is None            # one KVD block: no standard error
    assert (d / 'real_stats.npz').exists()
    # second run: the real statistics come from the cache, --real is not needed
    r = subprocess.run(_cmd() + ['--fake', str(d / 'fake'), '--weights', str(d / 'w.npz'), '--cache', str(d / 'real_stats.npz'),
                                 '--json', str(d / 'r2.json')], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r2 = json.loads((d / 'r2.json').read_text())
    assert r2['fvd'] == pytest.approx(r1['fvd'], rel=1e-12) and r2['n_real'] == 2


def test_cli_explains_bad_input(folders):
    d = folders
    r = subprocess.run(_cmd() + ['--fake', str(d / 'fake'), '--weights', str(d / 'w.npz')], capture_output=True, text=True)
    assert r.returncode == 2 and 'give --real' in r.stderr
    r = subprocess.run(_cmd() + ['--real', str(d / 'nope'), '--fake', str(d / 'fake'), '--weights', str(d / 'w.npz')], capture_output=True, text=True)
    assert r.returncode != 0 and 'no such folder of videos' in r.stderr
    r = subprocess.run(_cmd() + ['--real', str(d / 'real'), '--fake', str(d / 'fake'), '--weights', str(d / 'missing.pt')], capture_output=True, text=True)
    assert r.returncode != 0 and 'no such weights file' in r.stderr
    r = subprocess.run(_cmd() + ['--real', str(d / 'real'), '--fake', str(d / 'fake'), '--weights', str(d / 'w.npz'), '--n-frames', '12'],
                       capture_output=True, text=True)
    assert r.returncode != 0 and 'fewer than --n-frames 12' in r.stderr
