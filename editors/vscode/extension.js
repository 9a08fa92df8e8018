// The client: starts `rewardrules lsp` (the setting `rewardrules.server.command`)
// for rule files and rule tests; everything else is the server's (docs/editor.md).
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const settings = vscode.workspace.getConfiguration("rewardrules");
  const [command, ...args] = settings.get("server.command", ["rewardrules", "lsp"]);
  client = new LanguageClient(
    "rewardrules",
    "rewardrules",
    { command, args },
    {
      documentSelector: [
        { scheme: "file", language: "rewardrules" },
        { scheme: "file", pattern: "**/*.test.toml" },
      ],
      initializationOptions: { strict: settings.get("strict", true) },
    },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
