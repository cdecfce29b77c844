/**
 * Every view passes axe-core (WCAG 2.2 A/AA and best practices) with no serious or
 * critical finding, in light and in dark mode: the queue with history, the keyboard help,
 * the chat with a request inline, the rules and the audit log.
 */
import { seriousViolations } from './support/axe.ts';
import { expect, test } from './support/gatehouse.ts';
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
