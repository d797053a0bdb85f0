"""Stage 1 end to end through its commands: make data, train, resume, evaluate to JSON."""
import json, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch

def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout

def test_train_resume_and_evaluate(tmp_path):
    data, out = tmp_path / 'data', tmp_path / 'run'
    run('kpvp_make_synthetic', '--out', str(data), '--videos', '14', '--size', '32', '--n-frames', '16', '--seed', '3', '--quiet')
    common = ['--data', str(data), '--run', str(out), '--preset', 'cpu', '--size', '32', '--n-kp', '4', '--width', '0.125', '--batch-size', '4']
    run('kpvp_train_keypoints', *common, '--steps', '3', '--same-p', '0.25')
    assert json.loads((out / 'config.json').read_text())['same_p'] == 0.25          # still pairs, saved with the run
    # an existing run is never overwritten by accident
    r = subprocess.run(['kpvp_train_keypoints', *common, '--steps', '6'], capture_output=True, text=True)
    assert r.returncode != 0 and 'pass resume=True' in r.stderr
    run('kpvp_train_keypoints', *common, '--steps', '6', '--resume')
    log = (out / 'log.csv').read_text().splitlines()
    assert [int(float(l.split(',')[0])) for l in log[1:]][-1] == 6
    js = tmp_path / 'scores.json'
    txt = run('kpvp_eval_keypoints', '--run', str(out), '--data', str(data), '--json', str(js), '--n-pairs', '16')
    res = json.loads(js.read_text())
    for k in ('kp_error', 'kp_error_mean_pose', 'kp_error_untrained', 'recon_l1', 'recon_l1_copy'):
        assert np.isfinite(res[k]), k
    assert 'baseline: mean pose' in txt
    # the copy baseline is the plain L1 between the held-out pairs' frames
    from kpvp_nb.data import VideoFolder, FramePairs
    ds = FramePairs(VideoFolder(data, 'test'), 32, train=False, seed=0)
    l1 = np.mean([(ds[i]['source'] - ds[i]['target']).abs().mean().item() for i in range(16)])
    assert abs(res['recon_l1_copy'] - l1) < 1e-5

def test_corrupt_checkpoint_is_an_error(tmp_path):
    data, out = tmp_path / 'data', tmp_path / 'run'
    run('kpvp_make_synthetic', '--out', str(data), '--videos', '14', '--size', '32', '--n-frames', '12', '--quiet')
    common = ['--data', str(data), '--run', str(out), '--preset', 'cpu', '--size', '32', '--n-kp', '4', '--width', '0.125', '--batch-size', '2']
    run('kpvp_train_keypoints', *common, '--steps', '2')
    ck = sorted((out / 'checkpoints').glob('step_*'))[-1]
    (ck / 'models.safetensors').write_bytes(b'\0' * 100)
    r = subprocess.run(['kpvp_train_keypoints', *common, '--steps', '4', '--resume'], capture_output=True, text=True)
    assert r.returncode != 0 and 'corrupt' in r.stderr

def _losses(run_dir):
    import csv
    with open(run_dir / 'log.csv') as f: rows = list(csv.DictReader(f))
    return [int(float(r['step'])) for r in rows], [float(r['loss']) for r in rows]

@pytest.mark.parametrize('sig', ['SIGTERM', 'SIGKILL'])
def test_killed_run_resumes_to_the_same_curve(tmp_path, sig):
    import signal, time
    data = tmp_path / 'data'
    run('kpvp_make_synthetic', '--out', str(data), '--videos', '14', '--size', '32', '--n-frames', '16', '--quiet')
    def common(out): return ['--data', str(data), '--run', str(out), '--preset', 'cpu', '--size', '32', '--n-kp', '4',
                             '--width', '0.125', '--batch-size', '2', '--ckpt-every', '3', '--steps', '40']
    run('kpvp_train_keypoints', *common(tmp_path / 'whole'))
    p = subprocess.Popen(['kpvp_train_keypoints', *common(tmp_path / 'killed')], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ck = tmp_path / 'killed' / 'checkpoints'
    t0 = time.time()
    while not any(ck.glob('step_0000006')) and time.time() - t0 < 120: time.sleep(0.05)
    p.send_signal(getattr(signal, sig)); p.wait(timeout=60)
    assert p.returncode != 0
    assert not (ck / 'step_0000040').exists(), 'the run should have been stopped early'
    run('kpvp_train_keypoints', *common(tmp_path / 'killed'), '--resume')
    s1, l1 = _losses(tmp_path / 'whole'); s2, l2 = _losses(tmp_path / 'killed')
    assert s1 == s2 and s2[-1] == 40 and len(set(s2)) == len(s2)     # every logged step once
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
