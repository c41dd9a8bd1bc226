// Opens a running code-server in headless Chromium, waits for the driver extension's result file, then
// takes a screenshot of the workbench. Usage: node vscode_browser.js URL RESULT SCREENSHOT TIMEOUT_MS
// playwright-core is found through NODE_PATH (installed by .ci/install-editors.sh). `openWorkbench` is shared with
// vscode_driver/next_edit.js, whose scenario also asks the page for key presses.
const fs = require("fs");

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** Chromium on a fresh profile, showing the workbench at `url`: {page, close()}. */
async function openWorkbench(url) {
  const { chromium } = require("playwright-core");
  // A fresh profile folder per run (playwright passes it to Chromium as --user-data-dir).
  const profile = fs.mkdtempSync(require("path").join(require("os").tmpdir(), "ie-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.IE_CHROMIUM || "/usr/bin/chromium",
    args: FLAGS,
    headless: true,
    viewport: { width: 1400, height: 900 },
  });
  const close = async () => {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  try {
    const page = browser.pages()[0] || await browser.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
    return { page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

async function main([url, resultPath, screenshotPath, timeoutArg]) {
  const { page, close } = await openWorkbench(url);
  const timeoutMs = Number(timeoutArg);
  try {
    const end = Date.now() + timeoutMs;
    while (!fs.existsSync(resultPath) && Date.now() < end) {
      await page.waitForTimeout(250);
    }
    await page.waitForTimeout(500); // let the last edit render before the screenshot
    await page.screenshot({ path: screenshotPath });
    if (!fs.existsSync(resultPath)) {
      throw new Error(`no result from the driver extension within ${timeoutMs} ms (screenshot: ${screenshotPath})`);
    }
  } finally {
    await close();
  }
}

module.exports = { openWorkbench };

if (require.main === module) {
  main(process.argv.slice(2)).then(() => process.exit(0), (e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
}
