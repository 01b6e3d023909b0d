"""The VS Code extension packages offline into a `.vsix` (vsce, after `npm ci`) that
carries its manifest, grammar, language configuration and vscode-languageclient."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile

import pytest

from conftest import ROOT

EXTENSION = ROOT / "compiler" / "editor" / "vscode"


def require_node_modules() -> None:
    if not (EXTENSION / "node_modules" / ".bin" / "vsce").exists():
        pytest.fail(f"{EXTENSION.relative_to(ROOT)}/node_modules is missing: run `make test` "
                    f"(or `npm ci` there) to install the extension's packages")


@pytest.fixture(scope="module")
def vsix(tmp_path_factory):
    require_node_modules()
    out = tmp_path_factory.mktemp("vsix") / "dslc.vsix"
    result = subprocess.run(
        [str(EXTENSION / "node_modules" / ".bin" / "vsce"), "package", "--skip-license",
         "--allow-missing-repository", "--out", str(out)],
        cwd=EXTENSION, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_vsix_holds_the_extension_and_its_runtime_dependency(vsix):
    names = set(zipfile.ZipFile(vsix).namelist())
    for required in ("extension/package.json", "extension/extension.js",
                     "extension/language-configuration.json",
                     "extension/syntaxes/dslc.tmLanguage.json",
                     "extension/node_modules/vscode-languageclient/package.json",
                     "extension/node_modules/vscode-languageclient/node.js",
                     "extension/node_modules/vscode-jsonrpc/package.json"):
        assert required in names, required
    assert not any("vscode-tmgrammar-test" in n or "/@vscode/vsce/" in n for n in names)


def test_vsix_manifest_is_the_extensions(vsix):
    with zipfile.ZipFile(vsix) as archive:
        packaged = json.loads(archive.read("extension/package.json"))
    manifest = json.loads((EXTENSION / "package.json").read_text())
    assert packaged["name"] == manifest["name"] == "dslc"
    assert packaged["main"] == "./extension.js"
    assert packaged["engines"]["vscode"] == "^1.85.0"
    assert "dslc.server.path" in packaged["contributes"]["configuration"]["properties"]


def test_extension_script_starts_dslc_lsp():
    if shutil.which("node") is None:
        pytest.fail("node is not installed; the editor tests need Node 20")
    script = EXTENSION / "extension.js"
    subprocess.run(["node", "--check", str(script)], check=True)
    text = script.read_text()
    assert 'require("vscode-languageclient/node")' in text
    assert '["lsp"]' in text and 'config.get("server.path")' in text
    require_node_modules()
    resolved = subprocess.run(["node", "-e", "console.log(require.resolve("
                               "'vscode-languageclient/node'))"],
                              cwd=EXTENSION, capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr
