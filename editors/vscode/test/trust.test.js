// Workspace trust (extension.js, package.json's `untrustedWorkspaces`): a
// workspace not trusted must not choose the program the client starts.
// VS Code keeps its settings out (`restrictedConfigurations`); the client
// refuses a server path inside it, and starts the server once trust is
// granted. `vscode` and the client library are fakes; run by
// tests/test_review_vscode.py with `node --test` (no node_modules needed).
"use strict";

const assert = require("node:assert/strict");
const Module = require("node:module");
const path = require("node:path");
const { test, beforeEach } = require("node:test");

const EXTENSION = process.env.REWARDRULES_EXTENSION || path.join(__dirname, "..");

const seen = { clients: [], errors: [], granted: [] };
let settings = {};
let trusted = false;
const folders = [{ uri: { fsPath: "/home/ann/cloned" } }];

class FakeClient {
  constructor(id, name, server) {
    Object.assign(this, { server, state: "new" });
    seen.clients.push(this);
  }
  async start() {
    this.state = "running";
  }
  async stop() {
    this.state = "stopped";
  }
}

const fakeVscode = {
  workspace: {
    getConfiguration: () => ({ get: (key, fallback) => (key in settings ? settings[key] : fallback) }),
    workspaceFolders: folders,
    get isTrusted() {
      return trusted;
    },
    onDidChangeConfiguration: () => ({ dispose() {} }),
    onDidGrantWorkspaceTrust(listener) {
      seen.granted.push(listener);
      return { dispose() {} };
    },
  },
  window: { showErrorMessage: (message) => seen.errors.push(message) },
};

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") {
    return fakeVscode;
  }
  if (request === "vscode-languageclient/node") {
    return { LanguageClient: FakeClient };
  }
  return load.call(this, request, parent, isMain);
};

const extension = require(path.join(EXTENSION, "extension.js"));

beforeEach(async () => {
  await extension.deactivate();
  seen.clients.length = 0;
  seen.errors.length = 0;
  seen.granted.length = 0;
  settings = {};
  trusted = false;
});

test("not trusted: a server path inside the workspace is refused, with why", async () => {
  settings = { "server.command": [".venv/bin/rewardrules", "lsp"] };
  await extension.activate({ subscriptions: [] });
  assert.equal(seen.clients.length, 0);
  assert.equal(seen.errors.length, 1);
  assert.match(seen.errors[0], /`\.venv\/bin\/rewardrules` would be a program of this workspace, which is not trusted/);
});

test("not trusted: a name on PATH or an absolute path starts the server", async () => {
  await extension.activate({ subscriptions: [] });
  assert.deepEqual(seen.clients[0].server, { command: "rewardrules", args: ["lsp"] });
  assert.deepEqual(
    extension.serverCommand({ get: () => ["/opt/rr/bin/rewardrules", "lsp"] }, folders, false),
    { command: "/opt/rr/bin/rewardrules", args: ["lsp"] },
  );
});

test("trust granted: the workspace's server starts", async () => {
  settings = { "server.command": [".venv/bin/rewardrules", "lsp"] };
  await extension.activate({ subscriptions: [] });
  assert.equal(seen.granted.length, 1);
  trusted = true;
  await seen.granted[0]();
  assert.equal(seen.clients.length, 1);
  assert.deepEqual(seen.clients[0].server, { command: path.join("/home/ann/cloned", ".venv/bin/rewardrules"), args: ["lsp"] });
  assert.equal(seen.clients[0].state, "running");
});
