// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with
// a fresh profile directory per launch. Playwright never downloads a browser.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OUTPUT_DIR } from "./relay.mjs";

export const SCREENSHOT_DIR = join(OUTPUT_DIR, "dashboard");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/** A browser context on a new, empty user-data-dir; `close()` removes it. */
export async function launchBrowser({ viewport = { width: 1280, height: 860 }, colorScheme = "light" } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "hookrelay-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
    colorScheme,
    timeout: 30_000,
  });
  context.setDefaultTimeout(10_000);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot under test-output/dashboard/<name>.png. */
export async function screenshot(page, name) {
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
