/** The status bar item: model state, model name and device; a click shows the server output. */
import * as vscode from "vscode";
import { StatusParams, statusText } from "./protocol";

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("instant-edit.status", vscode.StatusBarAlignment.Right, 100);
  last: StatusParams | undefined;

  constructor() {
    this.item.name = "instant-edit";
    this.item.command = "instant-edit.showOutput";
    this.update(undefined);
    this.item.show();
  }

  update(status: StatusParams | undefined): void {
    this.last = status;
    this.item.text = statusText(status);
    this.item.tooltip = status?.message || "instant-edit: click to show the server output";
    this.item.backgroundColor = status?.state === "error"
      ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  /** Spin while an action runs; back to the model state afterwards. */
  busy(label: string | undefined): void {
    this.item.text = label ? `$(loading~spin) instant-edit: ${label}` : statusText(this.last);
  }

  dispose(): void {
    this.item.dispose();
  }
}
