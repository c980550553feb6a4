"""The model zoo's metafiles (mmpretrain's format) agree with the configs and results."""
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from mmtb.experiments.table import UNLISTED, labels_of, results_table

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / 'configs'
LEAF_CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py') if '_base_' not in p.parts)
METAFILES = [REPO / m for m in yaml.safe_load((REPO / 'model-index.yml').read_text())['Import']]
MODELS = [m for f in METAFILES for m in yaml.safe_load(f.read_text())['Models']]
# the committed tables and the baseline run each was written with (tools/run_ablation.py)
TABLES = {'ablation_224px': None, 'lesion_128px': None,
          'robust_224px': 'efficientnet-lite0-in1k-pre-fpn_re-ra-rf_1xb32-adamw-5e_tbcxr-224px',
          'robust_128px':
              'efficientnet-lite0-in1k-pre-fpn_re-ra-rf-robust_1xb32-adamw-5e_tbcxr-128px'}


def test_every_config_folder_has_a_metafile_in_the_model_index():
    folders = {p.parent for p in LEAF_CONFIGS}
    assert {f.parent for f in METAFILES} == folders
    for metafile in METAFILES:
        content = yaml.safe_load(metafile.read_text())
        names = {c['Name'] for c in content['Collections']}
        assert all(m['In Collection'] in names for m in content['Models']), metafile


def test_every_leaf_config_is_a_model_and_every_model_config_exists():
    configs = [m['Config'] for m in MODELS]
    assert len(configs) == len(set(configs))
    assert sorted(REPO / c for c in configs) == LEAF_CONFIGS
    for model in MODELS:
        assert model['Name'] == Path(model['Config']).stem
        assert {'Model', 'Augmentation', 'Input Size'} <= set(model['Metadata'])
        size = re.search(r'(\d+)px', model['Name'])
        assert model['Metadata']['Input Size'] == int(size.group(1)), model['Name']
        if 'Weights' in model:
            assert (REPO / model['Weights']).is_file()


def test_results_are_the_committed_numbers():
    """Every number of a metafile is one of the file it names (rounded)."""
    keys = {'ROC AUC': 'auc', 'Accuracy': 'accuracy', 'Sensitivity': 'sensitivity',
            'Specificity': 'specificity', 'Specificity at 90% sensitivity': 'spec_at_sens90'}
    for model in MODELS:
        sources = model['Metadata'].get('Results From')
        if not sources:
            assert 'Results' not in model
            continue
        sources = sources if isinstance(sources, list) else [sources]
        committed = []
        for source in sources:
            metrics = json.loads((REPO / source).read_text())['metrics']
            per_set = all(isinstance(m, dict) for m in metrics.values())  # a run's metrics.json
            committed += [m for name, m in metrics.items() if name != 'val'] if per_set else [
                metrics]  # an evaluation JSON: one test set
        assert len(committed) == len(model['Results']), model['Name']
        for result, metrics in zip(model['Results'], committed):
            for title, value in result['Metrics'].items():
                key = keys[title]
                if 'screening/auc' not in metrics and key == 'sensitivity':
                    key = 'op/sensitivity'  # a TB-only set: at the operating threshold
                assert value == round(metrics[f'screening/{key}'], 4 if key == 'auc' else 2)


def test_every_result_is_labelled_from_a_metafile():
    for path in (REPO / 'results').glob('**/metrics.json'):
        config = json.loads(path.read_text())['config']
        assert (REPO / config).is_file(), path
        assert UNLISTED not in labels_of(config), path
    # a config renamed without its metafile entry shows as such instead of a guessed label
    assert labels_of('configs/robust/renamed_re-ra-rf_tbcxr-224px.py')[1] == UNLISTED


@pytest.mark.slow  # paired bootstraps: about a minute per table on 2 cores
@pytest.mark.parametrize('name', sorted(TABLES))
def test_committed_tables_regenerate_identically(name, tmp_path):
    results = tmp_path / name
    shutil.copytree(REPO / 'results' / name, results,
                    ignore=shutil.ignore_patterns('*.log', 'scalars_*.json'))
    results_table(results, TABLES[name])
    for table in ('table.md', 'table.csv'):
        assert (results / table).read_text() == (REPO / 'results' / name / table).read_text()


def test_every_committed_json_names_a_config_that_exists():
    files = [*(REPO / 'results').glob('**/*.json'), *(REPO / 'checkpoints/default').glob('*.json')]
    named = 0
    for path in files:
        if path.name.startswith('scalars_'):  # training logs, one JSON a line
            continue
        record = json.loads(path.read_text())
        if isinstance(record, dict) and 'config' in record:
            assert (REPO / record['config']).is_file(), path
            named += 1
    assert named >= 67
