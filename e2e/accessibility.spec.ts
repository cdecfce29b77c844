/**
 * Every view passes axe-core (WCAG 2.2 A/AA and best practices) with no serious or
 * critical finding, in light and in dark mode: the queue with history, the keyboard help,
 * the chat with a request inline, the rules and the audit log. And keyboard focus is
 * always visible.
 */
import { seriousViolations } from './support/axe.ts';
import { bash, card, expect, openApp, test } from './support/gatehouse.ts';
import { auditScene, chatScene, helpScene, queueScene, rulesScene } from './support/scenes.ts';

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`${colorScheme} mode`, () => {
    test.use({ colorScheme });

    test(`APP-10: the queue and its history pass axe (${colorScheme})`, async ({ page, gatehouse }) => {
      await queueScene(page, gatehouse);
      expect(await seriousViolations(page)).toEqual([]);
    });

    test(`APP-10: the keyboard help dialog passes axe (${colorScheme})`, async ({ page, gatehouse }) => {
      await helpScene(page, gatehouse);
      expect(await seriousViolations(page)).toEqual([]);
    });

    test(`APP-10: the chat with a request inline passes axe (${colorScheme})`, async ({ page, gatehouse }) => {
      await chatScene(page, gatehouse);
      expect(await seriousViolations(page)).toEqual([]);
    });

    test(`APP-10: the rules view passes axe (${colorScheme})`, async ({ page, gatehouse }) => {
      await rulesScene(page, gatehouse);
      expect(await seriousViolations(page)).toEqual([]);
    });

    test(`APP-10: the audit log passes axe (${colorScheme})`, async ({ page, gatehouse }) => {
      await auditScene(page, gatehouse);
      expect(await seriousViolations(page)).toEqual([]);
    });
  });
}

test('APP-8: keyboard focus is visible: the first Tab shows the skip link, and Tab reaches Allow and Deny with an outline of at least 2 px', async ({
  page,
  gatehouse,
}) => {
  await openApp(page, gatehouse);
  const focusRing = () =>
    page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      return {
        text: el.textContent?.trim() ?? '',
        outline: style.outlineStyle !== 'none' ? parseFloat(style.outlineWidth) : 0,
        onScreen: box.left >= 0 && box.top >= 0 && box.width > 0,
      };
    });
  await page.keyboard.press('Tab');
  expect(await focusRing()).toMatchObject({ text: 'Skip to content', onScreen: true });
  expect((await focusRing()).outline).toBeGreaterThanOrEqual(2);
  // A new request selects its card (and focuses it); Tab goes on from there.
  const id = await gatehouse.createRequest(bash('make release'));
  await expect(card(page, id)).toBeVisible();
  const seen = new Set<string>();
  for (let i = 0; i < 40 && !(seen.has('Allow') && seen.has('Deny')); i++) {
    await page.keyboard.press('Tab');
    const ring = await focusRing();
    if (ring.text === 'Allow' || ring.text === 'Deny') {
      expect(ring.outline, ring.text).toBeGreaterThanOrEqual(2);
      seen.add(ring.text);
    }
  }
  expect([...seen].sort()).toEqual(['Allow', 'Deny']);
});
