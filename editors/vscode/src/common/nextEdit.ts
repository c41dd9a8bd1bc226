/**
 * Next-edit suggestions (`instantEdit/nextEdits`): after a pause in editing the active document, ask the server where
 * the change calls for more edits and show each one in place: the old text struck through, the new text as ghost
 * text right after it. Tab jumps to the first suggestion, then accepts it; Escape hides them all.
 */
import * as vscode from "vscode";
import { LanguageClient } from "vscode-languageclient/node";
import { NEXT_EDITS_REQUEST, NextEditsParams, ghostText, jumpOrAccept, toNextEditsResult } from "./protocol";

/** The context key the Tab and Escape keybindings depend on. */
export const SHOWN_CONTEXT = "instantEdit.nextEditShown";

/** A shown suggestion, JSON-safe (the end-to-end test reads them through the extension's exports). */
export interface ShownEdit {
  line: number;
  start: number;
  end: number;
  /** The range's last line: `line` unless the old text spans lines. */
  endLine: number;
  newText: string;
  confidence: number;
}

interface Suggestion {
  range: vscode.Range;
  newText: string;
  confidence: number;
}

interface Shown {
  editor: vscode.TextEditor;
  version: number;
  edits: Suggestion[]; // best first
}

/** How often a request the server cancelled on its own is sent. */
const RETRIES = 3;

/** LSP's RequestCancelled and ServerCancelled. */
function serverCancelled(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === -32800 || code === -32802;
}

