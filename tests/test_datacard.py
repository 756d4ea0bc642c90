"""The data card (``leadsinstruct stats``, pipelines/stats.py + transforms/datacard.py) of a real
build of the embedded sample: every number in README.md, in the terminal table and in the plots
equals what the Parquet files and manifest.json say, counted here independently; the card is
byte-for-byte deterministic; the field table covers the record schema exactly; bad outputs give a
clear message and exit code 1."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import shutil
import statistics
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from pipelines.stats import main
from schemas.records import TaskRecord
from tests.test_build_pipeline import read_task, run_build
from transforms import datacard
from transforms.tasks.common import TASKS

EXPECTED_TASKS = {"search_query": 5, "screening": 27, "study_characteristics": 24, "arm_design": 24,
                  "participant_statistics": 68, "trial_results": 72}
EXTRACTION = ("study_characteristics", "arm_design", "participant_statistics", "trial_results")


def run_stats(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def read_table(out: Path, name: str) -> list[dict]:
    rows = []
    for f in sorted((out / "tables" / name).glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def section(card: str, heading: str) -> str:
    """The text of ``## heading`` up to the next ``## ``."""
    start = card.index(f"\n## {heading}\n")
    end = card.find("\n## ", start + 1)
    return card[start:end if end >= 0 else None]


def md_table(text: str, index: int = 0) -> list[list[str]]:
    """Cells of the ``index``-th markdown table of ``text`` (header and rule left out)."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip("|").split("|")])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables[index][2:]


def by_task(rows: list[list[str]]) -> dict[str, list[str]]:
    return {r[0].strip("`"): r[1:] for r in rows if r[0].strip("`") in TASKS}


@pytest.fixture(scope="module")
def built(sample_dir, tmp_path_factory):
    """The sample built once, then described by ``leadsinstruct stats``."""
    out = tmp_path_factory.mktemp("card") / "out"
    manifest, _ = run_build(sample_dir, out)
    code, stdout, stderr = run_stats(out)
    assert code == 0, stderr
    return {"out": out, "manifest": manifest, "stdout": stdout, "stderr": stderr,
            "card": (out / "README.md").read_text(encoding="utf-8"),
            "records": {t: read_task(out, t) for t in TASKS}}


@pytest.fixture(scope="module")
def truth(built):
    """What the card must say, counted from the Parquet files without the card's code."""
    out, records = built["out"], built["records"]
    articles = read_table(out, "articles")
    years = {a["pmid"]: a["pub_year"] for a in articles}
    fulltexts = {f["pmcid"]: f for f in read_table(out, "fulltexts")}
    t: dict = {"tasks": {}, "years": Counter(), "unknown_year": Counter(), "paper_splits": {}, "entity_splits": {}}
    for task, rows in records.items():
        grounding = [r["grounding"] for r in rows if r["grounding"] is not None]
        evidence = Counter(r["evidence"] or "none" for r in rows)
        with_evidence = evidence["fulltext"] + evidence["abstract"]
        t["tasks"][task] = {
            "records": len(rows), "split": Counter(r["split"] for r in rows), "evidence": evidence,
            "fulltext_share": evidence["fulltext"] / with_evidence if with_evidence else None,
            "grounding": grounding, "chars": [len(r["input"]) for r in rows]}
        for r in rows:
            paper = r["pmid"] or (r["review_id"][len("pubmed:"):] if r["review_id"].startswith("pubmed:") else None)
            if paper is not None:
                t["paper_splits"].setdefault(paper, set()).add(r["split"])
            for kind in ("review_id", "pmid", "pmcid", "nct_id"):
                if r[kind]:
                    t["entity_splits"].setdefault(kind, {}).setdefault(r[kind], set()).add(r["split"])
            if paper is not None and years.get(paper) is not None:
                t["years"][(years[paper], task)] += 1
            else:
                t["unknown_year"][task] += 1
    fulltext_records = [r for rows in records.values() for r in rows if r["evidence"] == "fulltext"]
    t["licence_urls"] = Counter(fulltexts[r["pmcid"]]["license_url"] for r in fulltext_records)
    t["licence_texts"] = Counter(fulltexts[p]["license_url"] for p in {r["pmcid"] for r in fulltext_records})
    t["synthetic"] = sum(1 for a in articles if (a["doi"] or "").startswith("10.5555/"))
    t["articles"] = len(articles)
    t["links"] = read_table(out, "links")
    screening = [json.loads(r["output"]) for r in records["screening"]]
    t["include"] = Counter(s["include"] for s in screening)
    t["answers"] = Counter(c["eligibility"] for s in screening for c in s["criteria"])
    t["rejected"] = [json.loads(line) for f in sorted((out / "rejected").glob("*.jsonl"))
                     for line in f.read_text(encoding="utf-8").splitlines()]
    return t


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def mean3(values):
    return f"{sum(values) / len(values):.3f}" if values else "-"


