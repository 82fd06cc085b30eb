import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.catalog.loader import DataError, load_bundle, read_bundle
from bot.search import index
from bot.services import Services
from bot.store.models import DataLoad, Event, GlossaryTerm, Metric, PolicyItem, SearchDoc
from tests.conftest import MINI


def copy_bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(MINI, target)
    return target


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def table_counts(services: Services) -> dict[str, int]:
    with services.session_factory() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Metric, PolicyItem, Event, SearchDoc, GlossaryTerm, DataLoad)
        }


def test_first_load_creates_items_with_events_and_search_docs(database_url: str, tmp_path: Path) -> None:
    from bot.services import create_services
    from bot.store import db

    services = create_services(database_url=database_url)
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        result = load_bundle(session, read_bundle(MINI))
    assert result.created == 1 + 3 + 2 + 3 + 2  # report, topics, insights, metrics, policies
    counts = table_counts(services)
    assert counts["metrics"] == 3 and counts["policy_items"] == 2
    assert counts["search_docs"] == 2 + 3 + 2
    assert result.glossary == 4 and counts["events"] == result.created + result.glossary == result.changes
    assert counts["glossary"] == 4 and counts["data_loads"] == 1
    with services.session_factory() as session:
        metric = session.get(Metric, "test-livestream-sales")
        assert metric is not None and metric.value == "9.99"  # exact decimal text on every database
    services.close()


def test_reload_of_the_same_files_changes_nothing(mini_services: Services) -> None:
    before = table_counts(mini_services)
    with mini_services.session_factory.begin() as session:
        result = load_bundle(session, read_bundle(MINI))
    assert result.events == [] and result.created == 0 and result.changed == 0
    assert table_counts(mini_services) == before


def test_changes_become_field_events_with_old_and_new_values(mini_services: Services, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)

    def change(data):
        data["metrics"][1]["value"] = 10.5
        data["metrics"][1]["topics"] = ["consumption"]

    edit(bundle / "metrics.yaml", change)
    edit(bundle / "policies.yaml", lambda d: d["policies"][0].update(status="completed", status_zh="完成"))
    with mini_services.session_factory.begin() as session:
        result = load_bundle(session, read_bundle(bundle))
    assert result.changed == 2 and result.created == 0
    with mini_services.session_factory() as session:
        events = session.scalars(select(Event).where(Event.load_id.is_not(None)).order_by(Event.id)).all()
        changed = {(e.item_id, e.field, e.old_value, e.new_value) for e in events if e.field != "created"}
        load = session.scalars(select(DataLoad).order_by(DataLoad.id.desc())).first()
    assert changed == {
        ("test-livestream-sales", "value", "9.99", "10.5"),
        ("test-livestream-sales", "topics", "consumption,ecommerce", "consumption"),
        ("test-data-bureau", "status", "in_effect", "completed"),
        ("test-data-bureau", "status_zh", "正式组建", "完成"),
    }
    assert load is not None and load.changes == 4
    assert all(e.source.startswith("test-edition-1") for e in events)


def test_event_ids_only_grow(mini_services: Services, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    with mini_services.session_factory() as session:
        last = session.scalar(select(func.max(Event.id)))
    edit(bundle / "metrics.yaml", lambda d: d["metrics"][0].update(value=43))
    with mini_services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    with mini_services.session_factory() as session:
        assert session.scalar(select(func.min(Event.id)).where(Event.id > last)) == last + 1


@pytest.mark.parametrize(
    ("file", "change", "item", "field"),
    [
        ("metrics.yaml", lambda d: d["metrics"][1].update(value="lots"), "test-livestream-sales", "value"),
        ("metrics.yaml", lambda d: d["metrics"][0].pop("label_en"), "test-compute-growth", "label_en"),
        ("metrics.yaml", lambda d: d["metrics"][2].update(insight=11), "test-livestream-hosts", "insight"),
        ("metrics.yaml", lambda d: d["metrics"][0].update(id="Bad Id"), "Bad Id", "id"),
        ("policies.yaml", lambda d: d["policies"][1].update(status="maybe"), "test-cross-border-pilot", "status"),
        ("policies.yaml", lambda d: d["policies"][0].update(date="March"), "test-data-bureau", "date"),
        ("policies.yaml", lambda d: d["policies"][0].update(colour="red"), "test-data-bureau", "colour"),
        ("insights.yaml", lambda d: d["insights"][1].pop("summary_zh"), "2", "summary_zh"),
    ],
)
def test_schema_errors_name_the_file_the_item_and_the_field(tmp_path, file, change, item, field) -> None:
    bundle = copy_bundle(tmp_path)
    edit(bundle / file, change)
    with pytest.raises(DataError) as caught:
        read_bundle(bundle)
    problem = caught.value.problems[0]
    assert problem.file.endswith(file) and problem.item == item and problem.field == field
    assert file in str(caught.value) and item in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    edit(bundle / "metrics.yaml", lambda d: [m.update(value="x") for m in d["metrics"]])
    (bundle / "topics.yaml").write_text("topics: [unclosed", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_bundle(bundle)
    assert len(caught.value.problems) == 4
    assert any("not valid YAML" in p.message for p in caught.value.problems)


def test_unknown_topic_and_insight_are_refused(mini_services: Services, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    edit(bundle / "metrics.yaml", lambda d: d["metrics"][0].update(topics=["nowhere"]))
    edit(bundle / "policies.yaml", lambda d: d["policies"][0].update(insight=7))
    with mini_services.session_factory() as session, pytest.raises(DataError) as caught:
        load_bundle(session, read_bundle(bundle))
    messages = {(p.item, p.field) for p in caught.value.problems}
    assert messages == {("test-compute-growth", "topics"), ("test-data-bureau", "insight")}


def test_a_bad_reference_is_refused_before_anything_is_written(mini_services: Services, tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    edit(bundle / "metrics.yaml", lambda d: d["metrics"][0].update(value=77))
    edit(bundle / "policies.yaml", lambda d: d["policies"][1].update(insight=9))
    before = table_counts(mini_services)
    with pytest.raises(DataError, match="unknown insight 9"), mini_services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    assert table_counts(mini_services) == before


def test_a_load_failing_midway_is_rolled_back_whole(
    mini_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = copy_bundle(tmp_path)
    edit(bundle / "metrics.yaml", lambda d: d["metrics"][0].update(value=77))
    edit(bundle / "policies.yaml", lambda d: d["policies"][1].update(title_zh="改名"))
    real_refresh = index.refresh

    def refresh_then_fail(session, item):
        real_refresh(session, item)
        if getattr(item, "id", None) == "test-cross-border-pilot":  # the very last item written
            raise RuntimeError("disk full")

    monkeypatch.setattr(index, "refresh", refresh_then_fail)
    before = table_counts(mini_services)
    with pytest.raises(RuntimeError), mini_services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    assert table_counts(mini_services) == before
    with mini_services.session_factory() as session:
        assert session.get(Metric, "test-compute-growth").value == "42"
        assert session.get(PolicyItem, "test-cross-border-pilot").title_zh == "《测试跨境电商试点方案》"


def test_missing_report_and_missing_directory(tmp_path: Path) -> None:
    bundle = copy_bundle(tmp_path)
    (bundle / "report.yaml").unlink()
    with pytest.raises(DataError, match=r"report\.yaml"):
        read_bundle(bundle)
    with pytest.raises(DataError, match="not a directory"):
        read_bundle(tmp_path / "nope")
