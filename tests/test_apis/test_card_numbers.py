"""Every headline number of the shipped default's model card, re-derived from the committed
files it cites (checkpoints/default/*.json and model.pth), as the card prints it; and the
default's numbers the README and docs/ quote, wherever they quote them."""
import hashlib
import json
import re

import pytest
from conftest import REPO

DEFAULT = REPO / 'checkpoints' / 'default'
CARD = DEFAULT / 'model_card.md'


def load(name):
    return json.loads((DEFAULT / name).read_text())


def metrics(name):
    return {k.removeprefix('screening/'): v for k, v in load(name)['metrics'].items()}


INTERNAL, PAKISTAN, TBX11K = (metrics(f'eval_{s}.json')
                              for s in ('internal', 'pakistan256', 'tbx11k256'))
POINT = load('operating_point.json')
CALIBRATION = load('local_calibration_pakistan256.json')
CAM = load('cam_localization.json')


def pct(value):
    return f'{value:.1f}'


def auc_ci(m):
    return f"{m['auc']:.3f} ({m['auc_ci_low']:.3f}–{m['auc_ci_high']:.3f})"


def sens_ci(m, prefix='op/'):
    return (f"{m[prefix + 'sensitivity']:.1f} ({m[prefix + 'sensitivity_ci_low']:.1f}–"
            f"{m[prefix + 'sensitivity_ci_high']:.1f}")