export class NextEdits implements vscode.Disposable {
  private readonly removed = vscode.window.createTextEditorDecorationType({
    textDecoration: "line-through",
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.modifiedForeground"),
    overviewRulerLane: vscode.OverviewRulerLane.Center,
  });
  private readonly added = vscode.window.createTextEditorDecorationType({
    after: {
      color: new vscode.ThemeColor("editorGhostText.foreground"),
      backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
      fontStyle: "italic",
    },
  });
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: vscode.CancellationTokenSource | undefined;
  private current: Shown | undefined;
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly pauseMs: () => number,
    private readonly log: (message: string) => void,
  ) {
    this.disposables = [
      this.removed,
      this.added,
      vscode.workspace.onDidChangeTextDocument((e) => this.changed(e)),
      vscode.window.onDidChangeActiveTextEditor(() => this.dismiss()),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (this.current?.editor.document === doc) {
          this.dismiss();
        }
      }),
      vscode.commands.registerCommand("instant-edit.nextEdit.jumpOrAccept", () => this.jumpOrAccept()),
      vscode.commands.registerCommand("instant-edit.nextEdit.dismiss", () => this.dismiss()),
      vscode.commands.registerCommand("instant-edit.nextEdit.request", () => this.requestNow()),
    ];
  }

  /** What is shown now, best first. */
  shown(): ShownEdit[] {
    return (this.current?.edits ?? []).map((e) => ({
      line: e.range.start.line, start: e.range.start.character, end: e.range.end.character,
      endLine: e.range.end.line, newText: e.newText, confidence: e.confidence,
    }));
  }

  /** Hide every suggestion and forget any pending or running request. */
  dismiss(): void {
    this.stopWaiting();
    this.clear();
  }

  dispose(): void {
    this.dismiss();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  // --- asking ---------------------------------------------------------------------------------------------------
  private served(doc: vscode.TextDocument): boolean {
    const selector = this.client()?.clientOptions.documentSelector;
    // Plain scheme filters (server.ts): the protocol's selector type differs from VS Code's only in glob patterns.
    return selector !== undefined && vscode.languages.match(selector as vscode.DocumentSelector, doc) > 0;
  }

  private changed(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) {
      return; // only the dirty state changed
    }
    if (this.current?.editor.document === e.document) {
      this.clear(); // made for an older version
    }
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document !== e.document || !this.served(e.document)) {
      return;
    }
    this.stopWaiting();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.request(editor, false);
    }, this.pauseMs());
  }

  private stopWaiting(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pending?.cancel();
    this.pending = undefined;
  }

  private async requestNow(): Promise<ShownEdit[]> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || !this.client()) {
      void vscode.window.showWarningMessage(
        this.client() ? "instant-edit: open a file first." : "instant-edit: the server is not running.");
      return [];
    }
    this.stopWaiting();
    return this.request(editor, true);
  }

  /** Ask at the editor's cursor and show the answer when it still fits the document; returns what is shown. */
  private async request(editor: vscode.TextEditor, explicit: boolean): Promise<ShownEdit[]> {
    const client = this.client();
    if (!client || !client.isRunning()) {
      return [];
    }
    const doc = editor.document;
    this.pending?.cancel();
    const source = (this.pending = new vscode.CancellationTokenSource());
    const token = source.token;
    const params: NextEditsParams = {
      textDocument: { uri: client.code2ProtocolConverter.asUri(doc.uri) },
      position: client.code2ProtocolConverter.asPosition(editor.selection.active),
    };
    let answer;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          answer = toNextEditsResult(await client.sendRequest(NEXT_EDITS_REQUEST, params, token));
          break;
        } catch (e) {
          // The server cancels a request itself when a newer job takes its place, e.g. the next edits it prepares
          // in the background after the same pause: ask again, which finds those or judges anew.
          if (token.isCancellationRequested || !serverCancelled(e) || attempt >= RETRIES) {
            throw e;
          }
        }
      }
    } catch (e) {
      if (!token.isCancellationRequested) {
        this.log(`${NEXT_EDITS_REQUEST} failed: ${e}`);
      }
      return [];
    } finally {
      if (this.pending === source) {
        this.pending = undefined;
      }
      source.dispose();
    }
    // Dropped when the document changed meanwhile (the answer is for another version) or the user moved on.
    const active = vscode.window.activeTextEditor;
    if (token.isCancellationRequested || !answer || answer.version !== doc.version || doc.isClosed
        || active?.document !== doc) {
      return [];
    }
    const edits = answer.edits.map((e) => ({
      range: client.protocol2CodeConverter.asRange(e.range), newText: e.newText, confidence: e.confidence,
    }));
    this.show({ editor: active, version: doc.version, edits });
    if (explicit && edits.length === 0) {
      vscode.window.setStatusBarMessage("instant-edit: no next edit", 3000);
    }
    return this.shown();
  }

  // --- showing --------------------------------------------------------------------------------------------------
  private show(shown: Shown): void {
    this.clear();
    if (shown.edits.length === 0) {
      return;
    }
    this.current = shown;
    const hover = (e: Suggestion, first: boolean) => new vscode.MarkdownString(
      `instant-edit: next edit (confidence ${e.confidence.toFixed(2)})` +
      (first ? ": Tab jumps to it, Tab again accepts it, Escape dismisses" : ""),
    ).appendCodeblock(e.newText, shown.editor.document.languageId);
    shown.editor.setDecorations(this.removed, shown.edits.map((e, i) => ({ range: e.range, hoverMessage: hover(e, i === 0) })));
    shown.editor.setDecorations(this.added, shown.edits.map((e) => ({
      range: e.range, renderOptions: { after: { contentText: ghostText(e.newText) } },
    })));
    void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, true);
  }

  private clear(): void {
    const shown = this.current;
    this.current = undefined;
    if (shown) {
      shown.editor.setDecorations(this.removed, []);
      shown.editor.setDecorations(this.added, []);
      void vscode.commands.executeCommand("setContext", SHOWN_CONTEXT, false);
    }
  }

  // --- Tab ------------------------------------------------------------------------------------------------------
  /** Move the cursor to the first suggestion, or accept it when the cursor is already inside it. */
  private async jumpOrAccept(): Promise<"jump" | "accept" | undefined> {
    const editor = vscode.window.activeTextEditor;
    const shown = this.current;
    if (!editor || !shown || shown.editor.document !== editor.document || shown.version !== editor.document.version) {
      this.dismiss();
      return undefined;
    }
    const first = shown.edits[0];
    const cursor = editor.selection.active;
    const range = { start: first.range.start, end: first.range.end };
    if (jumpOrAccept({ line: cursor.line, character: cursor.character }, range) === "jump") {
      editor.selection = new vscode.Selection(first.range.start, first.range.start);
      editor.revealRange(first.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return "jump";
    }
    // The change clears every suggestion and, after the pause, asks for the next ones.
    const applied = await editor.edit((b) => b.replace(first.range, first.newText));
    if (applied) {
      const doc = editor.document;
      const end = doc.positionAt(doc.offsetAt(first.range.start) + first.newText.length);
      editor.selection = new vscode.Selection(end, end);
    } else {
      this.log("instant-edit: the next edit could not be applied");
    }
    return "accept";
  }
}
