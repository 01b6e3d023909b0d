// The dslc extension: the TextMate grammar is declared in package.json; this starts
// the language server (`dslc lsp`, over stdio) for `.nn` files through
// vscode-languageclient. `dslc.server.path` picks the executable.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("dslc");
  const command = config.get("server.path") || "dslc";
  const args = config.get("server.args") || ["lsp"];
  return { command, args, transport: TransportKind.stdio };
}

async function activate(context) {
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "dslc" },
      { scheme: "untitled", language: "dslc" },
    ],
  };
  client = new LanguageClient("dslc", "dslc language server", serverOptions(), clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("dslc.server") && client) {
        await client.stop();
        client = new LanguageClient("dslc", "dslc language server", serverOptions(),
                                    clientOptions);
        await start();
      }
    }),
  );
  await start();
}

async function start() {
  try {
    await client.start();
  } catch (error) {
    const { command, args } = serverOptions();
    vscode.window.showErrorMessage(
      `dslc: could not start the language server \`${command} ${args.join(" ")}\` ` +
      `(${error.message}). Install dslc (pip install 'dslc[editor]') or set ` +
      "`dslc.server.path` to the dslc executable.");
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