def table_with(text, column):
    """The rows ({header: cell}) of the markdown table that has a column named ``column``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if (line.startswith('|') and i + 1 < len(lines) and lines[i + 1].startswith('|---')
                and (i == 0 or not lines[i - 1].startswith('|'))):
            header = [c.strip() for c in line.strip('|').split('|')]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith('|'):
                    break
                rows.append(dict(zip(header, (c.strip() for c in row.strip('|').split('|')))))
            if column in header:
                return rows
    raise AssertionError(f'no table with a column {column!r}')


@pytest.fixture(scope='module')
def card():
    return CARD.read_text()


def test_metrics_table(card):
    rows = {r['Set'].split(' (')[0].split(':')[-1].strip(): r
            for r in table_with(card, 'AUC (95 % CI)')}
    internal, pakistan = rows['Internal test split'], rows['pakistan256']
    for row, m in ((internal, INTERNAL), (pakistan, PAKISTAN)):
        assert row['n (TB)'] == f"{m['num_samples']} ({m['num_tb']})"
        assert row['AUC (95 % CI)'] == auc_ci(m)
        assert row['Sens / Spec @ 0.5'] == f"{pct(m['sensitivity'])} / {pct(m['specificity'])}"
    # internally the operating threshold's rates are those it was chosen with
    assert internal['Sens / Spec @ operating thr.'] == (
        f"{pct(100 * POINT['sensitivity'])} / {pct(100 * POINT['specificity'])} (chosen here)")
    assert pakistan['Sens / Spec @ operating thr.'] == (
        f"{pct(PAKISTAN['op/sensitivity'])} / {pct(PAKISTAN['op/specificity'])}")
    who = next(v for k, v in pakistan.items() if k.startswith('WHO target'))
    assert who == ('met' if PAKISTAN['op/who_target_met'] else '**not met**')
    assert PAKISTAN['op/threshold'] == POINT['threshold']  # evaluated at the shipped threshold


def test_operating_threshold(card):
    thr = f"{POINT['threshold']:.4f}"
    assert f'**{thr}** on P(TB)' in card
    assert (f"{pct(100 * POINT['sensitivity'])} % of its {POINT['n_tb']} TB found, "
            f"specificity {pct(100 * POINT['specificity'])} %") in card
    assert INTERNAL['num_tb'] == POINT['n_tb']
    assert INTERNAL['num_samples'] == POINT['n_tb'] + POINT['n_normal']
    found = round(POINT['sensitivity'] * POINT['n_tb'])
    assert f"{thr} is where 90 % is the lower 95 % confidence bound" in card
    assert f"({found} of {POINT['n_tb']} internal TB cases found)" in card
    # the plain 90 % rule's threshold, and pakistan256's own 90 %-sensitivity specificity
    assert f"stopping at exactly 90 % internally ({INTERNAL['thr_sens90']:.4f})" in card
    assert (f"A threshold set on pakistan256 itself reaches 90 % sensitivity at "
            f"{pct(PAKISTAN['spec_at_sens90'])} % specificity") in card


def test_tb_only_set_and_warning(card):
    low, high = (pct(TBX11K[f'op/sensitivity_ci_{end}']) for end in ('low', 'high'))
    assert f"this model finds only {pct(TBX11K['op/sensitivity'])} % ({low}–{high} %)" in card
    (row,) = table_with(card, 'TB X-rays')
    assert row['Set'] == 'tbx11k256' and row['TB X-rays'] == str(TBX11K['num_samples'])
    assert row['Sensitivity (95 % CI)'] == sens_ci(TBX11K) + ')'
    kinds = '; '.join(
        f"{kind} {sens_ci(TBX11K, f'group/{kind}/op/')}, n {TBX11K[f'group/{kind}/num_samples']})"
        for kind in ('active', 'obsolete'))
    assert row['per TB kind'] == kinds


def test_local_calibration_table(card):
    rows = table_with(card, 'calibration cases (TB + normal)')
    assert len(rows) == len(CALIBRATION['settings'])

    def spread(d):
        return (f"{100 * d['median']:.1f} ({100 * d['p05']:.1f}-{100 * d['p95']:.1f})")

    for row, s in zip(rows, CALIBRATION['settings']):
        target = f"{s['target_sensitivity']:.2f}"
        if s['sensitivity_confidence']:
            target += f" (lower {100 * s['sensitivity_confidence']:.0f} % bound)"
        assert list(row.values()) == [
            f"{s['n_tb']} + {s['n_normal']}", target, spread(s['sensitivity']),
            f"{100 * s['sensitivity_below_target']:.0f} % of draws", spread(s['specificity']),
            f"{100 * s['who_target_met']:.0f} % of draws"]
        assert s['repeats'] == 500
    assert CALIBRATION['table'].strip() in card
    assert 'scored on the rest, 500 draws per row' in card


def test_heat_map_table(card):
    rows = {r['X-rays']: r for r in table_with(card, 'pointing game')}
    for name, d in [('all', CAM['overall']), *CAM['per_kind'].items()]:
        assert list(rows[name].values())[1:] == [
            str(d['num_images']), f"{d['pointing_game']:.3f}", f"{d['energy_in_boxes']:.3f}",
            f"{d['box_area_fraction']:.3f}", f"{d['outside_lung']:.3f}"]


def test_internal_rates_at_half_and_external_summary(card):
    assert ('Internal accuracy / precision / recall / F1 at 0.5: ' + ' / '.join(
        pct(INTERNAL[k]) for k in ('accuracy', 'precision', 'recall', 'f1')) + ' %') in card
    # the 'How it was chosen' note restates the external row
    assert f"On pakistan256 its AUC is {PAKISTAN['auc']:.3f}" in card
    assert (f"finds {pct(PAKISTAN['op/sensitivity'])} % of TB cases at "
            f"{pct(PAKISTAN['op/specificity'])} % specificity") in card
    found = round(PAKISTAN['op/sensitivity'] * PAKISTAN['num_tb'] / 100)
    needed = -(-9 * PAKISTAN['num_tb'] // 10)  # 90 %, rounded up
    assert f"({found} of {PAKISTAN['num_tb']} TB cases found, {needed} needed)" in card


def test_weights_hash(card):
    sha = hashlib.sha256((DEFAULT / 'model.pth').read_bytes()).hexdigest()
    assert f'`model.pth` (sha256 `{sha[:16]}…`' in card


# ------------------------------------------------------------------ README, docs (tolerant)
def default_sentences(text):
    """Sentences that speak of the shipped default (the README is rewritten often: its
    numbers are checked where they appear, no line is required)."""
    flat = re.sub(r'\s+', ' ', text)
    return [s for s in re.split(r'(?<=[.!?])\s+(?=[A-Z*(])', flat)
            if re.search(r'\b(shipped default|default model|the default)\b', s, re.I)
            and 'previous default' not in s]


@pytest.mark.parametrize('page', ['README.md', *sorted(
    str(p.relative_to(REPO)) for p in (REPO / 'docs').rglob('*.md'))])
def test_readme_and_docs_quote_the_defaults_numbers_as_the_files_say(page):
    readme = (REPO / page).read_text()
    thr = f"{POINT['threshold']:.4f}"
    checks = [  # (pattern whose groups are the default's numbers, what they must be)
        (r'threshold \(?(0\.\d{4})', [thr]),
        (r'shipped default finds \*\*(\d+\.\d) % \((\d+\.\d)–(\d+\.\d)\)\*\* of the (\d+) TBX11K',
         [pct(TBX11K['op/sensitivity']), pct(TBX11K['op/sensitivity_ci_low']),
          pct(TBX11K['op/sensitivity_ci_high']), str(TBX11K['num_samples'])]),
        (r'AUC (0\.\d{3}), (0\.\d{3})–(0\.\d{3})',
         [f"{PAKISTAN[k]:.3f}" for k in ('auc', 'auc_ci_low', 'auc_ci_high')]),
        (r'(\d+\.\d) % sensitivity with (\d+\.\d) % specificity on `pakistan256`',
         [pct(PAKISTAN['op/sensitivity']), pct(PAKISTAN['op/specificity'])]),
        (r'finds (\d+\.\d) % of the external TB cases at (\d+\.\d) %',
         [pct(PAKISTAN['op/sensitivity']), pct(PAKISTAN['op/specificity'])]),
    ]
    for sentence in default_sentences(readme):
        for pattern, expected in checks:
            for match in re.finditer(pattern, sentence):
                assert list(match.groups()) == expected, (pattern, sentence[:300])
