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

/** The answer of every instantEdit.* workspace/executeCommand. */
export interface CommandResult {
  applied: boolean;
  message: string;
  flagged: boolean;
}

export const DRAFT_NOTIFICATION = "instantEdit/draft";
export const STATUS_NOTIFICATION = "instantEdit/status";

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
      return {
        applied: v.applied,
        message: typeof v.message === "string" ? v.message : "",
        flagged: v.flagged === true,
      };
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
