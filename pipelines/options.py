"""Pipeline options, one ``PipelineOptions`` subclass per pipeline (kept apart from the pipeline
modules so that ``python -m pipelines.build`` registers each option once)."""
from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.joins.link import REVIEW_PUBLICATION_TYPES

DEFAULT_OUTPUT = "output"


class BuildOptions(PipelineOptions):
    """Options of the build job."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--input_root", default=None,
                            help="Raw zone (local dir or gs://) holding any of pubmed/, pmc/, ctgov/, links/. "
                                 "Default: the embedded sample corpus, generated into <output>/sample_input.")
        parser.add_argument("--output", default=DEFAULT_OUTPUT, help="Output root (local dir or gs://).")
        parser.add_argument("--snapshot_date", default=None,
                            help="created_at of the records (YYYY-MM-DD); default: today (UTC).")
        parser.add_argument("--num_shards", type=int, default=0,
                            help="Parquet shards per task/table; 0 lets the runner decide.")
        parser.add_argument("--max_input_chars", type=int, default=0,
                            help="Cut paper text in task inputs at this many characters (0 = no limit).")
        parser.add_argument("--topic_negatives", type=int, default=3,
                            help="Topic-near hard negatives added per review for screening (0 = none).")
        parser.add_argument("--review_publication_types", default=",".join(REVIEW_PUBLICATION_TYPES),
                            help="PubMed publication types that make a record a review whose references "
                                 "are candidate studies (comma-separated).")
