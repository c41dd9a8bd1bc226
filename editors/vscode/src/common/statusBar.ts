/** The status bar item: model state, model name and device; a click shows the server output. */
import * as vscode from "vscode";
import { ConfidenceParams, StatusParams, confidenceText, sourceText, statusText } from "./protocol";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("instant-edit.status", vscode.StatusBarAlignment.Right, 100);
  last: StatusParams | undefined;
  lastCompletion: ConfidenceParams | undefined;

  constructor() {
    this.item.name = "instant-edit";
    this.item.command = "instant-edit.showOutput";
    this.update(undefined);
    this.item.show();
  }

  update(status: StatusParams | undefined): void {
    this.last = status;
    this.item.text = this.text();
    this.item.tooltip = status?.message || "instant-edit: click to show the server output";
    this.item.backgroundColor = status?.state === "error"
      ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  /** The last inline completion's confidence (or why it was withheld), shown after the model state. */
  completion(p: ConfidenceParams): void {
    this.lastCompletion = p;
    this.item.text = this.text();
    if (p.message) {
      this.item.tooltip = `instant-edit: ${p.message}${sourceText(p) ? ` (from ${sourceText(p)})` : ""}`;
    }
  }

  private text(): string {
    const extra = confidenceText(this.lastCompletion);
    return statusText(this.last) + (extra ? ` · ${extra}` : "");
  }

  /** What the status bar item reads now. */
  get shown(): string {
    return this.item.text;
  }

  /** Spin while an action runs; back to the model state afterwards. */
  busy(label: string | undefined): void {
    this.item.text = label ? `$(loading~spin) instant-edit: ${label}` : this.text();
  }

  dispose(): void {
    this.item.dispose();
  }
}
