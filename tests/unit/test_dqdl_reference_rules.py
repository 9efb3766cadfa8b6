"""Rules against a reference dataset, on Spark, with references read from files."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from moviestream.quality import reference_sources
from moviestream.quality.dqdl import DqdlSyntaxError, parse_ruleset
from moviestream.quality.evaluate import CompiledRuleset, rule_outcomes
from moviestream.quality.reference_sources import (
    Binding,
    ReferenceLoadError,
    ReferenceSet,
    parse_bindings,
    read_table,
    split_list,
)

# id 0..9; cert cycles c0, c1, c2 (and a NULL at id 9); score 0..9
ROWS = [(i, f"c{i % 3}" if i != 9 else None, float(i)) for i in range(10)]


@pytest.fixture(scope="module")
def frame(spark):
    return spark.createDataFrame(ROWS, "id int, cert string, score double")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("refs")
    (d / "certs.csv").write_text("code,name\nc0,zero\nc1,one\n")
    copy = pa.table(
        {
            "id": pa.array(range(10), pa.int32()),
            "cert": [f"c{i % 3}" if i != 9 else None for i in range(10)],
            "score": [float(i) if i != 4 else 40.0 for i in range(10)],
        }
    )
    pq.write_table(copy, d / "copy.parquet")
    (d / "dupes.csv").write_text("id,score\n1,1.0\n1,2.0\n")
    return d


@pytest.fixture(scope="module")
def refs(spark, files):
    bindings = parse_bindings([f"certs={files / 'certs.csv'}", f"copy={files / 'copy.parquet'}"])
    return ReferenceSet(spark, bindings).current()


def one(frame, rule, refs, history=()):
    (outcome,) = rule_outcomes(frame, parse_ruleset(f"Rules = [ {rule} ]"), history=history, references=refs)
    return outcome


def test_referential_integrity_is_the_share_of_complete_keys_found(frame, refs):
    # c0 and c1 are known (6 of the 9 rows with a certificate); the NULL is not judged
    outcome = one(frame, 'ReferentialIntegrity "cert" "certs.code" >= 0.66', refs)
    assert outcome["Outcome"] == "Passed"
    assert outcome["EvaluatedMetrics"] == {"Column.certs.ReferentialIntegrity": pytest.approx(6 / 9)}
    two = one(frame, 'ReferentialIntegrity "id,cert" "copy.{id,cert}" = 1.0', refs)
    assert two["Outcome"] == "Passed"  # an integer key against the Parquet's integers
    dynamic = one(
        frame,
        'ReferentialIntegrity "cert" "certs.{code}" > avg(last(2))',
        refs,
        history=[{"Column.certs.ReferentialIntegrity": 0.8}, {"Column.certs.ReferentialIntegrity": 0.6}],
    )
    assert dynamic["EvaluatedRule"] == 'ReferentialIntegrity "cert" "certs.{code}" > 0.7'
    assert dynamic["Outcome"] == "Failed"


def test_row_count_dataset_aggregate_and_schema_match(frame, refs):
    assert one(frame, 'RowCountMatch "certs" = 5.0', refs)["Outcome"] == "Passed"  # 10 rows / 2
    # the copy differs in one score: 9 of 10 rows match on id, the other columns compared
    matched = one(frame, 'DatasetMatch "copy" "id" = 0.9', refs)
    assert matched["Outcome"] == "Passed", matched
    only_cert = one(frame, 'DatasetMatch "copy" "id->id" "cert" = 1.0', refs)  # NULL equals NULL
    assert only_cert["Outcome"] == "Passed", only_cert
    ratio = one(frame, 'AggregateMatch "sum(score)" "sum(copy.score)" < 0.6', refs)
    assert ratio["EvaluatedMetrics"]["Column.score.AggregateMatch"] == pytest.approx(45 / 81)
    assert one(frame, 'AggregateMatch "avg(score)" "avg(score)" = 1.0', refs)["Outcome"] == "Passed"
    assert one(frame, 'SchemaMatch "copy" = 1.0', refs)["Outcome"] == "Passed"
    schema = one(frame, 'SchemaMatch "certs" = 0', refs)  # no column in common
    assert schema["Outcome"] == "Passed"


def test_an_unbound_alias_or_a_missing_column_fails_the_rule_naming_it(frame, refs, spark, files):
    unbound = one(frame, 'RowCountMatch "ratings" > 0', refs)
    assert unbound["Outcome"] == "Failed"
    assert unbound["FailureReason"] == "no reference dataset is bound to 'ratings': pass --ref ratings=SOURCE"
    column = one(frame, 'ReferentialIntegrity "cert" "certs.label" > 0', refs)
    assert column["FailureReason"] == "Reference dataset 'certs' does not include column label!"
    dupes = ReferenceSet(spark, [Binding("dupes", str(files / "dupes.csv"))]).current()
    keyed = one(frame, 'DatasetMatch "dupes" "id" > 0', dupes)
    assert keyed["FailureReason"] == "Reference dataset 'dupes' has duplicate or NULL keys"


def test_a_compiled_ruleset_judges_each_batch_against_the_references_it_is_given(frame, refs, spark):
    compiled = CompiledRuleset(
        frame, parse_ruleset('Rules = [ ReferentialIntegrity "cert" "certs.code" = 1.0 ]')
    )
    assert compiled.outcomes(frame, references=refs)[0]["Outcome"] == "Failed"
    known = frame.filter("cert in ('c0', 'c1')")
    assert compiled.outcomes(known, references=refs)[0]["Outcome"] == "Passed"


@pytest.mark.parametrize(
    "rule, message",
    [
        ('ReferentialIntegrity "a,b" "ref.c" > 0', "compares 2 column(s) with 1"),
        ('ReferentialIntegrity "a" "ref" > 0', 'must be "alias.column"'),
        ('AggregateMatch "max(a)" "sum(b)" > 0', 'takes "sum(column)" or "avg(alias.column)"'),
        ('DatasetMatch "ref" "a->" > 0', "is not 'column' or 'column->reference_column'"),
    ],
)
def test_malformed_reference_rules_are_refused_at_the_rule(rule, message):
    with pytest.raises(DqdlSyntaxError, match="line 1, column 11: ") as err:
        parse_ruleset(f"Rules = [ {rule} ]")
    assert message in str(err.value)


def test_only_referential_integrity_takes_a_dynamic_number():
    with pytest.raises(DqdlSyntaxError, match="column 33: RowCountMatch takes no dynamic numbers"):
        parse_ruleset('Rules = [ RowCountMatch "ref" > avg(last(3)) ]')


def test_bindings_and_sources_fail_in_one_line(tmp_path):
    assert split_list(" a=x.csv, b=warehouse:movies.t ,") == ["a=x.csv", "b=warehouse:movies.t"]
    for bad, message in [
        (["certs"], "expected ALIAS=SOURCE"),
        (["1x=a.csv"], "expected ALIAS=SOURCE"),
        (["a=x.csv", "a=y.csv"], "--ref a: bound twice"),
    ]:
        with pytest.raises(ReferenceLoadError, match=message):
            parse_bindings(bad)
    with pytest.raises(ReferenceLoadError, match=r"reference 'w' \(warehouse:movies.t\): no warehouse"):
        read_table(Binding("w", "warehouse:movies.t"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(ReferenceLoadError, match=r"^reference 'p' \(.*broken.parquet\): "):
        read_table(Binding("p", str(broken)))


def test_the_size_cap_refuses_a_reference_too_big_to_broadcast(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("code\n" + "\n".join(str(i) for i in range(50)) + "\n")
    monkeypatch.setattr(reference_sources, "MAX_ROWS", 49)
    with pytest.raises(ReferenceLoadError, match="50 rows.*over the cap for a reference"):
        read_table(Binding("big", str(path)))


def test_references_reload_on_their_interval_and_a_failed_reload_keeps_the_last(spark, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("code\na\n")
    failures: list[str] = []
    now = [100.0]  # the set's clock, moved by the test: nothing here depends on how fast Spark is
    refs = ReferenceSet(
        spark,
        [Binding("codes", str(path))],
        reload_s=300,
        on_reload_failed=failures.append,
        clock=lambda: now[0],
    )
    assert [r.code for r in refs.current()["codes"].collect()] == ["a"]
    path.write_text("code\na\nb\n")
    now[0] += 299.9
    assert refs.current()["codes"].count() == 1 and refs.loads == 1  # not yet due
    now[0] += 0.1
    assert refs.current()["codes"].count() == 2 and refs.loads == 2
    path.unlink()
    now[0] += 300
    assert refs.current()["codes"].count() == 2  # the last good copy
    now[0] += 299
    assert len(failures) == 1  # a failed reload waits a whole interval before the next try
    assert failures and "file not found" in failures[0]


def test_warehouse_references_read_only_the_allowed_schemas():
    """Locally the job's database user is the superuser: without the list a ruleset could read the
    catalog or any other schema it can see."""
    assert parse_bindings(["c=warehouse:movies.certificate_codes"]) == (
        Binding("c", "warehouse:movies.certificate_codes"),
    )
    assert parse_bindings(["c=warehouse:Movies.t"])  # the database folds unquoted names
    for source in (
        "warehouse:pg_catalog.pg_authid",
        "warehouse:information_schema.tables",
        "warehouse:public.t",
    ):
        schema = source.removeprefix("warehouse:").split(".")[0]
        with pytest.raises(ReferenceLoadError) as caught:
            parse_bindings([f"x={source}"])
        assert str(caught.value) == (
            f"--ref x: schema '{schema}' is not one references may read (allowed: movies; --ref-schemas)"
        )
    assert parse_bindings(["x=warehouse:lookups.t"], schemas=["movies", "lookups"])
    with pytest.raises(
        ReferenceLoadError, match=r"^--ref x: expected warehouse:schema.table, got 'warehouse:t'$"
    ):
        parse_bindings(["x=warehouse:t"])


def test_a_local_reference_over_the_cap_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from moviestream.quality import reference_sources

    big = tmp_path / "big.csv"
    big.write_text("code\n" + "x\n" * 600)  # 1,205 bytes
    monkeypatch.setattr(reference_sources, "MAX_BYTES", 1000)
    with pytest.raises(ReferenceLoadError, match=r"^reference 'b' \(.*big.csv\): over the 0 MiB cap"):
        read_table(Binding("b", str(big)))
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        (folder / f"part-{i}.parquet").write_bytes(b"\0" * 400)  # not even parquet: never opened
    with pytest.raises(ReferenceLoadError, match=r"over the 0 MiB cap"):
        read_table(Binding("p", str(folder)))
