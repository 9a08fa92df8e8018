// The rewardrules playground: the page's side. Python (Pyodide, served from
// this folder) runs the real CLI on the editors' text (bridge.py); this file
// loads it, sends it the text as the user types (debounced), and shows the
// answers. Everything shown is text set with textContent: rule files,
// ledgers and shared links are untrusted and never become markup or code.
"use strict";

(() => {
  const DEBOUNCE_MS = 300;
  // Limits of a shared link: its fragment, and the text it inflates to.
  const MAX_FRAGMENT = 200000;
  const MAX_SHARED_BYTES = 2 * 1024 * 1024;
  // Largest ledger a file upload reads (the playground is for small ones).
  const MAX_UPLOAD = 2 * 1024 * 1024;
  const SHARE_PREFIX = "#s=";

  const $ = (id) => document.getElementById(id);
  const ui = {
    example: $("example"), format: $("format"), share: $("share"), shareUrl: $("share-url"),
    strict: $("strict"), asOf: $("as-of"), status: $("status"), rules: $("rules"), gutter: $("gutter"),
    rulesName: $("rules-name"), diagnostics: $("diagnostics"), bounds: $("bounds"), ledger: $("ledger"),
    ledgerName: $("ledger-name"), upload: $("upload"), awards: document.querySelector("#awards tbody"),
    totals: $("totals"), explain: $("explain"), scoreJson: $("score-json"), scoreProblem: $("score-problem"),
  };
  const state = {
    name: "playground", ledgerName: "ledger.jsonl", examples: [], edited: 0, shown: 0, timer: null,
    ready: false, notice: "", running: false, again: false,
  };

  function setStatus(text) { ui.status.textContent = text; }

  // ---- the editor's line numbers, marked where a diagnostic points ----
  function drawGutter(marks) {
    const count = ui.rules.value.split("\n").length;
    const lines = [];
    for (let n = 1; n <= count; n++) {
      const span = document.createElement("span");
      span.textContent = String(n);
      const mark = marks && marks.get(n);
      if (mark) { span.className = mark; }
      lines.push(span, document.createTextNode("\n"));
    }
    ui.gutter.replaceChildren(...lines);
    ui.gutter.scrollTop = ui.rules.scrollTop;
  }
  let lastMarks = new Map();
  ui.rules.addEventListener("scroll", () => { ui.gutter.scrollTop = ui.rules.scrollTop; });

  // ---- running the engine (in worker.js, so typing never waits for it) ----
  const worker = new Worker("worker.js");
  const waiting = new Map();
  let requests = 0;
  worker.onmessage = (event) => {
    const { id, text, error } = event.data;
    const pending = waiting.get(id);
    waiting.delete(id);
    if (error === undefined) { pending.resolve(JSON.parse(text)); } else { pending.reject(new Error(error)); }
  };

  function call(op, ...args) {
    requests += 1;
    const id = requests;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, args });
    });
  }

  function edited() {
    state.edited += 1;
    document.body.dataset.edited = String(state.edited);
    document.body.dataset.busy = "true";
    drawGutter(lastMarks);
    clearTimeout(state.timer);
    state.timer = setTimeout(analyse, DEBOUNCE_MS);
  }

  // One run at a time: edits made while one runs are run together after it.
  async function analyse() {
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    try {
      await analyseOnce();
    } finally {
      state.running = false;
    }
    if (state.again) {
      state.again = false;
      analyse();
    }
  }

  async function analyseOnce() {
    const revision = state.edited;
    if (state.ready) { setStatus("running…"); }
    let answer;
    try {
      answer = await call("analyse", state.name, ui.rules.value, state.ledgerName, ui.ledger.value,
        ui.asOf.value, ui.strict.checked);
    } catch (error) {
      setStatus(`${state.ready ? "internal error" : "the playground could not start"}: ${error.message}`);
      return;
    }
    state.shown = revision;
    show(answer);
    if (!state.ready) {
      state.ready = true;
      ui.format.disabled = false;
      ui.share.disabled = false;
    }
    document.body.dataset.analysed = String(revision);
    // what a test (or a person's script) waits for: the last edit answered
    if (revision === state.edited) {
      document.body.dataset.busy = "false";
      setStatus(state.notice || "ready");
      state.notice = "";
    }
  }

  function show(answer) {
    ui.rulesName.textContent = answer.rules_path;
    ui.ledgerName.textContent = answer.ledger_path;
    const check = answer.check;
    ui.diagnostics.textContent = (check.stdout + check.stderr).trimEnd();
    lastMarks = new Map();
    for (const d of answer.diagnostics) {
      for (let line = d.line; line <= Math.max(d.line, d.end_line || d.line); line++) {
        if (lastMarks.get(line) !== "error") { lastMarks.set(line, d.severity === "error" ? "error" : "warning"); }
      }
    }
    drawGutter(lastMarks);
    ui.bounds.textContent = answer.bounds ? answer.bounds.stdout.trimEnd() : "(no bounds: the rule file has errors)";
    showScore(answer);
  }

  function showScore(answer) {
    const score = answer.score;
    ui.awards.replaceChildren();
    ui.totals.replaceChildren();
    ui.scoreProblem.hidden = true;
    ui.scoreJson.textContent = "";
    ui.explain.textContent = answer.explain ? answer.explain.stdout.trimEnd() : "";
    if (!score) { return; }
    if (score.code !== 0) {
      ui.scoreProblem.hidden = false;
      ui.scoreProblem.textContent = (score.stdout + score.stderr).trimEnd();
      return;
    }
    ui.scoreJson.textContent = score.stdout;
    const data = JSON.parse(score.stdout);
    for (const award of data.awards) {
      const row = document.createElement("tr");
      row.dataset.id = award.id;
      const reward = award.kind === "item" ? `item ${award.item}`
        : `${award.kind} ${award.amount === null ? "(no amount)" : award.amount} ${award.unit}`;
      for (const [value, cls] of [[award.at], [award.milestone], [award.role], [award.beneficiary],
        [award.referee], [reward], [award.status, `status-${award.status}`]]) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        if (cls) { cell.className = cls; }
        row.append(cell);
      }
      ui.awards.append(row);
    }
    for (const total of data.totals) {
      const item = document.createElement("li");
      item.textContent = total.each
        ? `${total.kind} ${total.status}: ${total.count} award(s) of ${total.amount} ${total.unit}`
        : `${total.kind} ${total.status}: ${total.amount} ${total.unit} in ${total.count} award(s)`;
      ui.totals.append(item);
    }
  }

  async function format() {
    document.body.dataset.busy = "true";
    let done = null;
    try {
      done = await call("fmt", state.name, ui.rules.value);
    } catch (error) {
      setStatus(`internal error: ${error.message}`);
    }
    if (done && done.code === 0 && done.text !== ui.rules.value) {
      ui.rules.value = done.text;
      edited();
      return;
    }
    if (done && done.code !== 0) { setStatus("not formatted: fix the syntax errors first"); }
    if (state.shown === state.edited) { document.body.dataset.busy = "false"; }
  }

  // ---- examples ----
  function pick(name) {
    const example = state.examples.find((e) => e.name === name);
    if (!example) { return; }
    load({ name: example.name, rules: example.rules, ledgerName: example.ledger_name, ledger: example.ledger, asOf: "" });
  }

  function load(content) {
    state.name = content.name;
    state.ledgerName = content.ledgerName;
    ui.rules.value = content.rules;
    ui.ledger.value = content.ledger;
    ui.asOf.value = content.asOf;
    ui.example.value = state.examples.some((e) => e.name === content.name) ? content.name : "";
    edited();
  }

  // ---- share: the content, deflated, in the URL's fragment ----
  function toBase64Url(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64Url(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) { throw new Error("the link is not base64url"); }
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  async function readAll(stream, limit) {
    const reader = stream.getReader();
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) { break; }
      size += value.length;
      if (size > limit) {
        await reader.cancel();
        throw new Error(`the link's content is larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) { all.set(chunk, at); at += chunk.length; }
    return all;
  }

  async function share() {
    const content = JSON.stringify({
      v: 1, name: state.name, rules: ui.rules.value, ledger_name: state.ledgerName, ledger: ui.ledger.value,
      as_of: ui.asOf.value,
    });
    const stream = new Blob([content]).stream().pipeThrough(new CompressionStream("deflate-raw"));
    const bytes = await readAll(stream, Infinity);
    const url = `${location.origin}${location.pathname}${SHARE_PREFIX}${toBase64Url(bytes)}`;
    history.replaceState(null, "", url);
    ui.shareUrl.value = url;
    ui.shareUrl.hidden = false;
    ui.shareUrl.select();
    setStatus(url.length > MAX_FRAGMENT ? "link made, but too long to open again: use a smaller ledger" : "link made: copy it from the box");
  }

  // A shared link, read as data: sizes bounded, fields checked, nothing run.
  async function restore(fragment) {
    const payload = fragment.slice(SHARE_PREFIX.length);
    if (payload.length > MAX_FRAGMENT) { throw new Error("the link is too long"); }
    const stream = new Blob([fromBase64Url(payload)]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    const text = new TextDecoder("utf-8", { fatal: true }).decode(await readAll(stream, MAX_SHARED_BYTES));
    const value = JSON.parse(text);
    const field = (key, fallback) => {
      const found = value[key];
      if (found === undefined) { return fallback; }
      if (typeof found !== "string") { throw new Error(`the link's ${key} is not text`); }
      // JSON's "\ud800" is a lone surrogate, which no file (UTF-8) can hold
      if (/\p{Cs}/u.test(found)) { throw new Error(`the link's ${key} is not valid Unicode text (an unpaired surrogate)`); }
      return found;
    };
    if (value === null || typeof value !== "object" || value.v !== 1) { throw new Error("the link is not a playground link"); }
    return {
      name: field("name", "playground"), rules: field("rules", ""), ledgerName: field("ledger_name", "ledger.jsonl"),
      ledger: field("ledger", ""), asOf: field("as_of", "").slice(0, 100),
    };
  }

  // ---- start ----
  async function start() {
    for (const element of [ui.rules, ui.ledger, ui.asOf]) { element.addEventListener("input", edited); }
    ui.strict.addEventListener("change", edited);
    ui.example.addEventListener("change", () => pick(ui.example.value));
    ui.format.addEventListener("click", format);
    ui.share.addEventListener("click", () => { share().catch((error) => setStatus(`no link: ${error.message}`)); });
    ui.upload.addEventListener("change", async () => {
      const file = ui.upload.files[0];
      if (!file) { return; }
      if (file.size > MAX_UPLOAD) { setStatus(`${file.name} is larger than ${MAX_UPLOAD} bytes`); return; }
      ui.ledger.value = await file.text();
      state.ledgerName = file.name;
      edited();
    });
    const examples = await fetch("examples.json").then((r) => r.json());
    state.examples = examples;
    for (const example of examples) {
      const option = document.createElement("option");
      option.value = example.name;
      option.textContent = `${example.name} (${example.ledger_name})`;
      ui.example.append(option);
    }
    let initial = null;
    if (location.hash.startsWith(SHARE_PREFIX)) {
      try {
        initial = await restore(location.hash);
      } catch (error) {
        state.notice = `the shared link could not be read: ${error.message}`;
        setStatus(state.notice);
      }
    }
    if (initial) { load(initial); } else { pick(examples.length ? examples[0].name : ""); }
  }

  start().catch((error) => { setStatus(`the playground could not start: ${error.message}`); });
})();
