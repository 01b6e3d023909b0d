"""The compiler: AST to IR (`frontend/`), the op registry (`ops/`), passes (`passes/`),
backends (`backends/`), the pipeline, the command line (`driver.py`, `commands.py`) and
the embedding API (`api.py`); above them the editor tooling (`editor/`) and, on top, the
`dslc` console script (`cli.py`)."""
