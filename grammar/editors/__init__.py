"""Editor support generated from grammar/vocabulary.py: the VS Code extension in
`vscode/` and `generate`, which writes its TextMate grammar."""
