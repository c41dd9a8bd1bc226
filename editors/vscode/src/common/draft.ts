/** Shows `instantEdit/draft` over the selection while an action denoises, and clears it when done. */
import * as vscode from "vscode";
import { DraftParams, draftSummary } from "./protocol";

export class DraftView implements vscode.Disposable {
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
    isWholeLine: false,
    after: { color: new vscode.ThemeColor("editorGhostText.foreground"), fontStyle: "italic" },
  });
  /** How many drafts arrived (the end-to-end test reads it through the extension's exports). */
  seen = 0;

  constructor(private readonly enabled: () => boolean) {}

  show(params: DraftParams): void {
    this.seen += 1;
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === params.uri);
    for (const editor of editors) {
      if (params.done || !this.enabled()) {
        editor.setDecorations(this.decoration, []);
        continue;
      }
      const r = params.range;
      const range = new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
      const hover = new vscode.MarkdownString().appendCodeblock(params.text, editor.document.languageId);
      editor.setDecorations(this.decoration, [{
        range,
        hoverMessage: hover,
        renderOptions: { after: { contentText: draftSummary(params.text, params.step) } },
      }]);
    }
  }

  dispose(): void {
    this.decoration.dispose();
  }
}