# --------------------------------------------------------------------------- the card's numbers
def test_front_matter_is_yaml_with_one_config_per_task(built):
    card = built["card"]
    assert card.startswith("---\n")
    front = yaml.safe_load(card[4:card.index("\n---\n", 4)])
    assert front["configs"] == [{"config_name": t, "data_files": f"tasks/task={t}/*.parquet"} for t in TASKS]
    for config in front["configs"]:  # each pattern matches shards that hold exactly that task
        files = sorted(built["out"].glob(config["data_files"]))
        assert files
        tasks = {x for f in files for x in pq.read_table(f, columns=["task"]).column(0).to_pylist()}
        assert tasks == {config["config_name"]}
    assert front["license"] == "other" and front["license_name"]
    assert front["task_categories"] == ["text-generation", "text-classification"]
    assert front["size_categories"] == ["n<1K"] and front["language"] == ["en"]
    assert "synthetic" in front["tags"]


def test_counts_per_task_and_split_equal_the_shards_and_the_manifest(built, truth):
    rows = by_task(md_table(section(built["card"], "Tasks")))
    assert list(rows) == list(TASKS)
    for task in TASKS:
        s = truth["tasks"][task]
        assert s["records"] == EXPECTED_TASKS[task] == built["manifest"]["tasks"][task]
        assert rows[task] == [str(s["records"]), str(s["split"]["train"]), str(s["split"]["validation"]),
                              str(s["split"]["test"]), pct(s["fulltext_share"]), mean3(s["grounding"])], task
    total = next(r for r in md_table(section(built["card"], "Tasks")) if r[0] == "**total**")
    splits = sum((s["split"] for s in truth["tasks"].values()), Counter())
    assert total[1:5] == [str(built["manifest"]["total_records"]), str(splits["train"]),
                          str(splits["validation"]), str(splits["test"])]
    assert total[1:5] == ["220", "157", "0", "63"]  # the sample has no validation record
    assert "Snapshot **2026-01-01** · schema 1.0.0 · **220** records in 6 tasks." in built["card"]
    assert "disagree" not in built["card"] and built["stderr"] == ""


def test_evidence_grounding_and_length_tables(built, truth):
    card = built["card"]
    evidence = by_task(md_table(section(card, "Evidence: full text or abstract")))
    grounding = by_task(md_table(section(card, "Grounding")))
    lengths = by_task(md_table(section(card, "Input length")))
    for task in TASKS:
        s = truth["tasks"][task]
        assert evidence[task] == [str(s["evidence"][k]) for k in ("fulltext", "abstract", "none")] + [str(s["records"])]
        g = s["grounding"]
        assert grounding[task] == [str(len(g)), mean3(g), f"{statistics.median(g):.3f}" if g else "-",
                                   str(sum(x >= 0.5 for x in g)), str(sum(x == 1.0 for x in g))], task
        c = s["chars"]
        assert lengths[task] == [str(len(c)), f"{sum(c) / len(c):.1f}", f"{statistics.median(c):.1f}", str(max(c))]
    # the sample: extraction records are fully grounded except study_characteristics; screening has none
    assert grounding["trial_results"][:2] == ["72", "1.000"] and grounding["screening"][0] == "0"
    stats = json.loads((built["out"] / "stats.json").read_text())["tasks"]
    for task in TASKS:  # the build's own statistics agree
        assert stats[task]["input_chars_max"] == int(lengths[task][3])
        assert stats[task]["evidence"] == {k: v for k, v in truth["tasks"][task]["evidence"].items() if v}


