// The client (extension.js) without VS Code: `vscode` and
// `vscode-languageclient/node` are fakes that record what the extension asks
// of them. Run by tests/test_vscode_package.py with `node --test`; the
// extension is loaded from REWARDRULES_EXTENSION (the unpacked .vsix) or
// from this folder.
"use strict";

const assert = require("node:assert/strict");
const Module = require("node:module");
const path = require("node:path");
const { test, beforeEach } = require("node:test");

const EXTENSION = process.env.REWARDRULES_EXTENSION || path.join(__dirname, "..");

/** What the fakes saw: clients made, messages shown, listeners added. */
const seen = { clients: [], errors: [], listeners: [] };
let settings = {};
let folders;
let failStart;

class FakeClient {
  constructor(id, name, server, options) {
    Object.assign(this, { id, name, server, options, state: "new" });
    seen.clients.push(this);
  }
  async start() {
    if (failStart) {
      throw new Error(failStart);
    }
    this.state = "running";
  }
  async stop() {
    this.state = "stopped";
  }
}

const fakeVscode = {
  workspace: {
    getConfiguration(section) {
      assert.equal(section, "rewardrules");
      return { get: (key, fallback) => (key in settings ? settings[key] : fallback) };
    },
    get workspaceFolders() {
      return folders;
    },
    onDidChangeConfiguration(listener) {
      seen.listeners.push(listener);
      return { dispose() {} };
    },
  },
  window: {
    showErrorMessage(message) {
      seen.errors.push(message);
    },
  },
};

/** A stand-in for any part of `vscode` (for loading the real client library). */
function anything() {
  return new Proxy(function () {}, {
    get: (target, key) => (key === "prototype" ? {} : key === Symbol.toPrimitive ? undefined : anything()),
    construct: () => anything(),
    apply: () => anything(),
  });
}

let realClientLibrary = false;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "vscode") {
    return realClientLibrary ? anything() : fakeVscode;
  }
  if (request === "vscode-languageclient/node" && !realClientLibrary) {
    // the real one must be packaged next to the extension: resolve it from there
    require.resolve(request, { paths: [EXTENSION] });
    return { LanguageClient: FakeClient };
  }
  return load.call(this, request, parent, isMain);
};

const extension = require(path.join(EXTENSION, "extension.js"));

function context() {
  return { subscriptions: [] };
}

function change(affected) {
  return Promise.all(seen.listeners.map((listener) => listener({ affectsConfiguration: (s) => s === affected })));
}

beforeEach(async () => {
  await extension.deactivate();
  seen.clients.length = 0;
  seen.errors.length = 0;
  seen.listeners.length = 0;
  settings = {};
  folders = undefined;
  failStart = undefined;
});

test("starts `rewardrules lsp` from PATH by default, over stdio", async () => {
  await extension.activate(context());
  assert.equal(seen.clients.length, 1);
  const [client] = seen.clients;
  assert.deepEqual(client.server, { command: "rewardrules", args: ["lsp"] });
  assert.equal(client.state, "running");
  assert.deepEqual(client.options.initializationOptions, { strict: true });
});

test("serves rule files, matching files (also unsaved) and rule tests", async () => {
  await extension.activate(context());
  const selector = seen.clients[0].options.documentSelector;
  assert.deepEqual(selector, [
    { scheme: "file", language: "rewardrules" },
    { scheme: "untitled", language: "rewardrules" },
    { scheme: "file", pattern: "**/*.test.toml" },
  ]);
});

test("the command and strictness come from the settings", async () => {
  settings = { "server.command": ["/opt/rr/bin/rewardrules", "lsp"], strict: false };
  await extension.activate(context());
  assert.deepEqual(seen.clients[0].server, { command: "/opt/rr/bin/rewardrules", args: ["lsp"] });
  assert.deepEqual(seen.clients[0].options.initializationOptions, { strict: false });
});

test("a relative path is the workspace's, a bare name is PATH's", async () => {
  folders = [{ uri: { fsPath: "/home/ann/shop" } }];
  settings = { "server.command": [".venv/bin/rewardrules", "lsp"] };
  await extension.activate(context());
  assert.equal(seen.clients[0].server.command, path.join("/home/ann/shop", ".venv/bin/rewardrules"));
  assert.deepEqual(extension.serverCommand({ get: () => ["rewardrules", "lsp"] }, folders), {
    command: "rewardrules",
    args: ["lsp"],
  });
});

test("a setting that cannot be a command is an error message, no server", async () => {
  for (const wrong of [[], "rewardrules lsp", ["rewardrules", 3], [""]]) {
    settings = { "server.command": wrong };
    await extension.activate(context());
  }
  assert.equal(seen.clients.length, 0);
  assert.equal(seen.errors.length, 4);
  assert.match(seen.errors[0], /rewardrules\.server\.command must be a list of words/);
});

test("a server that does not start is an error message naming the command", async () => {
  failStart = "spawn rewardrules ENOENT";
  await extension.activate(context());
  assert.equal(seen.errors.length, 1);
  assert.match(seen.errors[0], /could not start `rewardrules lsp` \(spawn rewardrules ENOENT\)/);
  assert.match(seen.errors[0], /rewardrules\[lsp\]/);
  await extension.deactivate(); // nothing running: nothing to stop
});

test("a change of our settings restarts the server with them; others do not", async () => {
  await extension.activate(context());
  await change("editor");
  assert.equal(seen.clients.length, 1);
  settings = { strict: false };
  await change("rewardrules");
  assert.equal(seen.clients.length, 2);
  assert.equal(seen.clients[0].state, "stopped");
  assert.equal(seen.clients[1].state, "running");
  assert.deepEqual(seen.clients[1].options.initializationOptions, { strict: false });
});

test("two quick changes leave one server running", async () => {
  await extension.activate(context());
  await Promise.all([change("rewardrules"), change("rewardrules")]);
  assert.deepEqual(
    seen.clients.map((client) => client.state),
    ["stopped", "stopped", "running"],
  );
});

test("deactivate stops the server", async () => {
  const ctx = context();
  await extension.activate(ctx);
  assert.equal(ctx.subscriptions.length, 1); // the settings listener, disposed by VS Code
  await extension.deactivate();
  assert.equal(seen.clients[0].state, "stopped");
});

test("the client library is there, next to the extension, and loads", () => {
  realClientLibrary = true;
  try {
    const library = require(require.resolve("vscode-languageclient/node", { paths: [EXTENSION] }));
    assert.equal(typeof library.LanguageClient, "function");
  } finally {
    realClientLibrary = false;
  }
});
