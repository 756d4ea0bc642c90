"""Export for fine-tuning (``pipelines/export.py``) on a build of the embedded sample, and reading the
build's Parquet shards and the exported JSON Lines with HuggingFace ``datasets`` (offline)."""
from __future__ import annotations

import glob
import json
import os
from collections import Counter

import pyarrow.parquet as pq
import pytest

from pipelines.export import SortedLines, export, keep, main, to_example
from tests.test_build_pipeline import run_build

SPLIT_COUNTS = {  # records per task and split in the sample build: no record is in validation
    "arm_design": {"train": 17, "validation": 0, "test": 7},
    "participant_statistics": {"train": 48, "validation": 0, "test": 20},
    "screening": {"train": 19, "validation": 0, "test": 8},
    "search_query": {"train": 4, "validation": 0, "test": 1},
    "study_characteristics": {"train": 17, "validation": 0, "test": 7},
    "trial_results": {"train": 52, "validation": 0, "test": 20},
}
FILES = {"test.jsonl": 63, "train.jsonl": 157}  # the default export: no validation.jsonl (it would be empty)
METADATA = ("id", "task", "split", "review_id", "pmid", "pmcid", "nct_id", "evidence", "grounding")


@pytest.fixture(scope="module")
def built(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    run_build(sample_dir, out)
    return out


@pytest.fixture(scope="module")
def records(built):
    """Every record of the shards, read with pyarrow alone: {id: row}."""
    rows = {}
    for f in sorted(glob.glob(f"{built}/tasks/task=*/*.parquet")):
        for row in pq.read_table(f).to_pylist():
            rows[row["id"]] = row
    return rows


@pytest.fixture(scope="module")
def chat(built, tmp_path_factory):
    """The default export (chat form) with metadata."""
    to = tmp_path_factory.mktemp("chat")
    return to, export(str(built), str(to), metadata=True)


def read_lines(path) -> list[dict]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


def read_bytes(folder) -> dict:
    return {os.path.relpath(p, folder): open(p, "rb").read()
            for p in sorted(glob.glob(f"{folder}/**/*", recursive=True)) if os.path.isfile(p)}


# --------------------------------------------------------------------------- pure helpers
def test_to_example_forms():
    row = {"id": "trial_results:ab", "task": "trial_results", "split": "test", "review_id": None, "pmid": "1",
           "pmcid": None, "nct_id": "NCT00000001", "evidence": "abstract", "grounding": 0.5, "system": "S",
           "instruction": "I", "input": "X", "output": "{}",
           "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "I\n\nX"},
                        {"role": "assistant", "content": "{}"}]}
    assert to_example(row, "chat") == {"messages": row["messages"]}
    assert to_example(row, "sharegpt") == {"conversations": [
        {"from": "system", "value": "S"}, {"from": "human", "value": "I\n\nX"}, {"from": "gpt", "value": "{}"}]}
    assert to_example(row, "alpaca", metadata=True) == {
        "system": "S", "instruction": "I", "input": "X", "output": "{}",
        "metadata": {"id": "trial_results:ab", "task": "trial_results", "split": "test", "review_id": None,
                     "pmid": "1", "pmcid": None, "nct_id": "NCT00000001", "evidence": "abstract", "grounding": 0.5}}
    with pytest.raises(ValueError):
        to_example(row, "openai")
    assert keep({"grounding": None}, 0.9) == (True, None)
    assert keep({"grounding": 0.5}, 0.5) == (True, None)
    assert keep({"grounding": 0.4999}, 0.5) == (False, "low_grounding")
    assert keep({"grounding": 0.1}, None) == (True, None)


def test_sorted_lines_merges_spilled_runs(tmp_path):
    keys = [("t", f"{(i * 7919) % 200:03d}") for i in range(200)]  # a permutation of 000..199
    s = SortedLines(str(tmp_path), buffer_bytes=1)  # every line spills: 200 runs, merged in levels of 64
    for k in keys:
        s.add("a.jsonl", k, f"{k[1]}\n".encode())
    s.add("b.jsonl", ("t", "x"), b"x\n")
    assert s.runs == 201
    assert list(s.lines("a.jsonl")) == [f"{i:03d}\n".encode() for i in range(200)]
    assert list(s.lines("b.jsonl")) == [b"x\n"]
    # 200 runs -> 137 -> 74 -> 11 merged at once; the runs merged into others are gone
    assert s.runs == 204
    assert sorted(os.listdir(tmp_path)) == [f"run-{i:06d}" for i in range(190, 201)] + ["run-000203"]


