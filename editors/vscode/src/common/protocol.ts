/** The instant-edit protocol additions and the pure helpers around them (no vscode import: unit-tested). */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** `instantEdit/draft`: the text of a running action after a denoising step. */
export interface DraftParams {
  uri: string;
  version: number;
  range: Range;
  text: string;
  step: number;
  done: boolean;
}

/** `instantEdit/status`: the model's state. */
export interface StatusParams {
  state: "loading" | "ready" | "error";
  model?: string | null;
  device?: string | null;
  message?: string | null;
}

/** The arguments of instantEdit.applyAnyway for an edit the server refused, and the action's label. */
export interface ApplyAnyway {
  uri: string;
  version: number;
  id: string;
  title: string;
}

/** The answer of every instantEdit.* workspace/executeCommand. */
export interface CommandResult {
  applied: boolean;
  message: string;
  flagged: boolean;
  /** Why nothing was applied although the model answered: "syntax" (it would add a syntax error) or "confidence". */
  refused?: string;
  /** The model's confidence in its text (the lowest commit probability of its tokens). */
  confidence?: number;
  /** Present when a refused edit may still be applied on explicit request. */
  applyAnyway?: ApplyAnyway;
}

/** `instantEdit/confidence`: how sure the model was of an inline completion, or why it was withheld. */
export interface ConfidenceParams {
  uri: string;
  position?: Position;
  explicit: boolean;
  confidence: number | null;
  refused: string | null;
  message: string;
  offered: boolean;
  /**
   * Where the answer came from: "model" (computed for this request), "cache" (the same request answered
   * before), "typed" (the rest of a shown suggestion the user typed through), "prefetch" (prepared in the
   * background after an accept); other values are shown as they come. Absent from older servers.
   */
  source?: string | null;
}

/** An inline completion item as the server sent it, kept (JSON-safe) for the status tooltip and the tests. */
export interface InlineRecord {
  uri: string;
  position: Position;
  explicit: boolean;
  items: { insertText: string; range: Range | null }[];
}

export const DRAFT_NOTIFICATION = "instantEdit/draft";
export const STATUS_NOTIFICATION = "instantEdit/status";
export const CONFIDENCE_NOTIFICATION = "instantEdit/confidence";
export const APPLY_ANYWAY_COMMAND = "instantEdit.applyAnyway";

/** Client command id -> server command name. Different ids: the language client registers the server's own. */
export const ACTIONS = {
  "instant-edit.regenerate": "instantEdit.regenerate",
  "instant-edit.repair": "instantEdit.repair",
  "instant-edit.fill": "instantEdit.fill",
  "instant-edit.rewrite": "instantEdit.rewrite",
  "instant-edit.translate": "instantEdit.translate",
} as const;

export type ClientCommand = keyof typeof ACTIONS;

/** Languages offered by "Translate to…" (the server's grammar names). */
export const LANGUAGES = [
  "python", "javascript", "typescript", "lua", "c", "cpp", "rust", "go", "java", "ruby", "bash", "kotlin",
  "swift", "csharp", "php",
];

/** The executeCommand arguments: [{uri, range, ...extra}]. */
export function commandArguments(uri: string, range: Range, extra: Record<string, string> = {}): object[] {
  return [{ uri, range, ...extra }];
}

/** A CommandResult from whatever the server answered; a malformed answer becomes a flagged failure. */
export function toCommandResult(value: unknown): CommandResult {
  if (value && typeof value === "object") {
    const v = value as Record<string, unknown>;
    if (typeof v.applied === "boolean") {
      const result: CommandResult = {
        applied: v.applied,
        message: typeof v.message === "string" ? v.message : "",
        flagged: v.flagged === true,
      };
      if (typeof v.refused === "string") {
        result.refused = v.refused;
      }
      if (typeof v.confidence === "number") {
        result.confidence = v.confidence;
      }
      const anyway = v.applyAnyway as Record<string, unknown> | null | undefined;
      if (anyway && typeof anyway.id === "string" && typeof anyway.title === "string" && typeof anyway.uri === "string") {
        result.applyAnyway = { uri: anyway.uri, version: Number(anyway.version), id: anyway.id, title: anyway.title };
      }
      return result;
    }
  }
  return { applied: false, message: `instant-edit: unexpected answer from the server: ${JSON.stringify(value)}`, flagged: true };
}

