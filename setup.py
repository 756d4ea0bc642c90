"""Packaging for leadsinstruct (also used by Dataflow workers through --setup_file)."""
import setuptools

setuptools.setup(
    name="leadsinstruct",
    version="0.1.0",
    description="Beam pipelines that build LEADS-style instruction data from PubMed, PMC and ClinicalTrials.gov",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["pipelines", "pipelines.*", "transforms", "transforms.*",
                                               "schemas", "schemas.*", "synth", "synth.*", "fetching",
                                               "fetching.*"]),
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "pyarrow>=17",
        "biopython>=1.80",
        "lxml>=5",
        "requests>=2.31",
        "google-cloud-storage>=2.10",
        "matplotlib>=3.8",
        "pyyaml>=5.4",
        "numpy>=1.24",
        "tokenizers>=0.15",
        "safetensors>=0.4",
    ],
    extras_require={"test": ["pytest>=8", "gcp-storage-emulator", "datasets", "wheel"]},
    entry_points={"console_scripts": ["leadsinstruct=pipelines.cli:main"]},
)
