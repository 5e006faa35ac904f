"""The words' one catalogue (kiosk/locale, gettext): whole in both languages, checked by the
real `msgfmt`, kept whole by `make words` (scripts/words) as the English changes, and found by
every process wherever the package is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk.catalogue import (
    DOMAINS,
    CatalogueError,
    catalogue,
    load,
    locale_dir,
    po_file,
    template_file,
)

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "kiosk" / "locale"


def words(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "words"), *args,
                           "--root", str(root)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the sources the catalogue and its uses live in."""
    for part in ("kiosk", "web"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_catalogue_is_whole_and_every_key_used_is_in_it():
    done = words()
    assert done.returncode == 0, done.stderr
    assert done.stdout == "words: every key translated, every key used is in the catalogue\n"


@pytest.mark.parametrize("domain", DOMAINS)
def test_gettexts_own_msgfmt_accepts_each_po_and_its_placeholders(domain):
    """What Poedit or Weblate would say on saving: the file is valid, and each
    python-brace-format translation has the English's placeholders."""
    done = subprocess.run(["msgfmt", "--check", "--output-file=/dev/null",
                           str(po_file(LOCALE, domain, "zh"))], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_each_entry_shows_a_translator_the_key_and_the_english():
    """Poedit shows msgctxt (the key) and msgid (the English) beside the Chinese."""
    po = po_file(LOCALE, "shelf", "zh").read_text(encoding="utf-8")
    assert ('msgctxt "tasks_none"\nmsgid "no open door tasks"\nmsgstr "没有待送的上门任务"\n'
            in po)


@pytest.mark.parametrize(("where", "line", "said"), [
    ("web/templates/login.html", "{{ t('no_such_key') }}\n",
     "web/templates/login.html:{n}: 'no_such_key' is not in the web domain"),
    ("web/follow.py", 'X = t("exc_no_such_thing")\n',
     "web/follow.py:{n}: 'exc_no_such_thing' is not in the web domain"),
    ("kiosk/app/cli.py", 'X = say("tasks_nonexistent", n=1)\n',
     "kiosk/app/cli.py:{n}: 'tasks_nonexistent' is not in the shelf domain"),
    ("web/templates/users.html", "{{ t('rolle_' ~ user.role) }}\n",
     "web/templates/users.html:{n}: 'rolle_' is not in the web domain"),
])
def test_a_key_used_but_not_in_the_catalogue_is_named(tree, where, line, said):
    path = tree / where
    text = path.read_text(encoding="utf-8")
    path.write_text(text + line, encoding="utf-8")
    done = words(root=tree)
    assert done.returncode == 1
    assert said.format(n=text.count("\n") + 1) in done.stderr
    assert done.stderr.endswith("words: 1 to fix\n")


def test_a_changed_english_turns_the_chinese_fuzzy_until_someone_checks_it(tree):
    pot = template_file(tree / "kiosk" / "locale", "shelf")
    pot.write_text(pot.read_text(encoding="utf-8").replace(
        'msgid "no open door tasks"', 'msgid "no door tasks waiting"'), encoding="utf-8")
    folder = tree / "kiosk" / "locale"
    with pytest.raises(CatalogueError, match="tasks_none"):  # never the stale Chinese
        load("shelf", folder)

    done = words("update", root=tree)
    assert "shelf.po: tasks_none: the English changed, to check" in done.stdout
    assert done.returncode == 1
    assert "shelf.po: tasks_none: fuzzy (its English changed): check it" in done.stderr
    po = po_file(folder, "shelf", "zh").read_text(encoding="utf-8")
    assert ('#, fuzzy\n#| msgid "no open door tasks"\nmsgctxt "tasks_none"\n'
            'msgid "no door tasks waiting"\nmsgstr "没有待送的上门任务"\n') in po
    with pytest.raises(CatalogueError, match="tasks_none"):
        load("shelf", folder)

    po_file(folder, "shelf", "zh").write_text(po.replace(
        '#, fuzzy\n#| msgid "no open door tasks"\nmsgctxt "tasks_none"',
        'msgctxt "tasks_none"'), encoding="utf-8")  # what Poedit does on "needs work" off
    assert words(root=tree).returncode == 0
    assert load("shelf", folder).say("en", "tasks_none") == "no door tasks waiting"


def test_a_new_key_comes_in_empty_and_is_refused_until_translated(tree):
    folder = tree / "kiosk" / "locale"
    pot = template_file(folder, "core")
    pot.write_text(pot.read_text(encoding="utf-8")
                   + '\nmsgctxt "why_brand_new"\nmsgid "a new refusal for {room}"\nmsgstr ""\n',
                   encoding="utf-8")
    done = words("update", root=tree)
    assert "core.po: why_brand_new: new, to translate" in done.stdout
    assert "core.po: why_brand_new: not translated" in done.stderr
    assert '#, python-brace-format\nmsgctxt "why_brand_new"' in pot.read_text(encoding="utf-8")
    with pytest.raises(CatalogueError, match="why_brand_new"):
        load("core", folder)

    po = po_file(folder, "core", "zh")
    po.write_text(po.read_text(encoding="utf-8").replace(
        'msgid "a new refusal for {room}"\nmsgstr ""',
        'msgid "a new refusal for {room}"\nmsgstr "{楼}的新理由"'), encoding="utf-8")
    done = words(root=tree)
    assert "core.po: why_brand_new: placeholders ['楼'], the English has ['room']" in done.stderr


def test_every_process_finds_the_catalogue_where_the_package_is_installed():
    """importlib.resources, and the package data a wheel (`pip install .`) carries."""
    assert Path(str(locale_dir())) == LOCALE
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["kiosk"]
    shipped = {p for glob in globs for p in (ROOT / "kiosk").glob(glob)}
    files = {p for p in LOCALE.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert files and files <= shipped


def test_each_domain_loads_in_both_languages():
    for domain in DOMAINS:
        texts = catalogue(domain).texts
        assert set(texts) == {"zh", "en"} and texts["zh"].keys() == texts["en"].keys()


def test_every_error_code_of_the_core_is_worded_in_both_languages():
    """A refusal shown to staff (the command, /exceptions) is said from its code."""
    import importlib
    import pkgutil

    import kiosk
    from kiosk.errors import ShelfError

    for module in pkgutil.walk_packages(kiosk.__path__, "kiosk."):  # every error joins the
        if not module.name.endswith("__main__"):  # tree, whatever this process imported
            importlib.import_module(module.name)

    def codes(cls: type[ShelfError]) -> set[str]:
        return {cls.code}.union(*(codes(sub) for sub in cls.__subclasses__()))

    core = catalogue("core")
    assert len(codes(ShelfError)) >= 48
    assert sorted(c for c in codes(ShelfError) if f"why_{c}" not in core) == []


def test_every_kind_of_refused_row_warning_and_problem_is_worded():
    """The command and the staff site say each by its kind (kiosk.report_words): a kind the
    core gives without words would be said in its English message, also in Chinese."""
    from kiosk.errors import InvalidContact
    from kiosk.households import CAUTIONS, REFUSALS
    from kiosk.observation_lists import PROBLEMS
    from kiosk.staff import CONFIG_REFUSALS

    given = {  # every kind the code names where it makes one
        "households": (r'RowRefused\("(\w+)"', r'Caution\([^,]+, "(\w+)"',
                       r'Refusal\([^,]+, "(\w+)"'),
        "observation_lists": (r'_RowProblem\("(\w+)"', r'Problem\([^,]+, "(\w+)"'),
        "observation_register": (r'Problem\(\s*[^,]+, "(\w+)"',),
        "staff": (r'Refused\([^,]+, "(\w+)"',),
    }
    found = {module: {kind for pattern in patterns for kind in re.findall(
        pattern, (ROOT / "kiosk" / f"{module}.py").read_text(encoding="utf-8"))}
        for module, patterns in given.items()}
    assert found["households"] - set(REFUSALS + CAUTIONS) == set()
    assert len(found["households"]) >= 7
    assert found["observation_lists"] | found["observation_register"] <= set(PROBLEMS)
    assert found["staff"] == set(CONFIG_REFUSALS)
    contact_codes = {cls.code for cls in InvalidContact.__subclasses__()}
    assert contact_codes <= set(REFUSALS)  # a bad phone, e-mail or name refuses its row

    core, shelf = catalogue("core"), catalogue("shelf")
    keys = ([f"report_households_refused_{k}" for k in REFUSALS]
            + [f"report_households_warn_{k}" for k in CAUTIONS]
            + ["report_households_warn_unknown_column_near"]
            + [f"report_households_field_{k}" for k in ("name", "phone", "email",
                                                        "under_observation")]
            + [f"report_observation_problem_{k}" for k in PROBLEMS])
    assert [k for k in keys if k not in core] == []
    assert [k for k in CONFIG_REFUSALS if f"report_staff_refused_{k}" not in shelf] == []
