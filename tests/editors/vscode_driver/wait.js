// Waiting helpers shared by the driver's scenarios (extension.js, next_edit.js).
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

module.exports = { sleep, waitFor };