def test_years_splits_screening_links_and_synthetic_notice(built, truth):
    card = built["card"]
    known, unknown = sum(truth["years"].values()), sum(truth["unknown_year"].values())
    years = sorted({y for y, _ in truth["years"]})
    assert (known, unknown) == (219, 1)  # the CLEF review has a Cochrane id, no PubMed record
    assert (f"{known} records have one, from {years[0]} to {years[-1]}; {unknown} has none"
            in section(card, "Publication years"))
    assert (f"`screening` targets: **{truth['include'][True]}** include, **{truth['include'][False]}** exclude; "
            f"criterion answers: YES {truth['answers']['YES']}, PARTIAL {truth['answers']['PARTIAL']}, "
            f"NO {truth['answers']['NO']}, UNCERTAIN {truth['answers']['UNCERTAIN']}.") in card
    assert truth["include"][True] + truth["include"][False] == 27 and truth["include"][True] == 24
    labels = Counter((x["kind"], x["label"] or "-") for x in truth["links"])
    sources = Counter((x["kind"], s) for x in truth["links"] for s in x["sources"])
    text = section(card, "Sources")
    assert {(k, lab): int(n) for k, lab, n in md_table(text, 1)} == labels
    assert {(k, src): int(n) for k, src, n in md_table(text, 2)} == sources
    assert {r[0].strip("`"): int(r[1]) for r in md_table(text, 0)} == built["manifest"]["tables"]
    assert "**1 dead letter** (`links.parse:MissingField` 1)" in text
    assert truth["synthetic"] == truth["articles"] == 44
    assert "> **Synthetic data.** 44 of the 44 articles in this output carry DOIs" in card


def test_splits_section_says_no_review_trial_or_publication_is_in_two_splits(built, truth):
    text = section(built["card"], "Splits")
    # counted from the shards: every review, publication, full text and trial is in one split
    entities = truth["entity_splits"]
    crossing = {k: sum(1 for v in ids.values() if len(v) > 1) for k, ids in entities.items()}
    assert {k: len(ids) for k, ids in entities.items()} == {"review_id": 5, "pmid": 27, "pmcid": 14, "nct_id": 24}
    assert crossing == {"review_id": 0, "pmid": 0, "pmcid": 0, "nct_id": 0}
    shared = sum(1 for v in truth["paper_splits"].values() if len(v) > 1)
    assert (shared, len(truth["paper_splits"])) == (0, 31)  # 10 of 31 before splits were assigned per entity
    assert "**No review, trial or publication is in two splits** in this output." in text
    assert (f"ids with records in more than one split: {crossing['review_id']} of the {len(entities['review_id'])} "
            f"reviews (`review_id`), {crossing['pmid']} of the {len(entities['pmid'])} publications (`pmid`), "
            f"{crossing['pmcid']} of the {len(entities['pmcid'])} full texts (`pmcid`), {crossing['nct_id']} of the "
            f"{len(entities['nct_id'])} trials (`nct_id`); **{shared}** of the {len(truth['paper_splits'])} papers "
            "behind the records") in text
    assert "Some reviews, trials or publications" not in text and "Hold out by" not in text
    # the sample has no validation record: the card says so
    splits = sum((s["split"] for s in truth["tasks"].values()), Counter())
    assert splits == {"train": 157, "test": 63}
    assert (f"Records per split: train {splits['train']}, validation 0, test {splits['test']}. **No record is in "
            "`validation`** in this output") in text
    # the screening candidates left out: in rejected/ with split.leak, each one's review in another split
    # than its publication (and trial) in the shards
    leaks = [x for x in truth["rejected"] if "split.leak" in x["reasons"]]
    assert len(leaks) == built["manifest"]["rejected_reasons"]["split.leak"] == 6
    for x in leaks:
        r = x["record"]
        assert r["task"] == "screening"
        assert entities["review_id"][r["review_id"]] == {r["split"]}
        assert entities["pmid"][r["pmid"]] != {r["split"]} and len(entities["pmid"][r["pmid"]]) == 1
    assert ("**6 records were left out** because the review and the publication are in different splits "
            "(reason `split.leak`, in `rejected/`") in text
    assert "no review, trial or publication is in two splits, over all tasks" in datacard.FIELD_DESCRIPTIONS["split"]


