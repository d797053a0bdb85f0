"""Build the model shipped with the package (`Predictor.from_pretrained('synthetic')`) from a kpvp_demo run.

    kpvp_demo --out runs/demo                      # 15 minutes on a CPU
    python tools/make_pretrained.py runs/demo kpvp_nb/data/pretrained/synthetic

Keeps the weights of Q, T and M only (no discriminator, no optimizer state), the configs and classes, an
example input (the first frame of a held-out video) and a card with the run's budget and its scores
(from the demo's scores.json). Commit the folder it writes; MANIFEST.in and setup.py ship it.
"""
import argparse, json, shutil
from pathlib import Path

from kpvp_nb.data import VideoFolder
from kpvp_nb.predict import export_model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('demo', help='a kpvp_demo output folder (DEMO/run, DEMO/data, DEMO/scores.json, DEMO/info.json)')
    ap.add_argument('out', help='the model folder to write (replaced if it exists)')
    ap.add_argument('--example-class', default='jumping_jacks', help='class of the held-out video whose first frame is shipped')
    a = ap.parse_args(argv)
    demo, out = Path(a.demo), Path(a.out)
    sc, info = json.loads((demo / 'scores.json').read_text()), json.loads((demo / 'info.json').read_text())
    s1, mo, vi = sc['stage1'], sc['motion'], sc['video']
    card = dict(
        name='kpvp_nb synthetic actors (cpu preset)', repo='synthetic',
        data='kpvp_nb.synthetic: 700 procedural videos of 7 actions at 64x64 (630 train, 70 held out), exact joints',
        trained_by=f"kpvp_demo on {info['device']} ({info['machine']}), {info['minutes']:.1f} minutes in all, {info['date']}",
        budget=f"stage 1: {info['stage1_steps']} steps in {info['stage1_minutes']} min; stage 2: {info['stage2_steps']} steps in {info['stage2_minutes']} min",
        limits='futures move far less than real clips (motion 0.13x the truth); the translator barely moves the limbs (making them move is the project\'s open work)',
        scores=dict(
            kp_error=s1['kp_error'], kp_error_mean_pose=s1['kp_error_mean_pose'], recon_l1=s1['recon_l1'], recon_l1_copy=s1['recon_l1_copy'],
            mask=s1['mask'], acc_generated=mo['acc_generated'], chance=mo['chance'],
            psnr=vi['model']['psnr'], psnr_frozen=vi['frozen']['psnr'], psnr_oracle=vi['oracle']['psnr'],
            motion_l1=vi['model']['motion_l1'], motion_l1_frozen=vi['frozen']['motion_l1'],
            motion=vi['model']['motion'], motion_real=vi['real']['motion']))
    test = VideoFolder(demo / 'data', 'test')
    i = next(j for j, r in enumerate(test.records) if r.label == a.example_class)
    if out.exists(): shutil.rmtree(out)
    export_model(demo / 'run', out, card, example=test.frames(i, [0])[0])
    size = sum(f.stat().st_size for f in out.rglob('*') if f.is_file())
    print(f"{out}: {size / 1e6:.2f} MB; stage 1 step {json.loads((out / 'card.json').read_text())['stage1_steps']}")


if __name__ == '__main__': main()