# --------------------------------------------------------------------------- the export
def test_chat_export_is_the_records(chat, records):
    to, summary = chat
    assert summary["counts"] == {t: dict(c) for t, c in SPLIT_COUNTS.items()}
    assert summary["files"] == FILES
    assert summary["total"] == 220 == len(records) == sum(FILES.values())
    assert summary["dropped_low_grounding"] == {t: 0 for t in SPLIT_COUNTS}
    assert summary["sort_runs"] == 0
    # the shards have no validation record: the export still asks for all three splits, counts 0 for
    # validation in every task and writes no (empty) validation.jsonl
    assert summary["splits"] == ["train", "validation", "test"]
    assert sorted({r["split"] for r in records.values()}) == ["test", "train"]
    assert sorted(os.listdir(to)) == ["export.json", "test.jsonl", "train.jsonl"]
    assert json.load(open(to / "export.json")) == {k: v for k, v in summary.items() if k != "sort_runs"}
    for split in ("train", "validation", "test"):
        n = sum(1 for r in records.values() if r["split"] == split)
        assert n == sum(c[split] for c in summary["counts"].values()) == summary["files"].get(f"{split}.jsonl", 0)
        if not n:
            assert not (to / f"{split}.jsonl").exists()
            continue
        lines = read_lines(to / f"{split}.jsonl")
        assert len(lines) == sum(1 for r in records.values() if r["split"] == split)
        for line in lines:
            assert set(line) == {"messages", "metadata"}
            rec = records[line["metadata"]["id"]]
            assert line["metadata"] == {k: rec[k] for k in METADATA}
            assert rec["split"] == split
            assert line["messages"] == rec["messages"]
            assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
            assert line["messages"][0]["content"] == rec["system"]
            assert line["messages"][1]["content"] == f"{rec['instruction']}\n\n{rec['input']}"
            assert line["messages"][2]["content"] == rec["output"]
        order = [(x["metadata"]["task"], x["metadata"]["id"]) for x in lines]
        assert order == sorted(order) and len(set(order)) == len(order)


def test_export_is_byte_identical_and_memory_bound(built, chat, tmp_path):
    to, _ = chat
    first = read_bytes(to)
    again = export(str(built), str(to), metadata=True)  # over the first one
    assert read_bytes(to) == first
    spilled = export(str(built), str(tmp_path / "small"), metadata=True, sort_buffer_bytes=1, batch_rows=7)
    assert spilled["sort_runs"] == 220 + 2  # one run per record, + 2 merges of 64 (train: 157 runs; test: 63)
    small = read_bytes(tmp_path / "small")
    assert {k: v for k, v in small.items() if k != "export.json"} == {
        k: v for k, v in first.items() if k != "export.json"}
    assert {**json.loads(small["export.json"]), "to": None} == {
        **json.loads(first["export.json"]), "to": None} == {
        **{k: v for k, v in again.items() if k != "sort_runs"}, "to": None}


def test_filters_give_exact_counts(built, records, tmp_path):
    s = export(str(built), str(tmp_path / "a"), tasks=["trial_results", "screening"], splits=["validation", "test"])
    assert s["counts"] == {"screening": {"validation": 0, "test": 8}, "trial_results": {"validation": 0, "test": 20}}
    assert s["files"] == {"test.jsonl": 28} and s["total"] == 28
    assert sorted(os.listdir(tmp_path / "a")) == ["export.json", "test.jsonl"]
    test_lines = read_lines(tmp_path / "a" / "test.jsonl")
    assert set(test_lines[0]) == {"messages"}  # no metadata unless asked
    want = sorted((r["task"], r["id"]) for r in records.values()
                  if r["split"] == "test" and r["task"] in ("screening", "trial_results"))
    assert [x["messages"] for x in test_lines] == [records[i]["messages"] for _, i in want]

    for threshold, dropped in ((0.5, {"study_characteristics": 13}), (0.9, {"study_characteristics": 24,
                                                                           "search_query": 1})):
        s = export(str(built), str(tmp_path / f"g{threshold}"), min_grounding=threshold, metadata=True)
        kept = [r for r in records.values() if r["grounding"] is None or r["grounding"] >= threshold]
        assert s["total"] == len(kept) == 220 - sum(dropped.values())
        assert s["dropped_low_grounding"] == {t: dropped.get(t, 0) for t in SPLIT_COUNTS}
        assert sorted(s["files"]) == sorted(f"{sp}.jsonl" for sp in {r["split"] for r in kept}) == sorted(FILES)
        ids = {x["metadata"]["id"] for name in s["files"] for x in read_lines(tmp_path / f"g{threshold}" / name)}
        assert ids == {r["id"] for r in kept}
    # the boundary is kept, and screening (no grounding) always is
    assert any(r["grounding"] == 0.5 for r in records.values())
    s = export(str(built), str(tmp_path / "g1"), min_grounding=1.0, tasks=["screening", "study_characteristics"])
    assert s["total"] == 27 and s["dropped_low_grounding"] == {"screening": 0, "study_characteristics": 24}
    assert s["files"] == {"test.jsonl": 8, "train.jsonl": 19}