def test_rejected_and_merged_records_equal_the_manifest_and_rejected_files(built, truth):
    text = section(built["card"], "Rejected and merged records")
    m = built["manifest"]
    per_task = Counter(x["record"]["task"] for x in truth["rejected"])
    per_reason = Counter(reason for x in truth["rejected"] for reason in x["reasons"])
    assert m["rejected"] == per_task == {"screening": 6}
    assert m["rejected_reasons"] == per_reason == {"split.leak": 6}
    assert m["rejected_total"] == len(truth["rejected"]) == 6
    assert m["merged"] == {}
    assert "**6 records rejected**:" in text
    assert {r[0].strip("`*"): int(r[1]) for r in md_table(text, 0)} == {
        **{t: per_task[t] for t in TASKS}, "total": len(truth["rejected"])}
    assert {r[0].strip("`"): int(r[1]) for r in md_table(text, 1)} == per_reason
    assert "none were merged in this output." in text and "| task | merged |" not in text
    with pytest.raises(IndexError):  # two tables: per task and per reason
        md_table(text, 2)


def test_rejected_and_merged_counts_of_another_manifest(built, tmp_path):
    """Counts the sample does not have (several tasks and reasons, merged records) and a manifest of an
    older build without them."""
    copy = tmp_path / "quality"
    shutil.copytree(built["out"], copy, ignore=shutil.ignore_patterns("card"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update({"rejected": {"screening": 6, "trial_results": 3}, "rejected_total": 9,
                     "rejected_reasons": {"split.leak": 6, "unit.missing": 3, "grounding.mismatch": 1},
                     "merged": {"participant_statistics": 2, "trial_results": 5}})
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert run_stats(copy, "--no_plots")[0] == 0
    text = section((copy / "README.md").read_text(), "Rejected and merged records")
    assert "**9 records rejected**:" in text
    assert [[r[0], int(r[1])] for r in md_table(text, 0)] == [
        ["`search_query`", 0], ["`screening`", 6], ["`study_characteristics`", 0], ["`arm_design`", 0],
        ["`participant_statistics`", 0], ["`trial_results`", 3], ["**total**", 9]]
    assert [[r[0], int(r[1])] for r in md_table(text, 1)] == [
        ["`split.leak`", 6], ["`unit.missing`", 3], ["`grounding.mismatch`", 1]]
    assert "**7 records merged** into others:" in text
    assert [[r[0], int(r[1])] for r in md_table(text, 2)] == [
        ["`participant_statistics`", 2], ["`trial_results`", 5], ["**total**", 7]]

    for key in ("rejected", "rejected_total", "rejected_reasons", "merged"):
        del manifest[key]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert run_stats(copy, "--no_plots")[0] == 0
    card = (copy / "README.md").read_text()
    assert "## Rejected and merged records" not in card and "left out" not in section(card, "Splits")
    assert "**No review, trial or publication is in two splits** in this output." in card


def test_licences_of_full_text_records(built, truth):
    text = section(built["card"], "Licences")
    assert "**The licence of a record whose `evidence` is `fulltext` is the licence of that article**" in text
    for phrase in ("NLM Terms and Conditions", "Open Access subset", "ClinicalTrials.gov Terms and Conditions",
                   "public domain"):
        assert phrase in text
    names = {"https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
             "https://creativecommons.org/licenses/by-nc/4.0/": "CC BY-NC 4.0"}
    assert set(truth["licence_urls"]) == set(names)  # the sample's two licences
    rows = {r[0]: (int(r[1]), int(r[2])) for r in md_table(text)}
    assert rows == {names[u]: (truth["licence_texts"][u], n) for u, n in truth["licence_urls"].items()}
    fulltext_records = sum(truth["tasks"][t]["evidence"]["fulltext"] for t in TASKS)
    assert sum(n for _, n in rows.values()) == fulltext_records == 120


def test_field_table_covers_the_record_schema_exactly(built):
    fields = [f.name for f in dataclasses.fields(TaskRecord)]
    assert list(datacard.FIELD_DESCRIPTIONS) == fields
    assert all(len(d) > 20 for d in datacard.FIELD_DESCRIPTIONS.values())
    shard = next((built["out"] / "tasks" / "task=screening").glob("*.parquet"))
    assert pq.read_schema(shard).names == fields
    rows = md_table(section(built["card"], "Record fields"))
    assert [r[0].strip("`") for r in rows] == fields
    assert [r[2] for r in rows] == [datacard.FIELD_DESCRIPTIONS[f] for f in fields]
    types = {r[0].strip("`"): r[1].strip("`") for r in rows}
    assert types["grounding"] == "double, nullable" and types["split"] == "string"
    assert types["messages"] == "list<struct<role: string, content: string>>"
    assert list(datacard.TASK_SUMMARIES) == list(TASKS)


def test_terminal_table_has_the_exact_numbers(built, truth):
    lines = built["stdout"].splitlines()
    table = {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] in TASKS}
    assert list(table) == list(TASKS)
    for task in TASKS:
        s = truth["tasks"][task]
        assert table[task] == [str(s["records"]), str(s["split"]["train"]), str(s["split"]["validation"]),
                               str(s["split"]["test"]), pct(s["fulltext_share"]), mean3(s["grounding"])], task
    assert lines[0].split() == ["task", "records", "train", "validation", "test", "fulltext", "grounding"]
    total = next(line.split() for line in lines if line.startswith("total"))
    assert total[:5] == ["total", "220", "157", "0", "63"]
    assert lines[-1] == f"Data card: {built['out']}/README.md (5 plots in {built['out']}/card/)"


# --------------------------------------------------------------------------- the plots
def png(built, name: str) -> Image.Image:
    path = built["out"] / "card" / f"{name}.png"
    with Image.open(path) as im:
        im.verify()
    im = Image.open(path)
    im.load()
    return im


def test_every_plot_is_a_png_of_the_real_numbers(built, truth):
    assert sorted(p.name for p in (built["out"] / "card").iterdir()) == sorted(f"{n}.png" for n in datacard.PLOTS)
    numbers = {}
    for name, (alt, (w, h)) in datacard.PLOTS.items():
        im = png(built, name)
        assert im.format == "PNG" and im.size == (int(w * datacard.DPI), int(h * datacard.DPI))
        assert len(im.convert("RGB").getcolors(1 << 20)) > 10  # drawn, not blank
        assert f"![{alt}](card/{name}.png)" in built["card"]
        numbers[name] = json.loads(im.text["Description"])
    tasks = truth["tasks"]
    assert numbers["records_per_task"] == {t: tasks[t]["records"] for t in TASKS} == EXPECTED_TASKS
    assert numbers["evidence"] == {t: {k: tasks[t]["evidence"][k] for k in ("fulltext", "abstract", "none")}
                                   for t in TASKS}
    assert numbers["grounding"] == {t: [sum(1 for g in tasks[t]["grounding"] if min(int(g * 10), 9) == b)
                                        for b in range(10)] for t in EXTRACTION}
    for t in TASKS:
        h = numbers["input_length"][t]
        assert (h["records"], sum(h["counts"]), h["min"], h["max"]) == (
            tasks[t]["records"], tasks[t]["records"], min(tasks[t]["chars"]), max(tasks[t]["chars"]))
    per_year: dict = {}
    for (year, task), n in truth["years"].items():
        per_year.setdefault(str(year), {})[task] = n
    assert numbers["years"] == {"per_year": per_year, "unknown": {t: truth["unknown_year"][t] for t in TASKS}}


def test_bars_of_the_records_plot_are_proportional_to_the_counts(built):
    """Measured on the pixels: one bar per task, top to bottom, each as long as its count says."""
    im = png(built, "records_per_task").convert("RGB")
    color = tuple(int(datacard.BAR_COLOR[i:i + 2], 16) for i in (1, 3, 5))
    w, h = im.size
    px = im.load()
    rows_with_bar = [y for y in range(h) if any(px[x, y] == color for x in range(w))]
    bands, start = [], rows_with_bar[0]
    for prev, y in zip(rows_with_bar, rows_with_bar[1:] + [None]):
        if y != prev + 1:
            bands.append((start, prev))
            start = y
    assert len(bands) == len(TASKS)
    lengths = [sum(1 for x in range(w) if px[x, (a + b) // 2] == color) for a, b in bands]
    counts = [EXPECTED_TASKS[t] for t in TASKS]
    scale = max(lengths) / max(counts)
    assert all(abs(n * scale - length) <= 2 for n, length in zip(counts, lengths)), (lengths, counts)


# --------------------------------------------------------------------------- determinism and options
def test_the_card_is_byte_for_byte_the_same_when_run_again_elsewhere(built, tmp_path):
    copy = tmp_path / "moved"
    shutil.copytree(built["out"], copy)
    shutil.rmtree(copy / "card")
    (copy / "README.md").unlink()
    code, stdout, _ = run_stats(copy)
    assert code == 0
    assert (copy / "README.md").read_bytes() == (built["out"] / "README.md").read_bytes()
    for name in datacard.PLOTS:
        assert (copy / "card" / f"{name}.png").read_bytes() == (built["out"] / "card" / f"{name}.png").read_bytes()
    assert str(built["out"]) not in (copy / "README.md").read_text()
    assert stdout.splitlines()[:-1] == built["stdout"].splitlines()[:-1]


def test_a_gs_output_gets_the_same_card(built, gcs, tmp_path):
    """The output on Cloud Storage (a local emulator): the card written there equals the local one."""
    local = tmp_path / "upload"
    shutil.copytree(built["out"], local, ignore=shutil.ignore_patterns("card", "README.md", "sample_input"))
    gcs.upload_tree(local, "card/out")
    code, stdout, stderr = run_stats(gcs.url("card/out") + "/")
    assert code == 0, stderr
    back = tmp_path / "download"
    gcs.download_tree("card/out", back)
    assert (back / "README.md").read_bytes() == (built["out"] / "README.md").read_bytes()
    for name in datacard.PLOTS:
        assert (back / "card" / f"{name}.png").read_bytes() == (built["out"] / "card" / f"{name}.png").read_bytes()
    url = gcs.url("card/out")
    assert stdout.splitlines()[-1] == f"Data card: {url}/README.md (5 plots in {url}/card/)"


def test_no_plots_writes_the_card_without_images(built, tmp_path):
    copy = tmp_path / "noplots"
    shutil.copytree(built["out"], copy, ignore=shutil.ignore_patterns("card", "README.md"))
    code, stdout, _ = run_stats(copy, "--no_plots")
    assert code == 0 and not (copy / "card").exists()
    card = (copy / "README.md").read_text()
    assert "](card/" not in card
    assert by_task(md_table(section(card, "Tasks"))) == by_task(md_table(section(built["card"], "Tasks")))
    assert stdout.splitlines()[-1] == f"Data card: {copy}/README.md"


def test_a_manifest_that_disagrees_with_the_shards_is_reported(built, tmp_path):
    copy = tmp_path / "edited"
    shutil.copytree(built["out"], copy, ignore=shutil.ignore_patterns("card"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tasks"]["screening"] = 28
    (copy / "manifest.json").write_text(json.dumps(manifest))
    code, _, stderr = run_stats(copy, "--no_plots")
    assert code == 0
    assert stderr == "warning: screening: 27 in the shards, 28 in manifest.json\n"
    assert "> **The shards and manifest.json disagree** (an incomplete or modified output): screening: 27 in " \
           "the shards, 28 in manifest.json." in (copy / "README.md").read_text()


def test_a_refresh_snapshot_card_says_what_changed(built, tmp_path):
    copy = tmp_path / "snapshot"
    shutil.copytree(built["out"], copy, ignore=shutil.ignore_patterns("card"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["refresh"] = {"as_of": "2026-01-02", "previous_snapshot": "2026-01-01", "new_raw_files": 3,
                           "window": {"from": "2026-01-01", "to": "2026-01-02"},
                           "records": {"added": 4, "removed": 1, "unchanged": 216}, "total_records": 220}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert run_stats(copy, "--no_plots")[0] == 0
    assert ("Refresh snapshot 2026-01-02: fetch window 2026-01-01 to 2026-01-02, 3 new raw files; records since "
            "the previous snapshot (2026-01-01): 4 added, 1 removed, 216 unchanged.") in (copy / "README.md").read_text()
    assert "Refresh snapshot" not in built["card"]


# --------------------------------------------------------------------------- errors
def test_a_folder_that_is_no_build_output_gives_a_message_and_exit_1(tmp_path):
    code, stdout, stderr = run_stats(tmp_path)
    assert (code, stdout) == (1, "")
    assert stderr == (f"leadsinstruct stats: {tmp_path}/manifest.json not found: {tmp_path} is not the --output "
                      "of a finished build\n")
    assert not (tmp_path / "README.md").exists()
    code, _, stderr = run_stats(tmp_path / "missing")
    assert code == 1 and "manifest.json not found" in stderr and "Traceback" not in stderr


def test_a_manifest_without_task_shards_or_unreadable_files_gives_a_message(built, tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    code, _, stderr = run_stats(tmp_path)
    assert code == 1 and stderr.startswith(f"leadsinstruct stats: {tmp_path}/manifest.json is not valid JSON")
    (tmp_path / "manifest.json").write_text("[]")
    assert run_stats(tmp_path) == (1, "", f"leadsinstruct stats: {tmp_path}/manifest.json is not a build manifest "
                                          "(a JSON object)\n")
    shutil.copy(built["out"] / "manifest.json", tmp_path / "manifest.json")
    code, _, stderr = run_stats(tmp_path)
    assert (code, stderr) == (1, f"leadsinstruct stats: no task shards under {tmp_path}/tasks/task=<task>/: "
                                 "nothing to describe\n")
    bad = tmp_path / "tasks" / "task=screening" / "part-00000-of-00001.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 not really parquet")
    code, _, stderr = run_stats(tmp_path)
    assert code == 1 and stderr.startswith(f"leadsinstruct stats: cannot read {bad}") and "Traceback" not in stderr
    assert not (tmp_path / "README.md").exists()


def test_usage_errors_and_help_return_codes():
    assert run_stats()[0] == 2
    code, stdout, _ = run_stats("--help")
    assert code == 0 and "--no_plots" in stdout


# --------------------------------------------------------------------------- pure parts
def test_add_records_counts_a_batch():
    batch = pa.RecordBatch.from_pylist([
        {"task": "trial_results", "split": "train", "evidence": "fulltext", "grounding": 0.5, "pmid": "1",
         "pmcid": "PMC1", "review_id": None, "nct_id": "NCT1", "input": "αβγ"},
        {"task": "trial_results", "split": "test", "evidence": "abstract", "grounding": None, "pmid": "2",
         "pmcid": None, "review_id": None, "nct_id": "NCT1", "input": "abcd"},
        {"task": "search_query", "split": "test", "evidence": None, "grounding": 1.0, "pmid": None,
         "pmcid": None, "review_id": "cochrane:CD1", "nct_id": None, "input": ""},
        {"task": "search_query", "split": "train", "evidence": None, "grounding": 0.25, "pmid": None,
         "pmcid": None, "review_id": "pubmed:2", "nct_id": None, "input": "x"}])
    data = datacard.CardData(manifest={})
    datacard.add_records(data, batch)
    tr, sq = data.tasks["trial_results"], data.tasks["search_query"]
    assert (tr.records, dict(tr.splits), dict(tr.evidence), list(tr.grounding), list(tr.input_chars)) == (
        2, {"train": 1, "test": 1}, {"fulltext": 1, "abstract": 1}, [0.5], [3, 4])
    assert (dict(tr.papers), dict(tr.fulltext_pmcids), dict(sq.papers), sq.no_paper) == (
        {"1": 1, "2": 1}, {"PMC1": 1}, {"2": 1}, 1)
    assert data.paper_splits == {"1": {"train"}, "2": {"test", "train"}}
    assert data.entity_splits == {"review_id": {"cochrane:CD1": {"test"}, "pubmed:2": {"train"}},
                                  "pmid": {"1": {"train"}, "2": {"test"}}, "pmcid": {"PMC1": {"train"}},
                                  "nct_id": {"NCT1": {"train", "test"}}}
    assert datacard.split_crossings(data) == {"review_id": (0, 2), "pmid": (0, 2), "pmcid": (0, 1),
                                              "nct_id": (1, 1), "papers": (1, 2)}
    # a trial in two splits (an output of an older build): the card says so, and which splits are empty
    text = section(datacard.render_card(data, plots=False), "Splits")
    assert "**Some reviews, trials or publications have records in more than one split**" in text
    assert ("ids with records in more than one split: 0 of the 2 reviews (`review_id`), 0 of the 2 publications "
            "(`pmid`), 0 of the 1 full texts (`pmcid`), 1 of the 1 trials (`nct_id`); **1** of the 2 papers") in text
    assert "Hold out by `pmid` or `nct_id` as well" in text and "No review, trial or publication" not in text
    assert "Records per split: train 2, validation 0, test 2. **No record is in `validation`**" in text
    assert datacard.fulltext_share(tr) == 0.5 and datacard.fulltext_share(sq) is None
    assert datacard.mean_grounding(sq) == 0.625
    datacard.add_articles(data, pa.RecordBatch.from_pylist([
        {"pmid": "2", "pub_year": 2020, "doi": "10.1/x"}, {"pmid": "9", "pub_year": 2001, "doi": None}]))
    assert datacard.year_counts(data) == ({2020: {"trial_results": 1, "search_query": 1}},
                                          {**{t: 0 for t in TASKS}, "trial_results": 1, "search_query": 1})
    assert (data.articles, data.synthetic_articles) == (2, 0)


@pytest.mark.parametrize("url, text, name", [
    ("https://creativecommons.org/licenses/by/4.0/", None, "CC BY 4.0"),
    ("http://creativecommons.org/licenses/by-nc-nd/3.0/igo/", "", "CC BY-NC-ND 3.0 IGO"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", None, "CC0 1.0"),
    (None, "Distributed under the terms of CC BY-SA 4.0.", "CC BY-SA 4.0"),
    (None, "This article is available under the CC-BY licence.", "CC BY"),
    ("https://www.elsevier.com/open-access/userlicense/1.0/", None, "other"),
    (None, None, "not stated"),
])
def test_licence_names(url, text, name):
    assert datacard.licence_name(url, text) == name


def test_grounding_bins_put_tenths_in_their_own_bin():
    values = [0.0, 0.1, 0.3, 0.6, 0.7, 0.99, 1.0]
    assert datacard._histogram(values, 0.0, 1.0, 10) == [1, 1, 0, 1, 0, 0, 1, 1, 0, 2]
    assert datacard._histogram([5, 7, 10, 15], 5, 15, 2) == [2, 2]


def test_size_categories():
    assert [datacard.size_category(n) for n in (0, 999, 1000, 226_000, 12_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "100K<n<1M", "10M<n<100M"]
