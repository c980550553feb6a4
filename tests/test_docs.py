"""The README stays a short front page and the docs never point at files that are not there.

The README's two commands are what CI runs (``.ci/run``), so they must stay verbatim; every
relative link (and every ``#anchor`` into a Markdown page) in README.md, docs/ and the other
Markdown pages (config folders, results, the model card) must resolve,
because pages move and a broken link is how a moved fact gets lost.
"""
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
MAX_README_LINES = 200
README_COMMANDS = (
    'pip install -e . && mmtb-app',
    "pip install -e '.[tests]' && python -m pytest -q",
)
# Every Markdown page of the project (not data/ or work_dirs/, which hold no docs).
PAGES = sorted([README, *(page for folder in ('docs', 'configs', 'results', 'checkpoints/default',
                                              'demo', 'mmtb', 'tools')
                          for page in (ROOT / folder).rglob('*.md'))])

# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
FENCE = re.compile(r'^(```|~~~).*?^\1', re.MULTILINE | re.DOTALL)
HEADING = re.compile(r'^#{1,6}\s+(.+?)\s*#*\s*$', re.MULTILINE)


def _prose(text: str) -> str:
    """The page without fenced code blocks (a shell snippet's brackets are not links)."""
    return FENCE.sub('', text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'`|\*\*|__', '', heading).strip().lower()
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)  # a link in a heading keeps its text
    kept = ''.join(ch for ch in text
                   if ch in ' -_' or unicodedata.category(ch)[0] in 'LN')
    return kept.replace(' ', '-')


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(_prose(page.read_text(encoding='utf-8'))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def _relative_links(page: Path):
    for target in LINK.findall(_prose(page.read_text(encoding='utf-8'))):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.IGNORECASE):  # http:, mailto:, ...
            continue
        yield target


def test_readme_is_a_front_page():
    lines = README.read_text(encoding='utf-8').splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f'README.md has {len(lines)} lines (at most {MAX_README_LINES}): move detail to docs/')


@pytest.mark.parametrize('command', README_COMMANDS)
def test_readme_keeps_the_two_commands_ci_runs(command):
    assert command in README.read_text(encoding='utf-8')


@pytest.mark.parametrize('page', PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _relative_links(page):
        path, _, anchor = target.partition('#')
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f'{target}: no such file')
        elif anchor and resolved.suffix == '.md' and anchor not in _anchors(resolved):
            broken.append(f'{target}: no heading with anchor #{anchor}')
    assert not broken, f'{page.relative_to(ROOT)}: ' + '; '.join(broken)


def test_link_checker_sees_links_and_anchors():
    """The checker itself: it must find links outside code and compute GitHub's anchors."""
    text = '[a](x.md#b-c) `not` ![img](i.png)\n```\n[no](code.md)\n```\n'
    assert LINK.findall(_prose(text)) == ['x.md#b-c', 'i.png']
    assert _slug('Which shortcut-removing steps help on another hospital\'s X-rays') == (
        'which-shortcut-removing-steps-help-on-another-hospitals-x-rays')
    assert _slug('Input size: 128 px') == 'input-size-128-px'


def _zoo_rows():
    """(internal AUC, external AUC, CI low, CI high, metrics JSON) of each README zoo row."""
    text = README.read_text(encoding='utf-8')
    zoo = text[text.index('## Model zoo'):]
    zoo = zoo[:zoo.index('\n## ', 1)]
    number = r'(\d\.\d{3})'
    row = re.compile(rf'\| {number} \| {number} \({number}–{number}\) \|(.*)$', re.MULTILINE)
    for internal, external, low, high, rest in row.findall(zoo):
        json_links = [target for target in LINK.findall(rest) if target.endswith('.json')]
        yield float(internal), float(external), float(low), float(high), json_links


def test_model_zoo_numbers_come_from_the_files_they_link():
    """Each zoo AUC is the committed metrics file's, rounded; a retrained model must update both."""
    import json
    rows = list(_zoo_rows())
    assert len(rows) >= 12, 'the default and the Table 2 runs'
    for internal, external, low, high, json_links in rows:
        metrics = {}
        for target in json_links:
            data = json.loads((ROOT / target).read_text(encoding='utf-8'))
            if 'metrics' in data and 'internal' in data['metrics']:  # a run's metrics.json
                metrics['internal'] = data['metrics']['internal']
                metrics['external'] = data['metrics']['pakistan256']
            elif data.get('data_root', '').endswith('pakistan256'):  # the default's eval JSONs
                metrics['external'] = data['metrics']
            else:
                metrics['internal'] = data['metrics']
        assert set(metrics) == {'internal', 'external'}, json_links
        assert round(metrics['internal']['screening/auc'], 3) == internal, json_links
        ext = metrics['external']
        assert (round(ext['screening/auc'], 3), round(ext['screening/auc_ci_low'], 3),
                round(ext['screening/auc_ci_high'], 3)) == (external, low, high), json_links
