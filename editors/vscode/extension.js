// The client: starts `rewardrules lsp` (the setting `rewardrules.server.command`)
// for rule files, matching files and rule tests, and starts it again when a
// setting of ours changes; everything else is the server's (docs/editor.md).
// Tested without VS Code by test/client.test.js (a fake `vscode` module).
"use strict";

const path = require("path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

const DEFAULT_COMMAND = ["rewardrules", "lsp"];

// The documents the server answers for: rule files and matching files (both
// `*.rules`, the language `rewardrules`), saved or not, and rule tests.
const DOCUMENT_SELECTOR = [
  { scheme: "file", language: "rewardrules" },
  { scheme: "untitled", language: "rewardrules" },
  { scheme: "file", pattern: "**/*.test.toml" },
];

let client;
// Starts and stops in the order asked: two quick setting changes must not
// leave two servers running.
let queue = Promise.resolve();

function queued(step) {
  queue = queue.then(step, step);
  return queue;
}

/**
 * The server's command line from the settings. A relative path with a
 * directory in it (`.venv/bin/rewardrules`) is the workspace's, not the
 * editor's working directory; a bare name is looked up on PATH.
 * Returns a message instead when the setting cannot be a command.
 */
function serverCommand(settings, folders) {
  const value = settings.get("server.command", DEFAULT_COMMAND);
  if (!Array.isArray(value) || value.length === 0 || !value.every((part) => typeof part === "string" && part !== "")) {
    return { error: "rewardrules.server.command must be a list of words, such as [\"rewardrules\", \"lsp\"]" };
  }
  let [command, ...args] = value;
  if (!path.isAbsolute(command) && /[\\/]/.test(command) && folders && folders.length > 0) {
    command = path.join(folders[0].uri.fsPath, command);
  }
  return { command, args };
}

/** Start a client with the current settings (none if they are wrong). */
async function start() {
  const settings = vscode.workspace.getConfiguration("rewardrules");
  const server = serverCommand(settings, vscode.workspace.workspaceFolders);
  if (server.error) {
    vscode.window.showErrorMessage(server.error);
    return;
  }
  client = new LanguageClient(
    "rewardrules",
    "rewardrules",
    { command: server.command, args: server.args },
    {
      documentSelector: DOCUMENT_SELECTOR,
      initializationOptions: { strict: settings.get("strict", true) },
    },
  );
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    const line = [server.command, ...server.args].join(" ");
    vscode.window.showErrorMessage(
      `rewardrules: could not start \`${line}\` (${error && error.message ? error.message : error}). ` +
        "Install rewardrules with its lsp extra (pip install 'rewardrules[lsp]') or set rewardrules.server.command.",
    );
  }
}

/** Stop the running client, if there is one. */
async function stop() {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop();
  }
}

function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("rewardrules")) {
        return queued(async () => {
          await stop();
          await start();
        });
      }
    }),
  );
  return queued(start);
}

function deactivate() {
  return queued(stop);
}

module.exports = { activate, deactivate, serverCommand, DOCUMENT_SELECTOR };
