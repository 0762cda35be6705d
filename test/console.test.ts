/**
 * The web console in headless Chromium (Debian's `chromium`, driven by playwright-core) against the
 * API on real ClickHouse with a known audit trail: sign-in, who accessed what, a subject's report and
 * its downloads, the chart and top violations, periodic report downloads, an empty state and error
 * states, and what each role sees. Screenshots go to test-results/ (git-ignored).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Browser,
  chromiumAvailable,
  type LiveApi,
  launchChromium,
  type Page,
  startFixtureApi,
  TEST_KEYS,
} from '@custos/api/testing';
import { infraEnv } from '@custos/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const shots = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'console');
const hasBrowser = chromiumAvailable();
if (!hasBrowser) {
  console.warn(
    'SKIPPING the console browser tests: /usr/bin/chromium is missing (install it with `apt-get install -y chromium`).',
  );
}

describe.skipIf(!hasBrowser)('the web console in headless Chromium', () => {
  let api: LiveApi;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    api = await startFixtureApi('console', {}, infraEnv().clickhouseUrl);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  async function signIn(key: string) {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${api.url}/console/`);
    await page.fill('#credential', key);
    await page.click('#sign-in-form button');
    return errors;
  }

  async function setDates(form: string, from: string, to: string) {
    await page.fill(`${form} [name=from]`, from);
    await page.fill(`${form} [name=to]`, to);
  }

  it('refuses a wrong key with a clear message', async () => {
    await signIn('not-a-real-key-at-all-000000');
    await expect.poll(() => page.textContent('#sign-in-error')).toContain('Sign-in failed: unknown API key');
    expect(await page.isVisible('#app')).toBe(false);
    await shot('01-sign-in-error');
    await page.close();
  });

  it('an auditor searches who accessed what, sees an empty state and an error state', async () => {
    const errors = await signIn(TEST_KEYS.auditor.key);
    await page.waitForSelector('#app:not([hidden])');
    expect(await page.textContent('#who-name')).toContain('Ira Chatterjee');
    expect(await page.inputValue('#purpose')).toBe('legal.compliance');
    // an auditor has no subject report tab
    expect(await page.isVisible('[data-tab=subject]')).toBe(false);
    expect(await page.isVisible('[data-tab=search]')).toBe(true);

    // selecting by subject is the subject report's view, which an auditor may not open
    expect(await page.isVisible('#search-form [name=subjectId]')).toBe(false);
    await setDates('#search-form', '2026-10-01', '2026-10-31');
    await page.fill('#search-form [name=recipientId]', 'a-kolkata-police');
    const recorded = api.recorder.events.length;
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-table:not([hidden]) tbody tr');
    const rows = await page.$$eval('#search-table tbody tr', (trs) =>
      trs.map((tr) => (tr as unknown as { innerText: string }).innerText),
    );
    expect(rows).toHaveLength(5);
    expect(rows[0]).toContain('Dev Banerjee');
    expect(rows.join('\n')).toContain('Kolkata Police Cyber Cell');
    expect(await page.textContent('#search-status')).toContain('5 accesses');
    await shot('02-search-results');
    // the read is on the audit trail, with the auditor as the reader and the session's purpose
    expect(api.recorder.events.slice(recorded)).toEqual([
      expect.objectContaining({
        actor: { id: 's-ira', type: 'staff' },
        purpose: 'legal.compliance',
        subject: { id: '*', type: 'customer' },
      }),
    ]);

    await page.fill('#search-form [name=recipientId]', 'nobody-here');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-status .empty');
    expect(await page.textContent('#search-status')).toContain('No accesses match these filters');
    expect(await page.isVisible('#search-table')).toBe(false);
    await shot('03-search-empty');

    await setDates('#search-form', '2026-10-31', '2026-10-01');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-status .error');
    expect(await page.textContent('#search-status')).toMatch(/Search failed: .*from: must be before to/);
    await shot('04-search-error');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a privacy officer opens a subject’s report from a search and downloads it', async () => {
    const errors = await signIn(TEST_KEYS.privacy_officer.key);
    await page.waitForSelector('#app:not([hidden])');
    await setDates('#search-form', '2026-10-01', '2026-10-31');
    await page.selectOption('#search-form [name=outcome]', 'flag');
    await page.click('#search-form button[type=submit]');
    await page.waitForSelector('#search-table tbody tr');
    const row = page.locator('#search-table tbody tr', { hasText: 'cust-1001' });
    await row.getByRole('button', { name: 'Report' }).click();
    await page.waitForSelector('#subject-report:not([hidden])');
    const summary = await page.textContent('#subject-summary');
    expect(summary).toContain('cust-1001');
    expect(summary).toContain('allowed 6, flagged 1, denied 2');
    const shared = await page.$$eval('#subject-shared tbody tr', (trs) =>
      trs.map((tr) => (tr as unknown as { innerText: string }).innerText),
    );
    expect(shared.join('\n')).toMatch(/Helpdeskly\tprocessor\tshare\tAG-HELPDESKLY-2024/);
    expect(await page.textContent('#subject-disclosures')).toContain('court-order:KOL-2026-0042');
    await shot('05-subject-report');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=pdf]')]);
    expect(download.suggestedFilename()).toBe('subject-report-spera-cust-1001-full.pdf');
    const path = await download.path();
    expect(readFileSync(path).subarray(0, 5).toString()).toBe('%PDF-');
    await page.waitForSelector('#subject-status .ok');
    expect(await page.textContent('#subject-status')).toMatch(/SHA-256 [0-9a-f]{64}/);

    // the subject-facing variant: no disclosures to authorities
    await page.selectOption('#subject-form [name=variant]', 'subject');
    await page.click('#subject-form button[type=submit]');
    await page.waitForSelector('#subject-report:not([hidden])');
    expect(await page.isVisible('#subject-disclosures-block')).toBe(false);
    expect(await page.textContent('#subject-shared')).not.toContain('Kolkata');

    // an unknown subject: an empty state, not an error
    await page.fill('#subject-form [name=subjectId]', 'nobody-here');
    await page.click('#subject-form button[type=submit]');
    await page.waitForSelector('#subject-status .empty');
    expect(await page.textContent('#subject-status')).toContain('No recorded accesses to nobody-here');
    await shot('06-subject-empty');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a security analyst sees decisions and violations over time', async () => {
    const errors = await signIn(TEST_KEYS.security_analyst.key);
    await page.waitForSelector('#app:not([hidden])');
    expect(await page.isVisible('[data-tab=reports]')).toBe(false);
    await page.click('[data-tab=overview]');
    await setDates('#overview-form', '2026-10-01', '2026-10-31');
    await page.click('#overview-form button[type=submit]');
    await page.waitForSelector('#overview-body:not([hidden])');
    // a security analyst sees staff's own accesses only: no shares, processors' processing or disclosures
    expect(await page.$$eval('#chart svg g', (gs) => gs.length)).toBe(11);
    expect(await page.$$eval('#chart svg rect', (rs) => rs.length)).toBeGreaterThanOrEqual(11);
    const codes = await page.$$eval('#top-codes tbody tr', (trs) =>
      trs.map((tr) => (tr as unknown as { innerText: string }).innerText),
    );
    expect(codes[0]).toMatch(/BULK_ACCESS\tflag\t1/);
    expect(codes.join('\n')).not.toMatch(/NO_AGREEMENT|DISCLOSURE/);
    expect(await page.textContent('#top-actors')).toContain('Asha Rao (s-asha)');
    expect(await page.textContent('#overview-totals')).toContain('70');
    await shot('07-overview');

    await setDates('#overview-form', '2020-01-01', '2020-01-31');
    await page.click('#overview-form button[type=submit]');
    await page.waitForSelector('#overview-status .empty');
    expect(await page.textContent('#overview-status')).toContain('No decisions in this period');
    await shot('08-overview-empty');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an auditor downloads the monthly report, and a bad period is an error', async () => {
    const errors = await signIn(TEST_KEYS.auditor.key);
    await page.waitForSelector('#app:not([hidden])');
    await page.click('[data-tab=reports]');
    await page.fill('#reports-form [name=period]', '2026-10');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#reports-form button[data-format=csv]')]);
    expect(download.suggestedFilename()).toBe('access-report-2026-10-all.csv');
    expect(readFileSync(await download.path(), 'utf8')).toContain('# rules');
    await page.waitForSelector('#reports-status .ok');
    await shot('09-reports');

    // bypass the form's pattern to show the API's answer
    await page.$eval('#reports-form [name=period]', (i) => i.removeAttribute('pattern'));
    await page.fill('#reports-form [name=period]', '2026-13');
    await page.click('#reports-form button[data-format=pdf]');
    await page.waitForSelector('#reports-status .error');
    expect(await page.textContent('#reports-status')).toMatch(/period: must be a month YYYY-MM or a quarter YYYY-Qn/);
    await shot('10-reports-error');
    expect(errors).toEqual([]);
    await page.close();
  });
});
