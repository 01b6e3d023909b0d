"""The compiler: AST to IR (`frontend/`), the op registry (`ops/`), passes (`passes/`),
backends (`backends/`), the pipeline, the `dslc` command (`driver.py`) and the embedding
API (`api.py`), plus the language server (`lsp/`)."""
