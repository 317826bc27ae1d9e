// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with
// a fresh profile directory per launch. Playwright never downloads a browser.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OUTPUT_DIR, Relay } from "./relay.mjs";
import { startDestination } from "./destination.mjs";

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

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 860 };

/**
 * What a dashboard test runs against, started together: a relay on workerd, a
 * local destination and a desktop-sized page; `stop()` ends all three.
 */
export async function startDashboard(name) {
  const [dest, relay, browser] = await Promise.all([
    startDestination(),
    Relay.start({ name }),
    launchBrowser({ viewport: DESKTOP }),
  ]);
  const page = await browser.context.newPage();
  return {
    dest, relay, browser, page,
    /** Opens the sign-in screen in `p` and submits `key`. */
    async submitKey(p, key) {
      await p.goto(`${relay.url}/dashboard/`);
      await p.fill("#signin-key", key);
      await p.press("#signin-key", "Enter");
    },
    async signIn(p, key) {
      await this.submitKey(p, key);
      await p.waitForSelector("#shell:not([hidden])");
    },
    // Always a fresh render: going to the URL the page is already at would
    // change nothing, and the page would show what it loaded before.
    async open(p, hash) {
      const url = `${relay.url}/dashboard/#${hash}`;
      if (p.url() === url) await p.reload();
      else await p.goto(url);
    },
    async stop() {
      await browser.close();
      await relay.stop();
      await dest.close();
    },
  };
}

/** Takes a phone-sized screenshot of the page as it is, then returns to desktop size. */
export async function phoneScreenshot(p, name) {
  await p.setViewportSize(PHONE);
  await p.waitForTimeout(300);
  await screenshot(p, name);
  await p.setViewportSize(DESKTOP);
}
