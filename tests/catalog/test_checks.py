"""Issue 12: what passed `data check` and then failed on a database or in every answer is refused by the check, with
the file, the item and the field, the same from `data check` and `data load` on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot import cli
from bot.catalog.loader import MAX_FILE_BYTES, DataError, load_bundle, read_bundle, summary
from bot.commands.router import ask
from bot.core import figures
from bot.services import create_services
from bot.store import db, models
from tests.catalog.test_loader import copy_bundle, edit
from tests.conftest import MINI, text_of

LONG_ID = "a" * 150


def replace_text(old: str, new: str) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, old
        path.write_text(text.replace(old, new), encoding="utf-8")

    return change


def pad_to(size: int) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        path.write_text(text + "#" * (size - len(text.encode()) - 1) + "\n", encoding="utf-8")

    return change


def data(change: Callable[[dict], object]) -> Callable[[Path], None]:
    return lambda path: edit(path, change)


# (file, change, the problem as `data check` prints it, after the file's path)
CASES = {
    "huge value": (
        "metrics.yaml",
        replace_text("value: 9.99", "value: 1e999999999"),
        " [test-livestream-sales] value: Decimal input should have no more than 15 digits in total",
    ),
    "16 digits": (
        "metrics.yaml",
        data(lambda d: d["metrics"][1].update(value=1234567890123456)),
        " [test-livestream-sales] value: Decimal input should have no more than 15 digits in total",
    ),
    "infinite value_en": (
        "metrics.yaml",
        data(lambda d: d["metrics"][1].update(value_en=float("inf"))),
        " [test-livestream-sales] value_en: Input should be a finite number",
    ),
    "NaN": (
        "metrics.yaml",
        replace_text("value: 9.99", "value: .nan"),
        " [test-livestream-sales] value: Input should be a finite number",
    ),
    "exponent": (
        "metrics.yaml",
        replace_text("value: 9.99", "value: 1E+3"),
        " [test-livestream-sales] value: write the number out (1000, not 1E+3), at least 0.000001",
    ),
    "duplicate topic slug": (
        "topics.yaml",
        data(lambda d: d["topics"][2].update(slug="compute")),
        " [compute] slug: duplicate slug (also in topics.yaml)",
    ),
    "duplicate insight number": (
        "insights.yaml",
        data(lambda d: d["insights"][1].update(number=1)),
        " [1] number: duplicate number (also in insights.yaml)",
    ),
    "duplicate metric id": (
        "metrics.yaml",
        data(lambda d: d["metrics"][2].update(id="test-compute-growth")),
        " [test-compute-growth] id: duplicate id (also in metrics.yaml)",
    ),
    "policy with a metric's id": (
        "policies.yaml",
        data(lambda d: d["policies"][0].update(id="test-livestream-sales")),
        " [test-livestream-sales] id: duplicate id (also in metrics.yaml)",
    ),
    "duplicate glossary phrase": (
        "glossary.yaml",
        data(lambda d: d["glossary"][2].update(en="Livestream  Sales")),
        " [livestream sales] en: duplicate en (also in glossary.yaml)",
    ),
    "topic listed twice": (
        "metrics.yaml",
        data(lambda d: d["metrics"][0].update(topics=["compute", "compute"])),
        " [test-compute-growth] topics: 'compute' listed twice",
    ),
    "Chinese term listed twice": (
        "glossary.yaml",
        data(lambda d: d["glossary"][0].update(zh=["算力", "算力"])),
        " [computing power] zh: '算力' listed twice",
    ),
    "duplicate YAML key": (
        "metrics.yaml",
        replace_text("    value: 9.99\n", "    value: 9.99\n    value: 10\n"),
        ": not valid YAML: key 'value' on line 22 repeats the one on line 21",
    ),
    "150-character id": (
        "metrics.yaml",
        data(lambda d: d["metrics"][0].update(id=LONG_ID)),
        f" [{LONG_ID}] id: 150 characters, over the 100 the database holds",
    ),
    "41-character topic slug": (
        "topics.yaml",
        data(lambda d: d["topics"][2].update(slug="e" * 41)),
        f" [{'e' * 41}] slug: 41 characters, over the 40 the database holds",
    ),
    "101-character glossary phrase": (
        "glossary.yaml",
        data(lambda d: d["glossary"][0].update(en="x" * 101)),
        f" [{'x' * 101}] en: 101 characters, over the 100 the database holds",
    ),
    "NUL byte": (
        "policies.yaml",
        data(lambda d: d["policies"][0].update(title_zh="国家\x00数据局")),
        " [test-data-bureau] title_zh: contains a NUL character (\\x00), which the database cannot store",
    ),
    "NUL byte in a list": (
        "glossary.yaml",
        data(lambda d: d["glossary"][0].update(zh=["算\x00力"])),
        " [computing power] zh: contains a NUL character (\\x00), which the database cannot store",
    ),
    "lone surrogate": (
        "insights.yaml",
        replace_text("summary_en: A test summary about consumption.", 'summary_en: "A test summary \\udc80"'),
        " [2] summary_en: Input should be a valid string, unable to parse raw data as a unicode string",
    ),
    "oversized file": (
        "glossary.yaml",
        pad_to(MAX_FILE_BYTES + 1),
        ": 1,000,001 bytes, over the 1,000,000 a data file may hold",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_check_names_the_file_the_item_and_the_field(tmp_path: Path, case: str) -> None:
    file, change, expected = CASES[case]
    bundle = copy_bundle(tmp_path)
    change(bundle / file)
    with pytest.raises(DataError) as caught:
        read_bundle(bundle)
    assert [str(problem) for problem in caught.value.problems] == [f"{bundle / file}{expected}"]


@pytest.mark.parametrize("case", CASES)
def test_check_and_load_say_the_same_and_write_nothing_on_either_database(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    file, change, expected = CASES[case]
    bundle = copy_bundle(tmp_path)
    change(bundle / file)
    monkeypatch.setenv("DATABASE_URL", database_url)
    services = create_services(database_url=database_url)
    db.upgrade(services.engine)
    said = []
    for command in ("check", "load"):
        assert cli.main(["data", command, str(bundle)]) == 1
        said.append(capsys.readouterr().err)
    assert said[0] == said[1] == f"1 problem(s) in the data, nothing was written:\n  {bundle / file}{expected}\n"
    with services.session_factory() as session:
        for model in (models.Report, models.Topic, models.GlossaryTerm, models.Metric, models.Event, models.DataLoad):
            assert session.scalar(select(func.count()).select_from(model)) == 0
    services.close()


def test_the_largest_values_allowed_load_and_render_on_either_database(database_url: str, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    long_id, slug = "b" * 100, "e" * 40

    def change(d: dict) -> None:
        d["metrics"][1].update(id=long_id, value="999999999999999", value_en="0.000009999999999")
        d["metrics"][2].update(topics=["consumption", slug])

    edit(bundle / "metrics.yaml", change)
    edit(bundle / "topics.yaml", lambda d: d["topics"].append({"slug": slug, "name_zh": "长", "name_en": "Long"}))
    edit(bundle / "glossary.yaml", lambda d: d["glossary"][0].update(en="p" * 100, zh=["算" * 200]))
    services = create_services(database_url=database_url)
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    with services.session_factory() as session:
        metric = session.get(models.Metric, long_id)
        assert metric is not None and (metric.value, metric.value_en) == ("999999999999999", "0.000009999999999")
        assert figures.figure(metric, "zh") == "999,999,999,999,999万亿元"
        assert figures.figure(metric, "en") == "0.000009999999999 trillion yuan"
        assert figures.base(metric)[0] == Decimal("999999999999999" + "0" * 12)
        smaller = figures.Figure(value="0.000001", unit_zh="万亿元", unit_en="trillion yuan")
        assert (
            figures.change(smaller, metric, "en")
            == "+999,999,999,999,998.999999 trillion yuan (+99999999999999899999900.0%)"
        )
    services.close()


def test_a_bundled_file_is_far_below_the_size_limit() -> None:
    data = Path(__file__).parents[2] / "data"
    assert max(path.stat().st_size for path in data.glob("*.yaml")) < MAX_FILE_BYTES / 5


def test_a_glossary_only_edition_is_a_recorded_load_that_every_worker_uses(database_url: str, tmp_path: Path) -> None:
    # Two workers on one database, as two processes would be; `first` loads, `second` only answers.
    first, second = create_services(database_url=database_url), create_services(database_url=database_url)
    db.upgrade(first.engine)
    with first.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    assert "Nothing found" in ask(second, "webcast revenue", text_of)
    edition = tmp_path / "glossary-only"
    edition.mkdir()
    shutil.copy(MINI / "report.yaml", edition)
    shutil.copy(MINI / "glossary.yaml", edition)
    with (edition / "glossary.yaml").open("a", encoding="utf-8") as file:
        file.write("  - {en: webcast revenue, zh: [直播销售额]}\n")
    edit(edition / "glossary.yaml", lambda d: d["glossary"][0].update(zh=["算力", "智能算力"]))

    with first.session_factory.begin() as session:
        result = load_bundle(session, read_bundle(edition))
    assert summary(result) == (
        "test-edition-1: 0 created, 0 changed, 1 unchanged, 2 glossary phrases new or changed; 2 change events recorded"
    )
    with first.session_factory() as session:
        load = session.scalars(select(models.DataLoad).order_by(models.DataLoad.id.desc())).first()
        assert load is not None and load.changes == 2
        events = session.scalars(select(models.Event).where(models.Event.load_id == load.id))
        assert {(e.kind, e.item_id, e.field, e.old_value, e.new_value) for e in events} == {
            ("glossary", "computing power", "zh", "算力", "算力,智能算力"),
            ("glossary", "webcast revenue", "created", None, "直播销售额"),
        }
    assert "Livestream sales: 9.99 trillion yuan" in ask(second, "webcast revenue", text_of)

    with first.session_factory.begin() as session:
        again = load_bundle(session, read_bundle(edition))
    assert summary(again) == "test-edition-1: no changes (1 items already up to date)"
    first.close()
    second.close()
