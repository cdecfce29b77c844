/**
 * Phone-first layout: in a phone-sized context (touch, 3× pixels) at 390 and 360 px wide,
 * the oldest waiting card and its Allow and Deny buttons are on the first screen, nothing
 * scrolls sideways (measured against the device width: mobile Chromium widens innerWidth
 * to fit overflowing content), every control is a touch target of at least 44 × 44 px, and
 * a tap decides. In chat, the waiting card is pinned just above the composer.
 */
import type { Page } from '@playwright/test';
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';
import { LONG_COMMAND, auditScene, chatScene, rulesScene } from './support/scenes.ts';

const PHONES = [
  { name: '390×844', width: 390, height: 844 },
  { name: '360×740', width: 360, height: 740 },
];

/** How far the page reaches past the device's width (0 = no sideways scroll). */
async function sidewaysOverflow(page: Page, width: number): Promise<number> {
  return page.evaluate((w) => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - w, width);
}

/** Visible controls smaller than 44 × 44 px: buttons, selects, the view tabs, the sound switch, disclosure summaries. */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = document.querySelectorAll<HTMLElement>('button, select, .tabs a, .attention label, summary, input[type="text"], input[type="search"]');
    const small: string[] = [];
    for (const el of controls) {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if (box.width === 0 || box.height === 0 || style.visibility === 'hidden' || el.closest('dialog:not([open])')) continue;
      if (box.width < 44 || box.height < 44)
        small.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
    return small;
  });
}

/** Is the element wholly inside the first screen (the page not scrolled)? */
async function onFirstScreen(page: Page, selector: ReturnType<Page['locator']>, height: number, width: number): Promise<boolean> {
  const box = await selector.boundingBox();
  const scrolled = await page.evaluate(() => window.scrollY);
  return box !== null && scrolled === 0 && box.y >= 0 && box.y + box.height <= height && box.x >= 0 && box.x + box.width <= width;
}

for (const phone of PHONES) {
  test.describe(`phone ${phone.name}`, () => {
    test.use({ viewport: { width: phone.width, height: phone.height }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 });

    test(`APP-6, APP-7: at ${phone.name} the oldest card and its buttons are on the first screen, nothing scrolls sideways, targets are 44 px, a tap decides`, async ({
      page,
      gatehouse,
    }) => {
      await openApp(page, gatehouse);
      const oldest = await gatehouse.createRequest(bash(LONG_COMMAND));
      const newer = await gatehouse.createRequest({
        toolName: 'Write',
        input: {
          file_path: '/work/project/a/very/long/path/to/some/file/that/goes/on/and/on/without/any/break.generated.ts',
          content: 'export const x = 1;\n'.repeat(40),
        },
        context: { sessionId: 'phone-session-with-a-long-name-0123456789abcdef', cwd: '/work/project/packages/with/a/long/folder/name' },
      });
      const c = card(page, oldest);
      await expect(c.getByLabel('Command')).toHaveText(LONG_COMMAND);
      await expect(card(page, newer)).toBeVisible();
      await page.evaluate(() => window.scrollTo(0, 0));

      expect(await sidewaysOverflow(page, phone.width)).toBeLessThanOrEqual(0);
      const allow = c.getByRole('button', { name: 'Allow', exact: true });
      const deny = c.getByRole('button', { name: 'Deny', exact: true });
      expect(await onFirstScreen(page, allow, phone.height, phone.width)).toBe(true);
      expect(await onFirstScreen(page, deny, phone.height, phone.width)).toBe(true);
      expect(await smallTargets(page)).toEqual([]);

      const outcome = gatehouse.outcome(oldest);
      await allow.tap();
      expect(await outcome).toMatchObject({ status: 'resolved', decision: 'allow' });
      await expect(c).toHaveCount(0);
      // The next card is now the oldest: its buttons are on the first screen too.
      await page.evaluate(() => window.scrollTo(0, 0));
      expect(await onFirstScreen(page, card(page, newer).getByRole('button', { name: 'Deny', exact: true }), phone.height, phone.width)).toBe(true);
      expect(await sidewaysOverflow(page, phone.width)).toBeLessThanOrEqual(0);
    });

    test(`APP-6, APP-7: at ${phone.name} the rules, audit and help views do not scroll sideways and their targets are 44 px`, async ({ page, gatehouse }) => {
      await rulesScene(page, gatehouse);
      expect(await sidewaysOverflow(page, phone.width)).toBeLessThanOrEqual(0);
      expect(await smallTargets(page)).toEqual([]);
      await auditScene(page, gatehouse);
      expect(await sidewaysOverflow(page, phone.width)).toBeLessThanOrEqual(0);
      expect(await smallTargets(page)).toEqual([]);
      await page.getByRole('button', { name: 'Help' }).tap();
      const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
      await expect(help).toBeVisible();
      const box = await help.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= phone.width).toBe(true);
      expect(await smallTargets(page)).toEqual([]);
    });
  });
}

test.describe('phone chat', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 });

  test('APP-9: in chat the waiting card is pinned above the composer, on screen wherever the conversation is scrolled', async ({ page, gatehouse }) => {
    const id = await chatScene(page, gatehouse);
    const pinned = card(page, id);
    const composer = page.getByLabel('Message', { exact: true });
    for (const to of ['top', 'bottom'] as const) {
      await page.evaluate((where) => window.scrollTo(0, where === 'top' ? 0 : document.documentElement.scrollHeight), to);
      const cardBox = (await pinned.boundingBox())!;
      const composerBox = (await composer.boundingBox())!;
      expect(composerBox.y + composerBox.height, `composer on screen (${to})`).toBeLessThanOrEqual(844);
      expect(cardBox.y + cardBox.height, `card ends above the composer (${to})`).toBeLessThanOrEqual(composerBox.y + 1);
      const allowBox = (await pinned.getByRole('button', { name: 'Allow', exact: true }).boundingBox())!;
      expect(allowBox.y, `Allow on screen (${to})`).toBeGreaterThanOrEqual(0);
    }
    expect(await sidewaysOverflow(page, 390)).toBeLessThanOrEqual(0);
    expect(await smallTargets(page)).toEqual([]);
    const outcome = gatehouse.outcome(id);
    await pinned.getByRole('button', { name: 'Allow', exact: true }).tap();
    expect(await outcome).toMatchObject({ decision: 'allow' });
  });
});
