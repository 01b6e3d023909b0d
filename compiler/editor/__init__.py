"""Editor tooling, above the driver and the embedding API and derived from the compiler's
own vocabulary: the word lists (`vocabulary`), the Pygments lexer and terminal
highlighter, the TextMate generator (`textmate`) with the VS Code extension it feeds
(`vscode/`), and the language server (`lsp/`) behind `dslc lsp`.
"""
