// Parses Mermaid texts with Mermaid's own parser (dev only; see tests/e2e/test_flow_diagrams.py).
// stdin: a JSON list of texts; stdout: a JSON list, null where a text parses, else the error.
import fs from "fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
const out = [];
for (const text of JSON.parse(fs.readFileSync(0, "utf8"))) {
  try {
    await mermaid.parse(text);
    out.push(null);
  } catch (e) {
    out.push(String(e && e.message ? e.message : e).slice(0, 500));
  }
}
console.log(JSON.stringify(out));
