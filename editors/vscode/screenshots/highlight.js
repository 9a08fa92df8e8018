// Colours a rule file with the extension's own TextMate grammar, as VS Code
// does (vscode-textmate and vscode-oniguruma, the libraries VS Code itself
// uses, pinned in package-lock.json), and writes an editor-like HTML page of
// it: the picture of docs/assets/editor-highlighting.png (with --lines, the
// lines' HTML as a JSON list, for the language server's picture). The
// colours are those VS Code's Dark+ theme gives these scopes. Run by
// make_screenshots.py:
//   node screenshots/highlight.js [--lines] RULE_FILE OUT
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const oniguruma = require("vscode-oniguruma");
const textmate = require("vscode-textmate");

const HERE = path.join(__dirname, "..");
const GRAMMAR = path.join(HERE, "syntaxes", "rewardrules.tmLanguage.json");

const THEME = {
  name: "Dark+ (the scopes of the rewardrules grammar)",
  settings: [
    { settings: { foreground: "#D4D4D4", background: "#1E1E1E" } },
    { scope: "comment", settings: { foreground: "#6A9955" } },
    { scope: "string", settings: { foreground: "#CE9178" } },
    { scope: "constant.character.escape", settings: { foreground: "#D7BA7D" } },
    { scope: "meta.template.expression", settings: { foreground: "#D4D4D4" } },
    { scope: "constant.numeric", settings: { foreground: "#B5CEA8" } },
    { scope: ["constant.language", "variable.language", "storage.type", "keyword"], settings: { foreground: "#569CD6" } },
    { scope: ["keyword.other", "keyword.operator.word"], settings: { foreground: "#C586C0" } },
    { scope: "keyword.operator", settings: { foreground: "#D4D4D4" } },
    { scope: ["entity.name.type", "entity.name.namespace", "support.constant"], settings: { foreground: "#4EC9B0" } },
    { scope: "entity.name.function", settings: { foreground: "#DCDCAA" } },
    { scope: ["entity.name.constant", "constant.other"], settings: { foreground: "#4FC1FF" } },
    { scope: ["variable", "variable.other.property"], settings: { foreground: "#9CDCFE" } },
  ],
};

function escape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

async function registry() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  return new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === "source.rewardrules"
        ? textmate.parseRawGrammar(fs.readFileSync(GRAMMAR, "utf8"), GRAMMAR)
        : null,
    theme: THEME,
  });
}

/** Each line as HTML spans coloured by the theme (tokenizeLine2's binary tokens). */
async function colour(text) {
  const reg = await registry();
  const grammar = await reg.loadGrammar("source.rewardrules");
  const colours = reg.getColorMap();
  let state = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const result = grammar.tokenizeLine2(line, state);
    state = result.ruleStack;
    const spans = [];
    for (let i = 0; i < result.tokens.length; i += 2) {
      const start = result.tokens[i];
      const end = i + 2 < result.tokens.length ? result.tokens[i + 2] : line.length;
      const meta = result.tokens[i + 1];
      const foreground = colours[(meta >>> 15) & 0x1ff];
      const italic = ((meta >>> 11) & 0xf) & 1 ? "font-style:italic;" : "";
      spans.push(`<span style="color:${foreground};${italic}">${escape(line.slice(start, end))}</span>`);
    }
    return spans.join("");
  });
}

function page(name, lines) {
  const rows = lines
    .map((html, index) => `<div class="row"><span class="no">${index + 1}</span><span class="code">${html}</span></div>`)
    .join("\n");
  return `<!doctype html>
<meta charset="utf-8">
<title>${escape(name)}</title>
<style>
  body { margin: 0; background: #1E1E1E; font: 14px/20px "DejaVu Sans Mono", monospace; color: #D4D4D4; }
  .tabs { background: #252526; height: 35px; display: flex; font: 13px/35px "DejaVu Sans", sans-serif; }
  .tab { background: #1E1E1E; color: #FFFFFF; padding: 0 16px; border-top: 1px solid #0078D4; }
  .editor { padding: 8px 0; }
  .row { white-space: pre; height: 20px; }
  .no { display: inline-block; width: 48px; padding-right: 24px; text-align: right; color: #6E7681; }
  .status { position: fixed; bottom: 0; left: 0; right: 0; height: 22px; background: #007ACC; color: #FFF;
            font: 12px/22px "DejaVu Sans", sans-serif; padding: 0 10px; text-align: right; }
</style>
<div class="tabs"><div class="tab">${escape(name)}</div></div>
<div class="editor">
${rows}
</div>
<div class="status">rewardrules · coloured by syntaxes/rewardrules.tmLanguage.json</div>
`;
}

async function main() {
  const args = process.argv.slice(2);
  const lines = args[0] === "--lines";
  const [source, out] = lines ? args.slice(1) : args;
  if (!source || !out) {
    console.error("usage: node screenshots/highlight.js [--lines] RULE_FILE OUT");
    process.exit(2);
  }
  const coloured = await colour(fs.readFileSync(source, "utf8").replace(/\n$/, ""));
  fs.writeFileSync(out, lines ? JSON.stringify(coloured) : page(path.basename(source), coloured));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
