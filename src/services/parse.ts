/**
 * Turns the text of a services file into a plain value, reporting syntax
 * errors as `file:line:col: message` on one line.
 *
 * JSON files go through the YAML 1.2 parser too: JSON is (nearly) a subset of
 * YAML 1.2, and one parser gives both formats the same line:column positions
 * and the same duplicate-key check (JSON.parse silently keeps the last of two
 * equal keys and, on Node 20, reports most errors without a position). The
 * cost is leniency: a `.json` file with a comment or a trailing comma is read.
 *
 * @module
 */
import { LineCounter, parseDocument } from "yaml";
import { ServicesFileError } from "./errors.js";

/** Parses YAML or JSON text. `file` names the source in errors. */
export function parseServicesText(text: string, file: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    // One-line messages: the pretty form appends a multi-line code excerpt.
    prettyErrors: false,
    uniqueKeys: true,
    // The library's warnings go through process.emitWarning; they are never
    // about anything that matters here (e.g. collection keys being stringified).
    logLevel: "error",
  });
  const first = doc.errors[0];
  if (first) {
    const { line, col } = lineCounter.linePos(first.pos[0]);
    throw new ServicesFileError("PARSE_ERROR", `${file}:${line}:${col}: ${oneLine(first.message)}`, { file, line, column: col }, { cause: first });
  }
  try {
    // maxAliasCount bounds "billion laughs" expansion of anchors and aliases.
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    // toJS throws for aliases to missing anchors and for alias bombs.
    const message = error instanceof Error ? error.message : String(error);
    throw new ServicesFileError("PARSE_ERROR", `${file}: ${oneLine(message)}`, { file }, { cause: error });
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
