// The playground's Python, in a worker so the page answers while it runs:
// loads Pyodide, the project's wheel and its dependencies (all from this
// folder) and bridge.py, then answers the page's requests in order.
"use strict";

importScripts("pyodide/pyodide.js");

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) { throw new Error(`${url}: ${response.status}`); }
  return response.arrayBuffer();
}

const ready = (async () => {
  const manifest = await (await fetch("manifest.json")).json();
  const pyodide = await loadPyodide({
    indexURL: new URL("pyodide/", self.location.href).href, stdout: () => {}, stderr: () => {},
  });
  const [wheel, dependencies, bridge] = await Promise.all([
    fetchBytes(manifest.wheel), fetchBytes(manifest.dependencies), fetch("bridge.py").then((r) => r.text()),
  ]);
  const sitePackages = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  pyodide.unpackArchive(dependencies, "zip", { extractDir: sitePackages });
  pyodide.unpackArchive(wheel, "wheel", { extractDir: sitePackages });
  const namespace = pyodide.globals.get("dict")();
  pyodide.runPython(bridge, { globals: namespace });
  return { analyse: namespace.get("analyse"), fmt: namespace.get("fmt") };
})();

// One request: {id, op: "analyse" | "fmt", args}; one answer: {id, text}
// (the bridge's JSON) or {id, error}.
self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    const bridge = await ready;
    if (op !== "analyse" && op !== "fmt") { throw new Error(`no operation ${op}`); }
    self.postMessage({ id, text: bridge[op](...args) });
  } catch (error) {
    self.postMessage({ id, error: String(error && error.message ? error.message : error) });
  }
};