/** Status bar text (with a codicon) for a status notification. */
export function statusText(s: StatusParams | undefined): string {
  if (!s) {
    return "$(circle-slash) instant-edit";
  }
  const where = [s.model, s.device].filter((x) => x).join(" · ");
  switch (s.state) {
    case "loading":
      return `$(sync~spin) instant-edit: loading${where ? " " + where : ""}`;
    case "ready":
      return `$(check) instant-edit${where ? ": " + where : ""}`;
    default:
      return "$(error) instant-edit: error";
  }
}

/** One line summarizing a draft for an `after` decoration: the step and the text, whitespace collapsed. */
export function draftSummary(text: string, step: number, width = 80): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const cut = flat.length > width ? flat.slice(0, width - 1) + "…" : flat;
  return `  ⟳ step ${step}: ${cut}`;
}

/** The answer's source for display, or "" when the server sent none. */
export function sourceText(p: ConfidenceParams | undefined): string {
  return p && typeof p.source === "string" ? p.source.trim() : "";
}

/** Status bar suffix for the last inline completion: its confidence and source, or why it was withheld. */
export function confidenceText(p: ConfidenceParams | undefined): string {
  if (!p) {
    return "";
  }
  const value = typeof p.confidence === "number" ? p.confidence.toFixed(2) : "-";
  const source = sourceText(p);
  if (p.refused) {
    return `completion withheld (${p.refused}, ${value}${source ? `, ${source}` : ""})`;
  }
  return `completion ${value}${source ? ` (${source})` : ""}`;
}

// --- next edits ------------------------------------------------------------------------------------------------
export const NEXT_EDITS_REQUEST = "instantEdit/nextEdits";

/** `instantEdit/nextEdits` params: where the cursor is in which document. */
export interface NextEditsParams {
  textDocument: { uri: string };
  position: Position;
}

/** One suggested edit elsewhere in the document: replace `range` with `newText`. */
export interface NextEdit {
  range: Range;
  newText: string;
  confidence: number;
}

/** The answer: the edits (best first) for one version of the document; empty when nothing is confident. */
export interface NextEditsResult {
  version: number;
  edits: NextEdit[];
}

function toPosition(value: unknown): Position | undefined {
  const v = value as Record<string, unknown> | null | undefined;
  return v && Number.isInteger(v.line) && Number.isInteger(v.character) && (v.line as number) >= 0
    && (v.character as number) >= 0 ? { line: v.line as number, character: v.character as number } : undefined;
}

/** A NextEditsResult from whatever the server answered; undefined when the answer is malformed (edits that are
 * malformed are left out, the rest kept in order). */
export function toNextEditsResult(value: unknown): NextEditsResult | undefined {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v !== "object" || !Number.isInteger(v.version) || !Array.isArray(v.edits)) {
    return undefined;
  }
  const edits: NextEdit[] = [];
  for (const e of v.edits as unknown[]) {
    const item = e as Record<string, unknown> | null | undefined;
    const r = item?.range as Record<string, unknown> | undefined;
    const start = toPosition(r?.start), end = toPosition(r?.end);
    if (!item || !start || !end || typeof item.newText !== "string") {
      continue;
    }
    const confidence = typeof item.confidence === "number" ? item.confidence : 0;
    edits.push({ range: { start, end }, newText: item.newText, confidence });
  }
  return { version: v.version as number, edits };
}

function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/** What Tab does with a shown suggestion: "accept" when the cursor is inside its range (ends included), else
 * "jump" to its start. */
export function jumpOrAccept(cursor: Position, range: Range): "jump" | "accept" {
  return before(cursor, range.start) || before(range.end, cursor) ? "jump" : "accept";
}

/** The new text as one line of ghost text after the struck-through old text. */
export function ghostText(newText: string, width = 120): string {
  const flat = newText.replace(/\r?\n/g, " ⏎ ");
  return flat.length > width ? flat.slice(0, width - 1) + "…" : flat;
}
