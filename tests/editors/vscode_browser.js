// Opens a running code-server in headless Chromium, waits for the driver extension's result file, then
// takes a screenshot of the workbench. Usage: node vscode_browser.js URL RESULT SCREENSHOT TIMEOUT_MS
// playwright-core is found through NODE_PATH (installed by .ci/install-editors.sh).
const fs = require("fs");
const { chromium } = require("playwright-core");

const [url, resultPath, screenshotPath, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

async function main() {
  // A fresh profile folder per run (playwright passes it to Chromium as --user-data-dir).
  const profile = fs.mkdtempSync(require("path").join(require("os").tmpdir(), "ie-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.IE_CHROMIUM || "/usr/bin/chromium",
    args: FLAGS,
    headless: true,
    viewport: { width: 1400, height: 900 },
  });
  try {
    const page = browser.pages()[0] || await browser.newPage();
    page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
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
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