def test_export_of_an_empty_split_writes_no_file_and_says_so(built, records, tmp_path, capsys):
    """The sample has no validation record: exporting only that split works, counts 0, writes no data file
    (and removes one an earlier export left)."""
    assert not any(r["split"] == "validation" for r in records.values())
    to = tmp_path / "v"
    to.mkdir()
    (to / "validation.jsonl").write_bytes(b'{"messages": []}\n')  # left by an earlier export
    s = export(str(built), str(to), splits=["validation"], metadata=True)
    assert s["counts"] == {t: {"validation": 0} for t in SPLIT_COUNTS}
    assert (s["files"], s["total"], s["splits"]) == ({}, 0, ["validation"])
    assert sorted(os.listdir(to)) == ["export.json"]
    assert json.load(open(to / "export.json"))["counts"] == s["counts"]
    assert main([str(built), "--to", str(tmp_path / "cli"), "--splits", "validation"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["task", "validation", "dropped"]
    assert [line.split() for line in out[2:8]] == [[t, "0", "0"] for t in sorted(SPLIT_COUNTS)]
    assert out[-1] == f"0 examples (chat) in 0 files under {tmp_path}/cli/ ({tmp_path}/cli/export.json)"
    assert sorted(os.listdir(tmp_path / "cli")) == ["export.json"]


def test_per_task_sharegpt_and_alpaca(built, records, tmp_path):
    s = export(str(built), str(tmp_path / "sg"), fmt="sharegpt", per_task=True, metadata=True)
    expected = {f"{t}/{sp}.jsonl": n for t, c in SPLIT_COUNTS.items() for sp, n in c.items() if n}
    assert s["files"] == expected and len(expected) == 12  # no empty files (no task has a validation record)
    for name, n in expected.items():
        lines = read_lines(tmp_path / "sg" / name)
        assert len(lines) == n
        for line in lines:
            rec = records[line["metadata"]["id"]]
            assert (rec["task"], rec["split"]) == tuple(name[:-len(".jsonl")].split("/"))
            assert line["conversations"] == [{"from": f, "value": m["content"]}
                                             for f, m in zip(("system", "human", "gpt"), rec["messages"])]
    a = export(str(built), str(tmp_path / "al"), fmt="alpaca", tasks=["search_query"], splits=["test"])
    assert a["files"] == {"test.jsonl": 1}
    (rec,) = [r for r in records.values() if r["task"] == "search_query" and r["split"] == "test"]
    assert read_lines(tmp_path / "al" / "test.jsonl") == [
        {"system": rec["system"], "instruction": rec["instruction"], "input": rec["input"], "output": rec["output"]}]
    # a later export into the same folder removes the files of its layout that it leaves empty
    s = export(str(built), str(tmp_path / "sg"), fmt="sharegpt", per_task=True, min_grounding=1.0)
    assert s["dropped_low_grounding"] == {**{t: 0 for t in SPLIT_COUNTS}, "study_characteristics": 24,
                                          "search_query": 1}  # its only test record has grounding 0.875
    kept = {k: v for k, v in expected.items()
            if not k.startswith("study_characteristics/") and k != "search_query/test.jsonl"}
    assert s["files"] == kept and len(kept) == 9
    assert sorted(os.path.relpath(p, tmp_path / "sg") for p in glob.glob(f"{tmp_path}/sg/**/*.jsonl")) == sorted(kept)


def test_command_line(built, tmp_path, capsys):
    assert main([str(built), "--to", str(tmp_path / "c"), "--tasks", "arm_design,search_query",
                 "--splits", "train,test", "--min_grounding", "0.9"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["arm_design", "17", "7", "0"]
    assert out.splitlines()[3].split() == ["search_query", "4", "0", "1"]
    assert out.splitlines()[5].split() == ["total", "21", "7", "1"]
    assert sorted(os.listdir(tmp_path / "c")) == ["export.json", "test.jsonl", "train.jsonl"]
    assert len(read_lines(tmp_path / "c" / "train.jsonl")) == 21
    assert len(read_lines(tmp_path / "c" / "test.jsonl")) == 7
    assert main([str(built), "--format", "alpaca", "--tasks", "screening", "--splits", "test"]) == 0
    assert len(read_lines(built / "export" / "alpaca" / "test.jsonl")) == 8  # default --to
    with pytest.raises(SystemExit) as e:
        main([str(built), "--tasks", "no_such_task"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        main([str(built), "--splits", "dev"])
    assert main([str(tmp_path / "empty")]) == 1
    assert "no task shards" in capsys.readouterr().err


def test_export_from_gs_to_gs(gcs, built, chat, tmp_path):
    """Shards read from and files written to gs:// (a Cloud Storage emulator) through FileSystems."""
    to, _ = chat
    assert gcs.upload_tree(built / "tasks", "exp/out/tasks") == 6
    s = export(gcs.url("exp/out"), gcs.url("exp/jsonl"), metadata=True, sort_buffer_bytes=64 << 10)
    assert s["files"] == FILES and s["sort_runs"] > 0
    assert gcs.names("exp/jsonl") == ["export.json", "test.jsonl", "train.jsonl"]
    gcs.download_tree("exp/jsonl", tmp_path)
    assert {k: v for k, v in read_bytes(tmp_path).items() if k != "export.json"} == {
        k: v for k, v in read_bytes(to).items() if k != "export.json"}


# --------------------------------------------------------------------------- HuggingFace datasets
@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """``datasets``, offline, with its caches in a temporary folder."""
    home = tmp_path_factory.mktemp("hf_home")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1"), ("HF_HOME", str(home)),
                            ("HF_HUB_DISABLE_TELEMETRY", "1")):
            mp.setenv(name, value)
        import datasets
        datasets.disable_progress_bars()
        yield datasets


def test_datasets_reads_the_parquet_shards(hf, built, records, tmp_path):
    for task, counts in SPLIT_COUNTS.items():
        files = sorted(glob.glob(f"{built}/tasks/task={task}/*.parquet"))
        want = [r for f in files for r in pq.read_table(f).to_pylist()]
        ds = hf.load_dataset("parquet", data_files={"train": f"{built}/tasks/task={task}/*.parquet"},
                             cache_dir=str(tmp_path))["train"]
        assert ds.num_rows == len(want) == sum(counts.values())
        assert ds["id"] == [r["id"] for r in want]
        assert ds.to_list() == want
    ds = hf.load_dataset("parquet", data_files={"train": f"{built}/tasks/task=*/*.parquet"},
                         cache_dir=str(tmp_path))["train"]
    assert ds.num_rows == 220 and sorted(ds["id"]) == sorted(records)
    assert ds.features["messages"] == hf.List({"role": hf.Value("string"), "content": hf.Value("string")})
    assert ds.features["sources"] == hf.List(hf.Value("string"))
    assert ds.features["grounding"] == hf.Value("float64")
    row = next(r for r in ds if r["task"] == "study_characteristics" and r["pmcid"])
    rec = records[row["id"]]
    assert set(row) == set(rec) and len(rec) == 17
    for field in rec:  # field by field
        assert row[field] == rec[field], field
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][2] == {"role": "assistant", "content": rec["output"]}
    assert (row["evidence"], row["nct_id"].startswith("NCT"), row["split"] in SPLIT_COUNTS[row["task"]]) == (
        "fulltext", True, True)


def test_datasets_reads_the_jsonl_export(hf, chat, records, tmp_path):
    to, summary = chat
    # the splits that have records (the sample has no validation record, so no validation.jsonl)
    per_split = Counter(r["split"] for r in records.values())
    assert per_split == {"train": 157, "test": 63}
    files = {name[:-len(".jsonl")]: str(to / name) for name in summary["files"]}
    assert set(files) == set(per_split) == {"train", "test"}
    dd = hf.load_dataset("json", data_files=files, cache_dir=str(tmp_path / "a"))
    assert {k: v.num_rows for k, v in dd.items()} == per_split == {"train": 157, "test": 63}
    for split, ds in dd.items():
        assert ds.column_names == ["messages", "metadata"]
        assert ds["messages"] == [x["messages"] for x in read_lines(files[split])]
        assert ds["messages"] == [records[m["id"]]["messages"] for m in ds["metadata"]]
    assert dd["train"].features["messages"] == hf.List({"role": hf.Value("string"), "content": hf.Value("string")})
    # splits named from the file names (export.json is not data)
    dd = hf.load_dataset("json", data_dir=str(to), cache_dir=str(tmp_path / "b"))
    assert set(dd) == {"train", "test"}
    assert {k: v.num_rows for k, v in dd.items()} == per_split
