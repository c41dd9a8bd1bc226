// What the driver's scenarios share (extension.js, next_edit.js): waiting, and opening the file with the model ready.
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `cond` every 100 ms until it returns something truthy (returned), or throw after `ms`. */
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await cond();
    if (value) {
      return value;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Activate the instant-edit extension, open `path` in an editor and wait until the model is loaded. */
async function openWhenReady(vscode, path) {
  const ext = vscode.extensions.getExtension("instant-edit.instant-edit");
  if (!ext) {
    throw new Error("the instant-edit extension is not installed");
  }
  const api = await ext.activate();
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(path));
  const editor = await vscode.window.showTextDocument(doc, { preserveFocus: false });
  await waitFor(() => api.client() && api.status() && api.status().state === "ready", 90000, "the model to load");
  return { api, doc, editor };
}

module.exports = { sleep, waitFor, openWhenReady };
