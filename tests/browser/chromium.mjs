// Launches Debian's Chromium (apt-get install chromium; never a downloaded browser) headless
// with playwright-core. $CHROMIUM overrides the executable.

/** Flags that keep Chromium off the network: no background services, updates or sync. */
const FLAGS = [
  "--no-sandbox", // the tests may run as root (CI)
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Launches Chromium with `playwright.chromium` (the `chromium` export of playwright-core). */
export function launchChromium(chromium, options = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    ...options,
  });
}
