// The web app in real Chromium (Debian's, driven by playwright-core) against the app and API
// served together by wrangler dev with a real PostgreSQL. Screenshots go to artifacts/screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEFAULT_VARS, startStack } from '../../test/support/stack.mjs';
import { PushService } from '../../test/support/push-service.mjs';
import { Api, randomPhone } from '../../test/support/api.mjs';
import { Socket } from '../../test/support/ws.mjs';
import { waitFor } from '../../test/support/wait.mjs';
import { assertNoPlaintext } from './harness.ts';

const SHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));
const DARK_BG = 'rgb(2, 6, 23)';
let stack: Awaited<ReturnType<typeof startStack>>;
let browser: Browser;
/** The first account registered in this database, hence its admin. */
let adminPhone = '';

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Plaintexts and file bytes the rich-messaging tests sent, looked for on the server at the end. */
const sentPlaintexts: string[] = [];
const sentFiles: Buffer[] = [];

/** What Chromium refused under the pages' Content-Security-Policy, across every test. */
const cspViolations: string[] = [];

/** axe-core, run in the page by the DevTools protocol (which the page's CSP does not govern). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The rules of WCAG 2.0, 2.1 and 2.2 at levels A and AA. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
/** What axe found against WCAG 2.2 A/AA, across every test: each page a test ends on is checked
 * (see newContext), as are the states `checkAccessibility` is called on. */
const axeViolations: string[] = [];

/** Runs axe-core on the page as it is now; each violation is kept, named with `state`. */
async function checkAccessibility(page: Page, state: string): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const found = await page.evaluate(async (tags) => {
    type AxeResult = { violations: { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary?: string }[] }[] };
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResult> } }).axe;
    const { violations } = await axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      // Structure a screen reader expects, which WCAG leaves to best practice: one h1, one main.
      rules: { 'page-has-heading-one': { enabled: true }, 'landmark-one-main': { enabled: true }, 'landmark-no-duplicate-main': { enabled: true } },
      resultTypes: ['violations'],
    });
    return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 4).map((n) => `      ${n.target.join(' ')}: ${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 240)}`).join('\n')}`);
  }, WCAG_AA);
  const named = found.map((v) => `${state}: ${v}`);
  axeViolations.push(...named);
  return named;
}

async function newContext(options: Parameters<Browser['newContext']>[0] = {}) {
  const context = await browser.newContext({ baseURL: stack.baseUrl, ...options });
  context.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${message.page()?.url()}: ${message.text()}`);
  });
  // Every page is checked as a test leaves it, so new screens are covered without being listed.
  const close = context.close.bind(context);
  context.close = async (...args) => {
    const scheme = options.colorScheme ?? 'light';
    const size = options.viewport ? `${options.viewport.width} px` : 'desktop';
    for (const page of context.pages()) {
      const state = `${new URL(page.url()).pathname} (${scheme}, ${size}), as a test left it`;
      // A page that could not be checked is said, not passed over.
      await checkAccessibility(page, state).catch((e: Error) => axeViolations.push(`${state}: could not be checked (${e.message.split('\n')[0]})`));
    }
    return close(...args);
  };
  return context;
}

async function newUser(name: string, options: Parameters<Browser['newContext']>[0] = {}) {
  const context = await newContext(options);
  const page = await context.newPage();
  const phone = randomPhone();
  await page.goto('/register');
  await page.getByLabel('Phone number').fill(phone);
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL('**/chat');
  await page.getByText('Pick a conversation').or(page.getByRole('list', { name: 'Your conversations' })).first().waitFor();
  return { context, page, phone, name };
}

async function openChatWith(page: Page, name: string) {
  await page.getByLabel('Find people').fill(name);
  await page.getByRole('list', { name: 'People' }).getByRole('button', { name: new RegExp(name) }).click();
  await page.getByRole('heading', { name }).waitFor();
  await composerOf(page).and(page.locator(':enabled')).waitFor();
}

function composerOf(page: Page) {
  return page.getByRole('textbox', { name: 'Message', exact: true });
}

async function send(page: Page, text: string) {
  const composer = composerOf(page);
  await composer.fill(text);
  await composer.press('Enter');
}

function bubble(page: Page, text: string) {
  // Exact: "message 7" followed by its time "05:22" must not pass for "message 70".
  // Its own text, not a quote of it in a reply.
  return page.getByTestId('message').filter({ has: page.getByTestId('message-text').and(page.getByText(text, { exact: true })) });
}

/** Logs an account in on a new browser, which is not one of its devices yet: it stops on the
 * linking screen and shows the code to type on a device of the account. */
async function logInAwaitingLink(phone: string, options: Parameters<Browser['newContext']>[0] = {}) {
  const context = await newContext(options);
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Phone number').fill(phone);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Link this browser' }).waitFor();
  const code = await page.getByTestId('link-code').innerText();
  assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'grouped as XXXX-XXXX-XXXX');
  return { context, page, code };
}

/** The Linked devices panel, opened from the account menu unless it is open already. */
async function linkedDevices(page: Page) {
  const panel = page.getByRole('region', { name: 'Linked devices' });
  if (!(await panel.isVisible())) {
    await page.getByLabel('Account menu').click();
    await page.getByRole('button', { name: 'Linked devices' }).click();
    await panel.getByRole('heading', { name: 'Linked devices' }).waitFor();
  }
  return panel;
}

/** Types the new browser's code into Linked devices → Link a device, confirms the browser it
 * names, and waits for "Linked …". */
async function approveLink(page: Page, code: string) {
  const panel = await linkedDevices(page);
  await panel.getByLabel('Code shown on the new browser').fill(code);
  await panel.getByRole('button', { name: 'Continue' }).click();
  await panel.getByRole('group', { name: /^Link .+\?/ }).getByRole('button', { name: 'Link', exact: true }).click();
  await panel.getByRole('status').filter({ hasText: /^Linked / }).waitFor({ timeout: 15_000 });
  return panel;
}

/** Whether this element has the keyboard focus. */
function isFocused(locator: ReturnType<Page['locator']>) {
  return locator.evaluate((el) => el === document.activeElement);
}

test('the landing page shows the product and links to sign-up', async () => {
  const context = await newContext({ colorScheme: 'light' });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('heading', { name: /cannot read/ }).waitFor();
  assert.ok(await page.getByRole('link', { name: 'Create an account' }).isVisible());
  await page.screenshot({ path: `${SHOTS}landing.png`, fullPage: true });
  await context.close();
});

test('bad sign-up input is explained next to the field', async () => {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto('/register');
  await page.getByLabel('Phone number').fill('12345');
  await page.getByLabel('Your name').fill('Eve');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.locator('#phone-error').waitFor();
  assert.match(await page.locator('#phone-error').innerText(), /international format/);
  assert.equal(await page.getByLabel('Phone number').getAttribute('aria-invalid'), 'true');
  await context.close();
});

test('two people find each other and chat both ways, with ticks, typing, and history after a reload', async () => {
  const alice = await newUser('Alice Liddell', { colorScheme: 'light' });
  adminPhone = alice.phone;
  const bob = await newUser('Bob Builder', { colorScheme: 'dark' });

  await openChatWith(alice.page, 'Bob Builder');
  await send(alice.page, 'Hello Bob, this is encrypted');
  const mine = bubble(alice.page, 'Hello Bob, this is encrypted');
  await mine.waitFor();
  await mine.locator('[data-status="delivered"], [data-status="read"]').waitFor({ timeout: 15_000 });

  // Bob sees the new conversation, opens it, and reading it turns Alice's ticks blue.
  await bob.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Alice Liddell/ }).click();
  await bubble(bob.page, 'Hello Bob, this is encrypted').waitFor();
  await mine.locator('[data-status="read"]').waitFor({ timeout: 15_000 });

  // Typing shows on the other side.
  await composerOf(bob.page).fill('typing something');
  await alice.page.getByTestId('typing').waitFor();
  await composerOf(bob.page).press('Enter');
  await bubble(alice.page, 'typing something').waitFor();

  // Shift+Enter makes a new line instead of sending.
  const composer = composerOf(alice.page);
  await composer.fill('line one');
  await composer.press('Shift+Enter');
  await composer.pressSequentially('line two');
  assert.equal(await composer.inputValue(), 'line one\nline two');
  await composer.press('Enter');
  await bubble(bob.page, 'line one\nline two').waitFor();

  await alice.page.screenshot({ path: `${SHOTS}chat-light.png` });
  await bob.page.screenshot({ path: `${SHOTS}chat-dark.png` });

  // The safety numbers match.
  await alice.page.getByRole('button', { name: 'Safety number' }).click();
  await bob.page.getByRole('button', { name: 'Safety number' }).click();
  const number = (p: Page) => p.getByTestId('safety-number').filter({ hasText: /\d{5}/ }).innerText();
  assert.equal(await number(alice.page), await number(bob.page));

  // History survives a reload: it comes from this browser's IndexedDB.
  await alice.page.reload();
  await alice.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Bob Builder/ }).click();
  await bubble(alice.page, 'Hello Bob, this is encrypted').waitFor();
  await bubble(alice.page, 'typing something').waitFor();

  await alice.context.close();
  await bob.context.close();
});

test('dark mode persists across a reload with no light first paint', async () => {
  const user = await newUser('Dana Dark', { colorScheme: 'light' });
  const { page } = user;
  // Records the root background on the first animation frame, i.e. right before the first paint.
  await page.addInitScript(() => {
    requestAnimationFrame(() => {
      (window as unknown as { firstPaintBg: string }).firstPaintBg = getComputedStyle(document.documentElement).backgroundColor;
    });
  });
  await page.getByRole('button', { name: 'Switch to dark mode' }).click();
  await page.reload();
  await page.waitForFunction(() => 'firstPaintBg' in window);
  assert.equal(await page.evaluate(() => (window as unknown as { firstPaintBg: string }).firstPaintBg), DARK_BG);
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('dark')), true);
  await page.goto('/');
  await page.waitForFunction(() => 'firstPaintBg' in window);
  assert.equal(await page.evaluate(() => (window as unknown as { firstPaintBg: string }).firstPaintBg), DARK_BG, 'the landing page too');

  // Another tab follows a change made in this one.
  const other = await user.context.newPage();
  await other.goto('/');
  await page.getByRole('button', { name: 'Switch to light mode' }).click();
  await other.waitForFunction(() => !document.documentElement.classList.contains('dark'));
  await user.context.close();
});

test('on a phone, the list and the conversation are separate screens with a back control', async () => {
  const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
  const erin = await newUser('Erin Mobile', phone);
  const frank = await newUser('Frank Desk');
  await openChatWith(erin.page, 'Frank Desk');
  const list = erin.page.getByRole('region', { name: 'Conversations' });
  assert.equal(await list.isVisible(), false, 'the list is hidden while a conversation is open');
  await send(erin.page, 'sent from a phone');
  await bubble(frank.page.context().pages()[0], 'sent from a phone').or(frank.page.getByRole('button', { name: /Erin Mobile/ })).first().waitFor();
  await erin.page.screenshot({ path: `${SHOTS}mobile-conversation.png` });
  // The browser's (or Android's) Back returns to the list, not out of the app.
  await erin.page.goBack();
  await list.waitFor();
  assert.match(erin.page.url(), /\/chat$/);
  await erin.page.getByRole('button', { name: /Frank Desk/ }).click();
  await erin.page.getByRole('heading', { name: 'Frank Desk' }).waitFor();
  await erin.page.getByRole('button', { name: 'Back to conversations' }).click();
  await list.waitFor();
  assert.match(erin.page.url(), /\/chat$/);
  assert.ok(await erin.page.getByRole('button', { name: /Frank Desk/ }).isVisible());
  await erin.context.close();
  await frank.context.close();
});

test('a third person joins a group and reads what comes after', async () => {
  const gina = await newUser('Gina Group');
  const hank = await newUser('Hank Member');
  const ivy = await newUser('Ivy Later');
  await gina.page.getByRole('button', { name: 'New group' }).click();
  await gina.page.getByLabel('Group name').fill('Climbing trip');
  await gina.page.getByLabel('Members', { exact: true }).fill('Hank');
  await gina.page.getByRole('button', { name: '+ Hank Member' }).click();
  // An impatient double click makes one group, not two.
  await gina.page.getByRole('button', { name: 'Create group' }).dblclick();
  await gina.page.getByRole('heading', { name: 'Climbing trip' }).waitFor();
  const { rows: [groups] } = await stack.pool.query('SELECT count(*)::int AS n FROM conversations WHERE title = $1', ['Climbing trip']);
  assert.equal(groups.n, 1);
  await composerOf(gina.page).and(gina.page.locator(':enabled')).waitFor();
  await send(gina.page, 'before ivy joins');
  await hank.page.getByRole('button', { name: /Climbing trip/ }).click();
  await bubble(hank.page, 'before ivy joins').waitFor();

  await gina.page.getByRole('button', { name: 'Members' }).click();
  await gina.page.getByLabel('Add someone').fill('Ivy');
  await gina.page.getByRole('button', { name: 'Add Ivy Later' }).click();
  await gina.page.getByRole('region', { name: 'Members' }).getByText('Ivy Later').waitFor();
  await send(gina.page, 'welcome ivy');
  await ivy.page.getByRole('button', { name: /Climbing trip/ }).click();
  await bubble(ivy.page, 'welcome ivy').waitFor();
  assert.equal(await bubble(ivy.page, 'before ivy joins').count(), 0, 'nothing from before she joined');
  await send(ivy.page, 'hi all, ivy here');
  await bubble(hank.page, 'hi all, ivy here').waitFor();
  await bubble(gina.page, 'hi all, ivy here').waitFor();

  // The owner removes Hank, after a question (Escape takes it back, not the conversation): he
  // keeps what he read, read-only, and what comes next reaches Ivy only.
  const members = gina.page.getByRole('region', { name: 'Members' });
  const question = members.getByRole('group', { name: 'Remove Hank Member from this group?' });
  await members.getByRole('button', { name: 'Remove Hank Member' }).click();
  await question.waitFor();
  assert.ok(await isFocused(question.getByRole('button', { name: 'Cancel' })), 'focus on the safe answer, inside the question');
  await gina.page.keyboard.press('Escape');
  await question.waitFor({ state: 'detached' });
  await gina.page.getByRole('heading', { name: 'Climbing trip' }).waitFor();
  await gina.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Remove Hank Member');
  assert.equal(await members.getByText('Hank Member').count(), 1, 'nothing removed');
  await members.getByRole('button', { name: 'Remove Hank Member' }).click();
  await question.getByRole('button', { name: 'Remove', exact: true }).click();
  await members.getByRole('listitem').filter({ hasText: 'Hank Member' }).waitFor({ state: 'detached' });
  // Focus moves on to the next member's Remove button, not to nowhere.
  await gina.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Remove Ivy Later');
  const removedNotice = hank.page.getByRole('status').filter({ hasText: 'no longer a member' });
  await removedNotice.waitFor({ timeout: 15_000 });
  assert.equal(await composerOf(hank.page).count(), 0, 'nothing to write with');
  await bubble(hank.page, 'before ivy joins').waitFor();
  await send(gina.page, 'hank has left');
  await bubble(ivy.page, 'hank has left').waitFor();
  await hank.page.reload();
  await hank.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Climbing trip/ }).click();
  await removedNotice.waitFor();
  await bubble(hank.page, 'hi all, ivy here').waitFor();
  assert.equal(await bubble(hank.page, 'hank has left').count(), 0, 'nothing from after he was removed');

  // The group's safety number is spelled out for screen readers, like a contact's.
  await gina.page.getByRole('button', { name: 'Safety number' }).click();
  const groupNumber = gina.page.getByRole('region', { name: 'Safety number' });
  assert.match(await groupNumber.getByText(/^Safety number: /).innerText({ timeout: 15_000 }), /^Safety number: (\d \d \d \d \d, ){11}\d \d \d \d \d$/);

  // Ivy leaves, after a question that says what leaving does (Escape takes it back): she keeps
  // what she read, Gina's member list loses her, and what comes next does not reach her.
  await ivy.page.getByRole('button', { name: 'Members' }).click();
  const ivyMembers = ivy.page.getByRole('region', { name: 'Members' });
  await ivyMembers.getByRole('button', { name: 'Leave group' }).click();
  const leaveQuestion = ivyMembers.getByRole('group', { name: /^Leave Climbing trip\?/ });
  assert.match(await leaveQuestion.innerText(), /stop getting its messages on all your devices; what you read here stays on this device/);
  assert.ok(await isFocused(leaveQuestion.getByRole('button', { name: 'Cancel' })), 'focus on the safe answer, inside the question');
  await ivy.page.keyboard.press('Escape');
  await leaveQuestion.waitFor({ state: 'detached' });
  await ivy.page.waitForFunction(() => document.activeElement?.textContent === 'Leave group');
  await ivyMembers.getByRole('button', { name: 'Leave group' }).click();
  await leaveQuestion.getByRole('button', { name: 'Leave', exact: true }).click();
  const youLeft = ivy.page.getByRole('status').filter({ hasText: 'You left this group.' });
  await youLeft.waitFor({ timeout: 15_000 });
  await ivyMembers.waitFor({ state: 'detached' }); // nothing left to act on
  assert.ok(await isFocused(ivy.page.getByRole('heading', { name: 'Climbing trip' })), 'focus on the conversation, not lost (the status says what happened)');
  assert.equal(await composerOf(ivy.page).count(), 0, 'nothing to write with');
  await bubble(ivy.page, 'welcome ivy').waitFor();
  await gina.page.getByRole('button', { name: 'Members' }).click();
  await members.getByRole('listitem').filter({ hasText: 'Hank Member' }).waitFor({ state: 'detached' });
  await members.getByRole('listitem').filter({ hasText: 'Ivy Later' }).waitFor({ state: 'detached', timeout: 15_000 });
  await send(gina.page, 'ivy has gone');
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(await bubble(ivy.page, 'ivy has gone').count(), 0, 'nothing from after she left');
  await Promise.all([gina, hank, ivy].map((u) => u.context.close()));
});

test('someone who lets nobody add them to groups is not put in one, and the one trying is told why', async () => {
  const kim = await newUser('Kim Private');
  const lou = await newUser('Lou Grouper');
  await kim.page.getByLabel('Account menu').click();
  await kim.page.getByRole('button', { name: 'Privacy' }).click();
  const privacy = kim.page.getByRole('region', { name: 'Privacy' });
  await kim.page.waitForFunction(() => document.activeElement?.textContent === 'Privacy'); // focus moves to the panel
  const choices = privacy.getByRole('group', { name: 'Who can add you to groups' });
  assert.equal(await choices.getByRole('radio', { name: 'Everyone' }).isChecked(), true, 'everyone by default');
  // Arrow keys run through the choices faster than they save: the one landed on is the one saved.
  await choices.getByRole('radio', { name: 'Everyone' }).focus();
  await kim.page.keyboard.press('ArrowDown');
  await kim.page.keyboard.press('ArrowDown');
  assert.equal(await choices.getByRole('radio', { name: 'Nobody' }).isChecked(), true);
  await privacy.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  assert.equal(await choices.getByRole('radio', { name: 'Nobody' }).isChecked(), true, 'still the one landed on');
  await kim.page.screenshot({ path: `${SHOTS}privacy.png` });
  await kim.page.keyboard.press('Escape');
  await privacy.waitFor({ state: 'detached' });

  await lou.page.getByRole('button', { name: 'New group' }).click();
  await lou.page.getByLabel('Group name').fill('Surprise');
  await lou.page.getByLabel('Members', { exact: true }).fill('Kim');
  await lou.page.getByRole('button', { name: '+ Kim Private' }).click();
  await lou.page.getByRole('button', { name: 'Create group' }).click();
  const refusal = lou.page.getByRole('alert').filter({ hasText: "Kim Private doesn't let you add them to groups" });
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /You can still message them directly\./);
  await lou.page.waitForFunction(() => document.activeElement?.getAttribute('role') === 'alert'); // focus on the reason
  // Kim can be taken off the list again, which clears the refusal.
  await lou.page.getByRole('button', { name: 'Remove Kim Private' }).click();
  await refusal.waitFor({ state: 'detached' });
  const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM conversations WHERE title = $1', ['Surprise']);
  assert.equal(rows[0].n, 0);

  // After a reload the choice is still hers.
  await kim.page.reload();
  await kim.page.getByLabel('Account menu').click();
  await kim.page.getByRole('button', { name: 'Privacy' }).click();
  assert.equal(await kim.page.getByRole('radio', { name: 'Nobody' }).isChecked(), true);
  await Promise.all([kim.context.close(), lou.context.close()]);
});

test('an admin deletes a user after confirming, and cannot delete the last admin', async () => {
  assert.ok(adminPhone, 'the chat test registered the admin');
  const victim = await newUser('Victor Deleted');
  await victim.context.close();
  const context = await newContext();
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Phone number').fill(adminPhone);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Log in' }).click();
  // The admin's browser from the chat test is gone (its context closed), so no device is left to
  // link this one: it becomes the account's only device, with the password again.
  await page.getByRole('button', { name: 'Lost all your devices?' }).click();
  await page.getByLabel('Your password, to confirm').fill('correct horse battery');
  await page.getByRole('button', { name: 'Make this browser my only device' }).click();
  await page.getByRole('link', { name: 'Admin' }).click();
  await page.getByRole('heading', { name: 'Admin' }).waitFor();
  // The live counts: the chat test's people and their messages are counted, each number under
  // its term (a <dt>, read with its <dd>).
  const counts = page.getByRole('region', { name: 'Live counts' });
  const value = (term: string) => counts.getByRole('term').filter({ hasText: term }).locator('xpath=following-sibling::dd[1]');
  const count = async (term: string) => {
    const shown = value(term);
    await shown.filter({ hasText: /^[\d,]+$/ }).waitFor();
    return Number((await shown.textContent())!.replace(/,/g, ''));
  };
  assert.ok(await count('Users') >= 3, 'the admin, the victim and the chat test\'s people');
  assert.ok(await count('Messages today') >= 1, 'the chat test sent messages');
  // This browser's socket may open after the first read: the next refreshes count it.
  await value('Online now').filter({ hasText: /^[1-9]/ }).waitFor({ timeout: 15_000 });
  await page.getByLabel('Search users').fill('Victor');
  await page.getByRole('button', { name: 'Delete Victor Deleted' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Delete Victor Deleted' }).waitFor({ state: 'detached' });
  await page.getByRole('region', { name: 'Audit log' }).getByText(/user\.delete/).first().waitFor();

  await page.getByLabel('Search users').fill('Alice');
  await page.getByRole('button', { name: /Delete Alice Liddell/ }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('alert').filter({ hasText: /last admin/i }).waitFor();
  await page.getByLabel('Search users').fill('');
  await page.getByRole('button', { name: /Delete Alice Liddell/ }).waitFor();
  // Gone from the full listing too, not only from the search it was deleted from.
  await page.getByRole('button', { name: 'Delete Victor Deleted' }).waitFor({ state: 'detached', timeout: 5000 });
  await page.screenshot({ path: `${SHOTS}admin.png`, fullPage: true });
  await context.close();
});

test('a long conversation loads its newest page first and older ones when scrolled up', async () => {
  const kim = await newUser('Kim Scroller');
  const lee = await newUser('Lee Reader');
  await openChatWith(kim.page, 'Lee Reader');
  for (let i = 1; i <= 70; i += 1) await send(kim.page, `numbered message ${i}`);
  // The bubble shows once the message is in the outbox (IndexedDB). Reloading then cuts sends
  // short: what the server has not acknowledged goes out on the next connection.
  await bubble(kim.page, 'numbered message 70').waitFor();
  await kim.page.reload();
  await kim.page.getByRole('button', { name: /Lee Reader/ }).click();
  await kim.page.getByTestId('message').first().waitFor();
  await kim.page.locator('[data-status="sending"]').first().waitFor({ state: 'detached', timeout: 20_000 });

  // Open it afresh: the newest page of local history, then older ones on scrolling up.
  await kim.page.reload();
  await kim.page.getByRole('button', { name: /Lee Reader/ }).click();
  await kim.page.getByTestId('message').nth(49).waitFor();
  assert.equal(await kim.page.getByTestId('message').count(), 50, 'one page of local history');
  // A tick for a message older than the page shown (Lee reads the first one, from another of his
  // sessions) changes nothing on screen, and leaves no hole for scrolling up to skip.
  const firstSent = (await stack.pool.query(
    "SELECT m.id FROM messages m JOIN users u ON u.id = m.sender_id WHERE u.display_name = 'Kim Scroller' AND m.kind = 'app' ORDER BY m.seq LIMIT 1")).rows[0].id;
  const leeSession = await new Api(stack.baseUrl).post('/auth/login', { phone: lee.phone, password: 'correct horse battery' });
  const leeSocket = await Socket.open(stack.baseUrl, leeSession.body.token);
  leeSocket.send({ type: 'receipt', messageId: firstSent, kind: 'read' });
  const readStored = async () => (await stack.pool.query('SELECT read_at FROM receipts WHERE message_id = $1 AND read_at IS NOT NULL', [firstSent])).rowCount === 1;
  await waitFor(readStored, { timeoutMs: 10_000, intervalMs: 100, what: 'the read receipt to be stored' });
  await leeSocket.close();
  // Wait until Kim's device has recorded it (her local store, where the page's tick comes from).
  await kim.page.waitForFunction(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(`e2e-chat:${localStorage.getItem('e2e-chat:account')}`);
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const message = await new Promise<{ status: string } | undefined>((resolve) => {
      const get = db.transaction('messages').objectStore('messages').index('byId').get(id);
      get.onsuccess = () => resolve(get.result);
      get.onerror = () => resolve(undefined);
    });
    db.close();
    return message?.status === 'read';
  }, firstSent, { polling: 200, timeout: 10_000 });
  await kim.page.waitForTimeout(200); // and the page has had its render
  assert.equal(await kim.page.getByTestId('message').count(), 50, 'still the one page');
  await kim.page.getByRole('list', { name: 'Messages with Lee Reader' }).evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
  await kim.page.getByTestId('message').nth(69).waitFor();
  const texts = await kim.page.getByTestId('message').getByTestId('message-text').allInnerTexts();
  assert.deepEqual([...texts].sort(), Array.from({ length: 70 }, (_, i) => `numbered message ${i + 1}`).sort(), 'every message once, none lost in the reload');
  await bubble(kim.page, 'numbered message 1').locator('[data-status="read"]').waitFor({ timeout: 5000 });

  // Lee typing and answering re-renders Kim's screen: the older pages stay loaded.
  await lee.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Kim Scroller/ }).click();
  await composerOf(lee.page).and(lee.page.locator(':enabled')).waitFor();
  await composerOf(lee.page).fill('still scrolling?');
  await kim.page.getByTestId('typing').waitFor();
  await composerOf(lee.page).press('Enter');
  await bubble(kim.page, 'still scrolling?').waitFor();
  assert.equal(await kim.page.getByTestId('message').count(), 71, 'nothing loaded was dropped');
  await Promise.all([kim.context.close(), lee.context.close()]);
});

test('search finds a word in an old message on this device, opens its conversation at it, and sends nothing of the query', async () => {
  const uma = await newUser('Uma Searcher');
  const vic = await newUser('Vic Sender');
  await openChatWith(vic.page, 'Uma Searcher');
  const word = `quokka${crypto.randomUUID().slice(0, 6)}`;
  await send(vic.page, `did you see the ${word} at the zoo?`);
  for (let i = 1; i <= 60; i += 1) await send(vic.page, `small talk ${i}`);
  await bubble(uma.page, 'small talk 60').or(uma.page.getByRole('button', { name: /Vic Sender/ })).first().waitFor();
  await uma.page.getByRole('button', { name: /Vic Sender/ }).click();
  await bubble(uma.page, 'small talk 60').waitFor({ timeout: 30_000 });
  // Afresh, with only the newest page shown: the old message is not on screen.
  await uma.page.reload();
  await uma.page.getByRole('list', { name: 'Your conversations' }).waitFor();
  // The reload keeps the conversation open; typing starts once it is back.
  await uma.page.getByRole('heading', { name: 'Vic Sender' }).waitFor();
  const sent: string[] = [];
  uma.page.on('request', (request) => sent.push(`${request.url()} ${request.postData() ?? ''}`));
  uma.page.on('websocket', (ws) => ws.on('framesent', (frame) => sent.push(String(frame.payload))));
  await uma.page.getByLabel('Search messages on this device').fill(word.slice(0, 8).toUpperCase());
  const result = uma.page.getByTestId('message-result');
  await result.first().waitFor();
  assert.equal(await result.count(), 1);
  assert.equal(await result.locator('mark').innerText(), word, 'the matching word marked');
  assert.match(await result.innerText(), /^Vic Sender/, 'under the conversation\'s title');
  await checkAccessibility(uma.page, 'message search results');
  await uma.page.screenshot({ path: `${SHOTS}search.png` });
  await result.click();
  await uma.page.getByRole('heading', { name: 'Vic Sender' }).waitFor();
  const found = bubble(uma.page, `did you see the ${word} at the zoo?`);
  await found.waitFor();
  await uma.page.waitForFunction(() => document.activeElement?.hasAttribute('data-message-key'));
  assert.ok(await uma.page.evaluate(() => document.activeElement?.textContent?.includes('quokka')), 'focus on the message found');
  // In view, and still there a moment later: nothing loaded after the jump moves the list.
  const where = () => found.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const list = el.closest('ol')!;
    return { top: box.top, bottom: box.bottom, height: window.innerHeight, scrollTop: list.scrollTop, scrollHeight: list.scrollHeight };
  });
  const inView = (at: Awaited<ReturnType<typeof where>>) => at.top >= 0 && at.bottom <= at.height;
  const jumped = await where();
  assert.ok(await found.isVisible() && inView(jumped), `scrolled into view: ${JSON.stringify(jumped)}`);
  await uma.page.waitForTimeout(500);
  const later = await where();
  assert.ok(inView(later), `and stays there: ${JSON.stringify(later)}`);
  assert.deepEqual(sent.filter((s) => s.toLowerCase().includes(word.slice(0, 8))), [], 'no request or socket frame carried the query');
  await Promise.all([uma.context.close(), vic.context.close()]);
});

test('the conversation list shows the latest activity first, and reorders as messages come and go', async () => {
  const rosa = await newUser('Rosa Recent');
  const sam = await newUser('Sam Earlier');
  const tia = await newUser('Tia Later');
  await openChatWith(sam.page, 'Rosa Recent');
  await send(sam.page, 'first, from sam');
  await openChatWith(tia.page, 'Rosa Recent');
  await send(tia.page, 'then tia');
  const top = rosa.page.getByRole('list', { name: 'Your conversations' }).getByRole('listitem').first();
  await top.filter({ hasText: 'Tia Later' }).waitFor();

  await send(sam.page, 'sam again');
  await top.filter({ hasText: 'sam again' }).waitFor();
  await rosa.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Tia Later/ }).click();
  await send(rosa.page, 'rosa answers tia');
  await top.filter({ hasText: 'You: rosa answers tia' }).waitFor();
  await Promise.all([rosa, sam, tia].map((u) => u.context.close()));
});

test('a message the server refused says so on its bubble, and Retry sends it, once', async () => {
  const vera = await newUser('Vera Retry');
  const walt = await newUser('Walt Waiting');
  await openChatWith(vera.page, 'Walt Waiting');
  // The server's database refuses Vera's messages for now, so the server answers her send with an error.
  const { rows: [sender] } = await stack.pool.query('SELECT id FROM users WHERE phone = $1', [vera.phone]);
  await stack.pool.query(`CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
  await stack.pool.query(`CREATE TRIGGER refuse_vera BEFORE INSERT ON messages FOR EACH ROW WHEN (NEW.sender_id = '${sender.id}') EXECUTE FUNCTION refuse_for_test()`);
  await send(vera.page, 'will this get there?');
  const failed = bubble(vera.page, 'will this get there?');
  await failed.locator('[data-status="failed"]').waitFor({ timeout: 20_000 });
  const retry = failed.getByRole('button', { name: /^Not sent — Retry “/ });
  assert.ok(await retry.isVisible());

  await stack.pool.query('DROP TRIGGER refuse_vera ON messages');
  await retry.click();
  await failed.locator('[data-status="delivered"], [data-status="read"]').waitFor({ timeout: 15_000 });
  assert.equal(await vera.page.getByTestId('message').count(), 1, 'the same bubble, not a second one');
  await walt.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Vera Retry/ }).click();
  await bubble(walt.page, 'will this get there?').waitFor();
  assert.equal(await walt.page.getByTestId('message').count(), 1, 'received once');
  await Promise.all([vera.context.close(), walt.context.close()]);
});

test('two people compare safety numbers, one marks the other verified, and a new device of the other shows a notice and drops the mark', async () => {
  const ana = await newUser('Ana Verifier', { colorScheme: 'light' });
  const ben = await newUser('Ben Compared', { colorScheme: 'dark' });
  await openChatWith(ana.page, 'Ben Compared');
  await send(ana.page, 'shall we compare numbers?');
  await ben.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Ana Verifier/ }).click();
  await bubble(ben.page, 'shall we compare numbers?').waitFor();

  // Both open the panel and see the same 60 digits.
  for (const { page } of [ana, ben]) await page.getByRole('button', { name: 'Safety number' }).click();
  const digitsOn = async (page: Page) => (await page.getByTestId('safety-digits').innerText()).match(/\d{5}/g) ?? [];
  await ana.page.getByTestId('safety-digits').waitFor();
  await ben.page.getByTestId('safety-digits').waitFor();
  const compared = await digitsOn(ana.page);
  assert.equal(compared.length, 12, '12 groups of 5');
  assert.deepEqual(await digitsOn(ben.page), compared);
  const panel = ana.page.getByRole('region', { name: 'Safety number' });
  const qr = panel.getByRole('img', { name: 'QR code of the safety number with Ben Compared' });
  await qr.locator('svg').waitFor();
  assert.ok((await qr.boundingBox())!.width >= 240, 'the QR code is large enough to scan off a screen');
  // The app has no scanner: it asks to compare the digits, and says what the QR code is for.
  const explained = await panel.innerText();
  assert.doesNotMatch(explained, /scan the code/i);
  assert.match(explained, /in person or on a call/);
  assert.match(explained, /can't scan it yet/);
  assert.match(await panel.getByText(/^Safety number: /).innerText(), /^Safety number: (\d \d \d \d \d, ){11}\d \d \d \d \d$/, 'read out digit by digit');

  // Ana marks Ben verified, and it is read out.
  await panel.getByRole('button', { name: 'Mark as verified' }).click();
  await panel.getByRole('button', { name: 'Clear verification' }).waitFor();
  await panel.getByRole('status').filter({ hasText: 'You verified Ben Compared' }).waitFor();
  await ana.page.screenshot({ path: `${SHOTS}safety-number.png` });
  await ben.page.screenshot({ path: `${SHOTS}safety-number-dark.png` });

  // Ben signs in on a second browser, and links it from his first: a new device of his.
  const { context: laptop, page: second, code } = await logInAwaitingLink(ben.phone);
  await approveLink(ben.page, code);
  await second.waitForURL('**/chat');

  // Ana's conversation says so, her mark is gone, and the number is not the one compared.
  await ana.page.getByTestId('notice').filter({ hasText: "Ben Compared's devices changed. Compare safety numbers again." }).waitFor({ timeout: 20_000 });
  await panel.getByRole('button', { name: 'Mark as verified' }).waitFor({ timeout: 10_000 });
  assert.match(await panel.getByTestId('verified-state').innerText(), /not verified/);
  await ana.page.waitForFunction((before) => {
    const digits = document.querySelector('[data-testid="safety-digits"]')?.textContent ?? '';
    return digits.length > 0 && digits !== before;
  }, compared.join(''));
  await ana.page.screenshot({ path: `${SHOTS}safety-number-changed.png` });
  await Promise.all([ana.context.close(), ben.context.close(), laptop.close()]);
});

test('a second browser joins only after the first approves it by the code; the contact sees the change notice', async () => {
  const xena = await newUser('Xena Linker', { colorScheme: 'light' });
  const yuri = await newUser('Yuri Contact');
  await openChatWith(xena.page, 'Yuri Contact');
  await send(xena.page, 'only one device so far');
  await yuri.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Xena Linker/ }).click();
  await bubble(yuri.page, 'only one device so far').waitFor();

  // Xena logs in on a laptop: it shows a code and waits, and the chats are out of its reach.
  const laptop = await logInAwaitingLink(xena.phone, { colorScheme: 'dark' });
  const waiting = laptop.page.getByRole('status').filter({ hasText: 'Waiting for approval' });
  await waiting.waitFor();
  assert.match(await laptop.page.getByText(/^Code: /).innerText(), /^Code: (\w \w \w \w, ){2}\w \w \w \w$/, 'spelled out for screen readers');
  // It says the name it will have in her device list, to recognise it there.
  const label = (await laptop.page.getByTestId('link-label').innerText()).match(/^This browser will appear as (.+) on your other device\.$/)?.[1];
  assert.ok(label?.startsWith('Chrome on '), label);
  await laptop.page.screenshot({ path: `${SHOTS}link-code.png` });
  // With the server out of reach it says so, and that it keeps trying; then it waits again.
  await laptop.context.setOffline(true);
  await laptop.page.getByRole('status').filter({ hasText: "Can't reach the server — still trying" }).waitFor({ timeout: 10_000 });
  await laptop.context.setOffline(false);
  await waiting.waitFor({ timeout: 10_000 });

  // Her first browser lists the request. A wrong code links nothing and says why.
  const panel = await linkedDevices(xena.page);
  await xena.page.waitForFunction(() => document.activeElement?.textContent === 'Linked devices', null, { timeout: 5000 }); // focus moves to the panel
  await panel.getByTestId('pending-link').waitFor({ timeout: 10_000 });
  const wrong = `${laptop.code[0] === '0' ? '1' : '0'}${laptop.code.slice(1)}`;
  const codeField = panel.getByLabel('Code shown on the new browser');
  await codeField.fill(wrong);
  await panel.getByRole('button', { name: 'Continue' }).click();
  await panel.getByRole('alert').filter({ hasText: 'No browser is waiting with this code' }).waitFor();
  assert.equal(await codeField.getAttribute('aria-invalid'), 'true');
  // Typing again clears the error.
  await codeField.fill('7K3D');
  await panel.getByRole('alert').waitFor({ state: 'detached' });
  assert.equal(await codeField.getAttribute('aria-invalid'), 'false');
  await panel.getByRole('button', { name: 'Continue' }).click();
  await panel.getByRole('alert').filter({ hasText: 'A link code has 12 letters and digits' }).waitFor();
  assert.equal(await panel.getByTestId('own-device').count(), 1, 'nothing was linked');
  await new Promise((resolve) => setTimeout(resolve, 2000)); // longer than the laptop's poll
  assert.match(laptop.page.url(), /\/login$/);
  assert.ok(await waiting.isVisible(), 'the laptop still waits');
  assert.equal(await laptop.page.getByRole('list', { name: 'Your conversations' }).count(), 0, 'and shows no conversation');

  // The right code, typed as it comes (lower case, spaces for dashes), names the laptop and asks
  // first: Escape takes the question back, with the code kept; Link links it.
  const typed = laptop.code.toLowerCase().replace(/-/g, ' ');
  await codeField.fill(typed);
  await panel.getByRole('button', { name: 'Continue' }).click();
  const confirm = panel.getByRole('group', { name: new RegExp(`^Link ${label} \\(asked \\d`) });
  await confirm.waitFor();
  assert.match(await confirm.innerText(), /It will be able to read the messages you send and receive from now on\./);
  assert.ok(await isFocused(confirm.locator('#link-confirm-question')), 'focus on the question');
  await xena.page.screenshot({ path: `${SHOTS}link-confirm.png` });
  assert.equal(await panel.getByTestId('own-device').count(), 1, 'not linked before the answer');
  await xena.page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  assert.ok(await panel.isVisible(), 'the panel stays open');
  assert.ok(await isFocused(codeField), 'back at the code');
  assert.equal(await codeField.inputValue(), typed);
  await panel.getByRole('button', { name: 'Continue' }).click();
  await confirm.getByRole('button', { name: 'Link', exact: true }).click();
  await panel.getByRole('status').filter({ hasText: `Linked ${label}.` }).waitFor({ timeout: 15_000 });
  await laptop.page.waitForURL('**/chat');
  await panel.getByTestId('own-device').nth(1).waitFor();
  assert.equal(await panel.getByTestId('own-device').filter({ hasText: 'This browser' }).count(), 1);
  assert.match(await panel.getByTestId('own-device').filter({ hasText: 'This browser' }).innerText(), /To remove this browser, use Log out and forget this browser/);
  assert.equal(await panel.getByText('Not approved by your devices').count(), 0, 'both devices approved');
  assert.equal(await panel.getByTestId('pending-link').count(), 0, 'no request left');
  // Each device shows a short fingerprint of its key, which tells two of the same name apart:
  // the laptop shows the one her first browser lists for it as its own.
  await panel.getByTestId('device-fingerprint').nth(1).waitFor();
  const prints = await panel.getByTestId('device-fingerprint').allInnerTexts();
  assert.equal(prints.length, 2);
  for (const print of prints) assert.match(print, /^Key [0-9a-f]{4}( [0-9a-f]{4}){3}$/);
  assert.notEqual(prints[0], prints[1]);
  const laptopPanel = await linkedDevices(laptop.page);
  const laptopOwn = laptopPanel.getByTestId('own-device').filter({ hasText: 'This browser' }).getByTestId('device-fingerprint');
  assert.equal(await laptopOwn.innerText(), prints[1], 'the newest device is the laptop');
  await laptopPanel.getByRole('button', { name: 'Close' }).click();
  await xena.page.screenshot({ path: `${SHOTS}linked-devices.png` });
  // Escape closes the panel and gives focus back to the menu it was opened from.
  assert.ok(await isFocused(codeField), 'focus stays on the code field');
  await xena.page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached' });
  await xena.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Account menu', null, { timeout: 5000 });

  // Her first browser adds the laptop to the chat with Yuri: it opens there and writes to him.
  await laptop.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Yuri Contact/ }).click({ timeout: 15_000 });
  await composerOf(laptop.page).and(laptop.page.locator(':enabled')).waitFor({ timeout: 30_000 });
  await send(laptop.page, 'now from my laptop');
  await bubble(yuri.page, 'now from my laptop').waitFor({ timeout: 15_000 });
  assert.equal(await bubble(laptop.page, 'only one device so far').count(), 0, 'what came before is not on the new browser');
  await yuri.page.getByTestId('notice').filter({ hasText: "Xena Linker's devices changed" }).waitFor({ timeout: 20_000 });
  await laptop.page.screenshot({ path: `${SHOTS}linked-browser-chat.png` });
  await Promise.all([xena.context.close(), yuri.context.close(), laptop.context.close()]);
});

test('a declined browser says so; one whose owner lost every device starts over with the password', async () => {
  const zoe = await newUser('Zoe Careful');
  // A device the server lists but none of hers approved (as a hostile server would add one).
  const { rows: [account] } = await stack.pool.query('SELECT id FROM users WHERE phone = $1', [zoe.phone]);
  await stack.pool.query(`INSERT INTO devices (id, user_id, label, credential) VALUES (gen_random_uuid(), $1, 'Unknown tablet', decode(md5(random()::text) || md5(random()::text), 'hex'))`, [account.id]);
  // On the narrowest phone (320 px) the linking screen fits, code and all.
  const other = await logInAwaitingLink(zoe.phone, { viewport: { width: 320, height: 640 }, isMobile: true, hasTouch: true });
  assert.ok(await other.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  assert.ok(await other.page.getByTestId('link-code').evaluate((el) => el.scrollWidth <= el.clientWidth), 'the code fits its box');
  await other.page.screenshot({ path: `${SHOTS}link-code-320.png`, fullPage: true });
  const panel = await linkedDevices(zoe.page);
  const ghost = panel.getByTestId('own-device').filter({ hasText: 'Unknown tablet' });
  await ghost.getByText('Not approved by your devices').waitFor();
  assert.match(await ghost.innerText(), /You didn't approve it — remove it now\./);
  await panel.getByTestId('pending-link').waitFor({ timeout: 10_000 });
  assert.match(await panel.getByRole('region', { name: 'Waiting to be linked' }).innerText(), /someone else knows your password/);
  await panel.getByTestId('pending-link').scrollIntoViewIfNeeded();
  await zoe.page.screenshot({ path: `${SHOTS}linked-devices-request.png` });

  // Removing it asks for the password again; Escape there takes the question back, not the
  // panel; a wrong password is refused next to the field.
  const removeGhost = ghost.getByRole('button', { name: /^Remove Unknown tablet/ });
  await removeGhost.click();
  const ghostPassword = ghost.getByLabel('Your password, to remove Unknown tablet');
  assert.ok(await isFocused(ghostPassword));
  await zoe.page.keyboard.press('Escape');
  await ghostPassword.waitFor({ state: 'detached' });
  assert.ok(await panel.isVisible(), 'the panel stays open');
  await zoe.page.waitForFunction(() => document.activeElement?.getAttribute('aria-label')?.startsWith('Remove Unknown tablet') ?? false);
  await removeGhost.click();
  await ghost.getByLabel('Your password, to remove Unknown tablet').fill('not the password');
  await ghost.getByRole('button', { name: 'Remove device' }).click();
  await ghost.getByRole('alert').filter({ hasText: "not this account's password" }).waitFor();
  await ghost.getByLabel('Your password, to remove Unknown tablet').fill('correct horse battery');
  await ghost.getByRole('button', { name: 'Remove device' }).click();
  await panel.getByRole('status').filter({ hasText: 'Removed Unknown tablet.' }).waitFor();
  await ghost.waitFor({ state: 'detached' });
  // No other device to remove: focus goes to the panel's title, not to nowhere.
  await zoe.page.waitForFunction(() => document.activeElement?.textContent === 'Linked devices');
  await panel.getByRole('button', { name: /^Decline Chrome/ }).click();
  await panel.getByRole('status').filter({ hasText: /^Declined / }).waitFor();
  await panel.getByText('No browser is waiting.').waitFor();
  await zoe.page.waitForFunction(() => document.activeElement?.textContent === 'Waiting to be linked');
  assert.equal(await panel.getByRole('status').filter({ hasText: 'Removed Unknown tablet.' }).count(), 0, 'the last success goes with the next action');
  await other.page.getByRole('alert').filter({ hasText: 'declined to link this browser' }).waitFor({ timeout: 10_000 });
  assert.ok(await other.page.getByRole('button', { name: 'Log in' }).isVisible(), 'back at the log-in form');
  assert.match(other.page.url(), /\/login$/);

  // Cancel on the waiting screen: back to the form, and the request is gone from the list.
  await other.page.getByRole('button', { name: 'Log in' }).click();
  await other.page.getByRole('heading', { name: 'Link this browser' }).waitFor();
  await panel.getByTestId('pending-link').waitFor({ timeout: 10_000 });
  await other.page.getByRole('button', { name: 'Cancel' }).click();
  await other.page.getByRole('status').filter({ hasText: 'Linking was cancelled' }).waitFor({ timeout: 10_000 });
  assert.ok(await isFocused(other.page.getByRole('button', { name: 'Log in' })), 'focus on what to do next');
  await panel.getByText('No browser is waiting.').waitFor({ timeout: 10_000 });

  // Every device lost: the password again makes this browser the only device (a wrong one is refused).
  await other.page.getByRole('button', { name: 'Log in' }).click();
  await other.page.getByRole('button', { name: 'Lost all your devices?' }).click();
  const reset = other.page.locator('#reset-devices');
  assert.match(await reset.innerText(), /signed out and removed from every chat[\s\S]*contacts will see that your devices changed[\s\S]*old messages are not on this browser/);
  await reset.getByLabel('Your password, to confirm').fill('not the password');
  await reset.getByRole('button', { name: 'Make this browser my only device' }).click();
  await reset.getByRole('alert').filter({ hasText: "not this account's password" }).waitFor();
  assert.match(other.page.url(), /\/login$/, 'still waiting');
  assert.ok(await other.page.getByRole('button', { name: 'Cancel' }).isEnabled(), 'the other ways out are back after a refused reset');
  await other.page.screenshot({ path: `${SHOTS}link-reset.png` });
  await reset.getByLabel('Your password, to confirm').fill('correct horse battery');
  await reset.getByRole('button', { name: 'Make this browser my only device' }).click();
  await other.page.waitForURL('**/chat', { timeout: 15_000 });
  // The first browser was signed out (its session ended, and its device was removed), and says so.
  await zoe.page.waitForURL('**/login', { timeout: 15_000 });
  const why = zoe.page.getByRole('status').filter({ hasText: /removed from your account|ended from another device/ });
  await why.waitFor();
  if (/removed from your account/.test(await why.innerText())) assert.match(await why.innerText(), /someone may know your password/);
  await Promise.all([zoe.context.close(), other.context.close()]);
});

test('the chat route loads under 237 kB of gzipped JavaScript in a current browser', () => {
  const out = fileURLToPath(new URL('../out/', import.meta.url));
  const html = readFileSync(`${out}chat.html`, 'utf8');
  // What a browser with ES modules downloads: Next's `noModule` polyfill bundle (~39 kB gzipped)
  // is for browsers without them, and every browser the app supports skips it.
  const tags = [...html.matchAll(/<script[^>]+src="([^"]+)"[^>]*>/g)];
  const scripts = [...new Set(tags.filter((m) => !/\snomodule/i.test(m[0])).map((m) => m[1]))];
  assert.ok(scripts.length > 0);
  const gzipped = scripts.reduce((sum, src) => sum + gzipSync(readFileSync(out + src.replace(/^\//, ''))).length, 0);
  console.log(`# /chat first-load JS: ${(gzipped / 1024).toFixed(1)} kB gzipped in ${scripts.length} files`);
  assert.ok(gzipped < 237 * 1024, `${(gzipped / 1024).toFixed(1)} kB`);
});

test('while the server is away a banner says so, and what was written then goes out when it is back', async () => {
  const pia = await newUser('Pia Patient');
  const quin = await newUser('Quin Waiting');
  await openChatWith(pia.page, 'Quin Waiting');
  await send(pia.page, 'before the outage');
  // The first message of a new chat waits for Quin's device to join from its Welcome.
  await bubble(pia.page, 'before the outage').locator('[data-status="delivered"]').waitFor({ timeout: 30_000 });
  const quinsPia = quin.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Pia Patient/ });
  await quinsPia.waitFor();

  await stack.down();
  const banner = pia.page.getByRole('status').filter({ hasText: 'Connecting' });
  await banner.waitFor({ timeout: 15_000 });
  await send(pia.page, 'written while it was away');
  const pending = bubble(pia.page, 'written while it was away');
  await pending.locator('[data-status="sending"]').waitFor();
  // Quin reads while he has no connection: his read receipt waits for one. (His network stays
  // off until Pia is back: the server passes a receipt on only to a sender who is connected.)
  await quin.context.setOffline(true);
  await quin.page.getByRole('status').filter({ hasText: 'Connecting' }).waitFor({ timeout: 15_000 });
  await quinsPia.click();
  await bubble(quin.page, 'before the outage').waitFor();

  await stack.up();
  await banner.waitFor({ state: 'detached', timeout: 30_000 });
  await quin.context.setOffline(false);
  await bubble(pia.page, 'before the outage').locator('[data-status="read"]').waitFor({ timeout: 15_000 });
  await pending.locator('[data-status="delivered"], [data-status="read"]').waitFor({ timeout: 30_000 });
  await bubble(quin.page, 'written while it was away').waitFor();
  assert.equal(await quin.page.getByTestId('message').count(), 2, 'once each');
});

test('a panel whose code cannot be fetched offline says so in its place, and Retry loads it once online', async () => {
  // Without a service worker (a browser that refuses one): with it, every panel's code is cached
  // at install and opens offline (the installable-app tests below).
  const ross = await newUser('Ross Offline', { serviceWorkers: 'block' });
  const { page, context } = ross;
  // Linked devices and New group load when first opened: offline, their code does not arrive.
  await context.setOffline(true);
  await page.getByLabel('Account menu').click();
  await page.getByRole('button', { name: 'Linked devices' }).click();
  const failed = page.getByRole('alert').filter({ hasText: "Couldn't load — check your connection." });
  await failed.waitFor({ timeout: 10_000 });
  assert.ok(await isFocused(failed.getByRole('button', { name: 'Retry' })), 'focus on Retry');
  await page.getByRole('button', { name: 'New group' }).click();
  await failed.nth(1).waitFor({ timeout: 10_000 });
  assert.ok(await page.getByLabel('Find people').isVisible(), 'the rest of the page is still there');

  await context.setOffline(false);
  await failed.first().getByRole('button', { name: 'Retry' }).click();
  await page.getByRole('region', { name: 'Linked devices' }).getByRole('heading', { name: 'Linked devices' }).waitFor({ timeout: 10_000 });
  await failed.getByRole('button', { name: 'Retry' }).click();
  await page.getByLabel('Group name').waitFor({ timeout: 10_000 });
  assert.equal(await failed.count(), 0);
  await context.close();
});

test('"log out everywhere" in one browser signs the other out at once, and says why', async () => {
  const uma = await newUser('Uma Twice');
  const { context, page: other, code } = await logInAwaitingLink(uma.phone);
  await approveLink(uma.page, code);
  await other.waitForURL('**/chat');
  await other.getByLabel('Find people').waitFor();

  await uma.page.getByLabel('Account menu').click();
  await uma.page.getByRole('button', { name: 'Log out everywhere' }).click();
  await uma.page.waitForURL('**/login');
  await other.waitForURL('**/login', { timeout: 10_000 });
  await other.getByRole('status').filter({ hasText: 'ended from another device' }).waitFor();
  // Nothing is left signed in: a reload stays on the login page.
  await other.goto('/chat');
  await other.waitForURL('**/login');
  await Promise.all([uma.context.close(), context.close()]);
});

test('the keyboard alone finds someone, opens the chat, writes, and moves through the list', async () => {
  const mia = await newUser('Mia Keys');
  await newUser('Ned Keys');
  await newUser('Ola Keys');
  const focused = (locator: ReturnType<Page['locator']>) => locator.evaluate((el) => el === document.activeElement);
  const page = mia.page;

  // Search, ArrowDown into the results, ArrowDown to the next one, Enter: the composer takes focus.
  for (const name of ['Ola Keys', 'Ned Keys']) {
    await page.getByLabel('Find people').fill('Keys');
    const people = page.getByRole('list', { name: 'People' });
    await people.getByRole('button').nth(1).waitFor();
    await page.getByLabel('Find people').press('ArrowDown');
    if (name === 'Ola Keys') await page.keyboard.press('ArrowDown');
    assert.ok(await focused(people.getByRole('button', { name: new RegExp(name) })), `${name} is focused`);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name }).waitFor();
    await composerOf(page).and(page.locator(':enabled')).waitFor();
    await page.waitForFunction(() => document.activeElement?.id === 'composer');
    await page.keyboard.type(`hello ${name}`);
    await page.keyboard.press('Enter');
    await bubble(page, `hello ${name}`).waitFor();
    // Escape closes the conversation and puts focus back on it in the list.
    await page.keyboard.press('Escape');
    await page.getByText('Pick a conversation').waitFor();
    const list = page.getByRole('list', { name: 'Your conversations' });
    await page.waitForFunction((n) => document.activeElement?.textContent?.includes(n) ?? false, name);
    assert.ok(await focused(list.getByRole('button', { name: new RegExp(name) })));
  }

  // Arrow keys walk the conversation list; Enter opens the one focused.
  const list = page.getByRole('list', { name: 'Your conversations' });
  await page.keyboard.press('End');
  const last = list.getByRole('button').last();
  assert.ok(await focused(last));
  await page.keyboard.press('Home');
  assert.ok(await focused(list.getByRole('button').first()));
  await page.keyboard.press('ArrowDown');
  assert.ok(await focused(list.getByRole('button').nth(1)));
  // One Tab stop for the whole list: Shift+Tab from its second item goes to the search box above
  // it (the messages'), not to the first item, and Tab comes back to the item it left.
  await page.keyboard.press('Shift+Tab');
  assert.ok(await focused(page.getByLabel('Search messages on this device')), 'Shift+Tab leaves the list in one step');
  await page.keyboard.press('Tab');
  assert.ok(await focused(list.getByRole('button').nth(1)), 'and Tab returns to where it was');
  // The row's title, without what it says only to a screen reader (", online").
  const title = (await list.getByRole('button').nth(1).locator('span.font-medium').innerText()).replace(/\s*, online$/, '');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: title }).waitFor();
});

// Last, so that it sees what every test above did.
test('every page carries a strict Content-Security-Policy, and nothing the app does breaks it', async () => {
  for (const path of ['/', '/login', '/register', '/chat', '/admin']) {
    const policy = (await fetch(new URL(path, stack.baseUrl))).headers.get('content-security-policy') ?? '';
    const scriptSrc = policy.split(';').find((d) => d.trim().startsWith('script-src')) ?? '';
    assert.match(scriptSrc, /'self' 'sha256-/, `${path} allows scripts from this origin and its own inline ones only`);
    assert.doesNotMatch(scriptSrc, /unsafe-inline|unsafe-eval/, path);
    assert.match(policy, /frame-ancestors 'none'/, path);
  }
  // The policy is enforced and the watch over the tests above works: an injected script is refused.
  const context = await newContext();
  const page = await context.newPage();
  await page.goto('/login');
  const refused = page.waitForEvent('console', (message) => /Content Security Policy/i.test(message.text()));
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true';
    document.body.append(script);
    return (window as unknown as { injected?: boolean }).injected === true;
  });
  assert.equal(ran, false);
  await refused;
  await context.close();
  const injected = cspViolations.filter((v) => v.includes('/login'));
  assert.equal(injected.length, 1, 'the injected script was reported');
  assert.deepEqual(cspViolations.filter((v) => !injected.includes(v)), [], 'no page of the app was refused anything');
});

test('by keyboard alone from sign-up to a sent message, focus is always where the next step is', async () => {
  const peer = await newUser('Pia Keyboard');
  const context = await newContext();
  const page = await context.newPage();
  const focusedId = () => page.evaluate(() => document.activeElement?.id ?? document.activeElement?.tagName);
  const focusedName = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim() ?? '');
  await page.goto('/register');
  // The rules come before anything is typed.
  assert.match(await page.locator('#password-hint').innerText(), /At least 10 characters/);
  assert.equal(await page.getByLabel('Password').getAttribute('aria-describedby'), 'password-hint');
  // Sign up with everything wrong: every field says what is wrong at once, focus on the first.
  await page.getByLabel('Phone number').focus();
  await page.keyboard.type('555');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'displayName');
  await page.keyboard.press('Tab');
  assert.equal(await focusedId(), 'password');
  await page.keyboard.type('short');
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: '3 fields need a change.' }).waitFor();
  assert.equal(await focusedId(), 'phone', 'focus on the first field at fault');
  for (const [field, error] of [['phone', /international format/], ['displayName', /Enter the name/], ['password', /at least 10 characters \(this has 5\)/]] as const) {
    assert.match(await page.locator(`#${field}-error`).innerText(), error);
    assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true');
    assert.match((await page.locator(`#${field}`).getAttribute('aria-describedby')) ?? '', new RegExp(`${field}-error`), `${field}'s error is tied to it`);
  }
  // Fixed, field by field, then Enter: the chats open with focus in the search for people.
  await page.keyboard.press('Control+A');
  await page.keyboard.type(randomPhone());
  await page.keyboard.press('Tab');
  await page.keyboard.type('Quin Keyboard');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('correct horse battery');
  await page.keyboard.press('Enter');
  await page.waitForURL('**/chat');
  await page.waitForFunction(() => document.activeElement?.id === 'directory-search');
  // Enter in the search opens the first person found; focus goes to the composer.
  await page.keyboard.type('Pia Keyboard');
  await page.getByRole('list', { name: 'People' }).getByRole('button', { name: /Pia Keyboard/ }).waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Pia Keyboard' }).waitFor();
  await page.getByTestId('empty-conversation').filter({ hasText: 'end-to-end encrypted' }).waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'composer');
  // Enter sends and focus stays; Send by keyboard sends and focus comes back to the composer.
  await page.keyboard.type('first, with Enter');
  await page.keyboard.press('Enter');
  await bubble(page, 'first, with Enter').waitFor();
  assert.equal(await focusedId(), 'composer');
  await page.keyboard.type('second, with the Send button');
  await page.keyboard.press('Tab');
  assert.equal(await focusedName(), 'Send');
  await page.keyboard.press('Enter');
  await bubble(page, 'second, with the Send button').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'composer');
  await bubble(peer.page, 'second, with the Send button').or(peer.page.getByRole('button', { name: /Quin Keyboard/ })).first().waitFor();
  // The account menu closes on Escape, back on its button.
  await page.getByLabel('Account menu').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Privacy' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Privacy' }).waitFor({ state: 'hidden' });
  assert.equal(await focusedName(), 'Account menu');
  assert.match(page.url(), /\/chat/, 'and the conversation stays open');
  await page.getByRole('heading', { name: 'Pia Keyboard' }).waitFor();
  await Promise.all([context.close(), peer.context.close()]);
});

test('at 200% zoom nothing is cut off or out of reach, and nothing moves for someone who asked for less motion', async () => {
  // 200% of a 1280×720 window is 640×360 CSS pixels (WCAG 1.4.4, 1.4.10).
  const options = { viewport: { width: 640, height: 360 }, reducedMotion: 'reduce' as const };
  const noSidewaysScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  const visitor = await newContext(options);
  const landing = await visitor.newPage();
  await landing.goto('/');
  assert.ok(await noSidewaysScroll(landing), 'the landing page fits');
  const drift = await landing.locator('.animate-drift').first().evaluate((el) => getComputedStyle(el).animationName);
  assert.equal(drift, 'none', 'the background stands still');
  await landing.goto('/register');
  await landing.getByRole('button', { name: 'Sign up' }).scrollIntoViewIfNeeded();
  assert.ok(await noSidewaysScroll(landing), 'sign-up fits');
  await visitor.close();

  const uma = await newUser('Uma Zoom', options);
  await newUser('Vic Zoom');
  assert.ok(await noSidewaysScroll(uma.page), 'the chats fit');
  await openChatWith(uma.page, 'Vic Zoom');
  for (let i = 1; i <= 12; i += 1) await send(uma.page, `large print ${i}`);
  await bubble(uma.page, 'large print 12').waitFor();
  assert.ok(await noSidewaysScroll(uma.page), 'a conversation fits');
  // Its history scrolls inside the conversation, never the page as a whole (visually hidden text
  // in a list that scrolls once stretched the page far below the window).
  assert.ok(await uma.page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight), 'the page itself does not scroll');
  await uma.page.keyboard.press('PageDown');
  assert.equal(await uma.page.evaluate(() => window.scrollY), 0);
  for (const control of [uma.page.getByRole('button', { name: 'Send' }), uma.page.getByRole('button', { name: 'Safety number' }), uma.page.getByRole('button', { name: 'Back to conversations' })]) {
    await control.scrollIntoViewIfNeeded();
    assert.ok(await control.isVisible(), 'every control can be reached');
  }
  await uma.page.screenshot({ path: `${SHOTS}zoom-200.png` });
  await uma.context.close();
});

test('a screen reader hears who said each message and what became of it', async () => {
  const rae = await newUser('Rae Reader');
  const sam = await newUser('Sam Sender');
  await openChatWith(rae.page, 'Sam Sender');
  await send(rae.page, 'are you there');
  await sam.page.getByRole('button', { name: /Rae Reader/ }).click();
  await bubble(sam.page, 'are you there').waitFor();
  await send(sam.page, 'yes, here');
  await bubble(rae.page, 'yes, here').waitFor();
  // Sam has it open: Rae's message is read.
  await rae.page.getByRole('img', { name: 'Read' }).waitFor({ timeout: 15_000 });
  const heard = await rae.page.getByRole('list', { name: 'Messages with Sam Sender' }).ariaSnapshot();
  assert.match(heard, /You: are you there[\s\S]*img "Read"/, heard);
  assert.match(heard, /Sam Sender: yes, here/, heard);
  assert.doesNotMatch(heard, /Sam Sender: yes, here[^\n]*\n[^\n]*img "(Sent|Delivered|Read)"/, 'only one\'s own messages have a state');
  await Promise.all([rae.context.close(), sam.context.close()]);
});

/** Opens the actions menu of the message with this text, as a pointer does (hover, then ⋯). */
async function actionsOf(page: Page, text: string) {
  const message = bubble(page, text);
  await message.hover();
  await message.getByTestId('message-actions').click();
  const menu = page.getByRole('menu', { name: 'Message actions' });
  await menu.waitFor();
  return menu;
}

test('replies quote their message and go to it; reactions come and go; an edit shows as edited; a deletion for everyone leaves its place', async () => {
  const ana = await newUser('Ana Rich');
  const ben = await newUser('Ben Rich', { colorScheme: 'dark' });
  await openChatWith(ana.page, 'Ben Rich');
  sentPlaintexts.push('Lunch at noon?', 'Yes, see you there', 'Lunch at one?');
  await send(ana.page, 'Lunch at noon?');
  for (let i = 1; i <= 3; i += 1) await send(ana.page, `filler ${i}`);
  await ben.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Ana Rich/ }).click();
  await bubble(ben.page, 'filler 3').waitFor();

  // Ben replies to the question: the composer shows what he answers; the reply quotes it.
  await (await actionsOf(ben.page, 'Lunch at noon?')).getByRole('menuitem', { name: 'Reply' }).click();
  await ben.page.getByTestId('composing').filter({ hasText: 'Replying to Ana Rich' }).waitFor();
  assert.ok(await isFocused(composerOf(ben.page)), 'focus is in the composer to write the reply');
  await send(ben.page, 'Yes, see you there');
  assert.equal(await ben.page.getByTestId('composing').count(), 0, 'the reply bar goes once sent');
  const reply = bubble(ana.page, 'Yes, see you there');
  await reply.getByTestId('quote').filter({ hasText: 'Lunch at noon?' }).waitFor();
  await reply.getByTestId('quote').click();
  await waitFor(() => ana.page.evaluate(() => {
    const focused = document.activeElement as HTMLElement | null;
    return !!focused?.dataset.messageKey && focused.querySelector('[data-testid="message-text"]')?.textContent === 'Lunch at noon?';
  }), { what: 'the quoted message itself to be focused' });

  // Escape cancels a reply before it is sent.
  await (await actionsOf(ben.page, 'filler 1')).getByRole('menuitem', { name: 'Reply' }).click();
  await composerOf(ben.page).press('Escape');
  assert.equal(await ben.page.getByTestId('composing').count(), 0);
  await ben.page.getByRole('heading', { name: 'Ana Rich' }).waitFor();

  // Ana reacts to the reply by keyboard: the list, Up to the newest message, Enter for its actions.
  await ana.page.getByRole('list', { name: 'Messages with Ben Rich' }).focus();
  await ana.page.keyboard.press('ArrowUp');
  await ana.page.keyboard.press('Enter');
  await ana.page.getByRole('menu', { name: 'Message actions' }).getByRole('menuitem', { name: 'React 👍' }).click();
  const benSees = bubble(ben.page, 'Yes, see you there').getByTestId('reaction');
  await benSees.filter({ hasText: '👍 1' }).waitFor();
  assert.match(await benSees.getAttribute('aria-label') ?? '', /👍 1: Ana Rich/);
  // Any emoji from the picker, found by name, replaces it (one per person).
  await (await actionsOf(ana.page, 'Yes, see you there')).getByRole('menuitem', { name: 'More reactions…' }).click();
  await ana.page.getByLabel('Search emoji').fill('pizza');
  await ana.page.getByRole('button', { name: /🍕/ }).click();
  await benSees.filter({ hasText: '🍕 1' }).waitFor();
  assert.equal(await benSees.count(), 1, 'one reaction per person');
  // A tap on one's own reaction takes it back.
  await bubble(ana.page, 'Yes, see you there').getByTestId('reaction').click();
  await waitFor(async () => (await benSees.count()) === 0, { what: 'the reaction to go at Ben' });

  // Ana fixes her question: the composer holds its text, Save sends the edit.
  await (await actionsOf(ana.page, 'Lunch at noon?')).getByRole('menuitem', { name: 'Edit' }).click();
  // The composer takes the text on the render after the click, not within it.
  await waitFor(async () => (await composerOf(ana.page).inputValue()) === 'Lunch at noon?', { what: 'the composer to hold the text to edit' });
  await send(ana.page, 'Lunch at one?');
  const edited = bubble(ben.page, 'Lunch at one?');
  await edited.getByTestId('edited').waitFor();
  await bubble(ben.page, 'Yes, see you there').getByTestId('quote').filter({ hasText: 'Lunch at one?' }).waitFor();
  assert.equal(await (await actionsOf(ben.page, 'Lunch at one?')).getByRole('menuitem', { name: 'Edit' }).count(), 0, "nobody edits someone else's message");
  await ben.page.keyboard.press('Escape');

  // Tab leaves an open menu, which closes: the arrow keys move through the messages again.
  await (await actionsOf(ana.page, 'filler 3')).getByRole('menuitem', { name: 'Reply' }).focus();
  await ana.page.keyboard.press('Tab');
  await waitFor(async () => (await ana.page.getByTestId('message-menu').count()) === 0, { what: 'the menu to close on Tab' });
  // Delete for me asks first, then leaves focus on a neighbour, never on nothing.
  await (await actionsOf(ana.page, 'filler 1')).getByRole('menuitem', { name: 'Delete for me…' }).click();
  await ana.page.getByRole('button', { name: 'Delete for me' }).click();
  await waitFor(async () => (await bubble(ana.page, 'filler 1').count()) === 0, { what: 'filler 1 to go from Ana' });
  assert.ok(await ana.page.evaluate(() => !!(document.activeElement as HTMLElement | null)?.dataset.messageKey), 'focus is on a message');
  await bubble(ben.page, 'filler 1').waitFor();

  // And deletes a filler for everyone, after confirming.
  await (await actionsOf(ana.page, 'filler 2')).getByRole('menuitem', { name: 'Delete for everyone…' }).click();
  await ana.page.getByRole('button', { name: 'Delete for everyone' }).click();
  await ana.page.getByText('You deleted this message.').waitFor();
  await ben.page.getByText('This message was deleted.').waitFor();
  assert.equal(await bubble(ben.page, 'filler 2').count(), 0);
  await checkAccessibility(ben.page, 'a conversation with a quote, an edit and a deletion (dark)');
  await ana.page.screenshot({ path: `${SHOTS}rich-messages.png` });
  await Promise.all([ana.context.close(), ben.context.close()]);
});

/** A real PNG of `width`×`height` (a gradient with noise), made here without a library. */
function png(width: number, height: number): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const at = y * (width * 3 + 1) + 1 + x * 3;
      rows[at] = (x * 255) / width;
      rows[at + 1] = (y * 255) / height;
      rows[at + 2] = Math.random() * 255;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

test('a photo goes encrypted: its preview shows at once on the other side, then the full image after a progress bar', async () => {
  const ana = await newUser('Ana Photo');
  const ben = await newUser('Ben Photo');
  await openChatWith(ana.page, 'Ben Photo');
  await send(ana.page, 'a photo is coming');
  await ben.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Ana Photo/ }).click();
  await bubble(ben.page, 'a photo is coming').waitFor();
  // A slow network on both sides, so the progress bars are there to see.
  await ana.page.route('**/attachments/*/parts/*', async (route) => { await new Promise((r) => setTimeout(r, 1500)); await route.continue(); });
  await ben.page.route('**/attachments/*', async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    await new Promise((r) => setTimeout(r, 2000));
    await route.fulfill({ response: await route.fetch() });
  });

  const photo = png(800, 600);
  sentFiles.push(photo);
  sentPlaintexts.push('At the beach', 'a photo is coming');
  await ana.page.getByTestId('file-input').setInputFiles({ name: 'beach.png', mimeType: 'image/png', buffer: photo });
  await ana.page.getByRole('list', { name: 'Files to send' }).getByText('beach.png').waitFor();
  await composerOf(ana.page).fill('At the beach');
  await composerOf(ana.page).press('Enter');
  await ana.page.getByTestId('upload-progress').waitFor();
  const atBen = bubble(ben.page, 'At the beach');
  await atBen.getByTestId('attachment-preview').waitFor({ timeout: 20_000 });
  await atBen.getByTestId('attachment-progress').waitFor();
  await checkAccessibility(ben.page, 'a photo downloading, its preview shown');
  const full = atBen.getByTestId('attachment-image');
  await full.waitFor({ timeout: 20_000 });
  assert.equal(await full.evaluate((img: HTMLImageElement) => img.naturalWidth), 800, 'the full image, checked and decrypted');
  assert.equal(await full.getAttribute('alt'), 'Photo from Ana Photo: At the beach', 'described by who sent it and its caption');
  // The sender sees the photo as sent, with nothing to download again.
  await bubble(ana.page, 'At the beach').getByTestId('attachment-image').waitFor();
  await ben.page.screenshot({ path: `${SHOTS}photo.png` });
  await Promise.all([ana.context.close(), ben.context.close()]);
});

test('disappearing messages: one person sets a timer, both see it said, and a message disappears when it runs out', async () => {
  const ana = await newUser('Ana Timer');
  const ben = await newUser('Ben Timer');
  // Each page's clock can be moved on an hour (nothing else about time is faked).
  await Promise.all([ana.page.clock.install(), ben.page.clock.install()]);
  await Promise.all([ana.page.reload(), ben.page.reload()]);
  await openChatWith(ana.page, 'Ben Timer');
  await send(ana.page, 'this stays');
  await ben.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Ana Timer/ }).click();
  await bubble(ben.page, 'this stays').waitFor();

  await ana.page.getByTestId('timer-button').click();
  await ana.page.getByRole('radio', { name: '1 hour' }).check();
  await checkAccessibility(ana.page, 'the disappearing-messages panel');
  // Saving waits for the server (told after the members), here held until Ana has gone on to
  // write her next message, as someone quick may: the save ending must leave her keyboard there.
  let answer = () => {};
  const answered = new Promise<void>((resolve) => { answer = resolve; });
  await ana.page.route('**/conversations/*', async (route) => {
    if (route.request().method() === 'PATCH') await answered;
    await route.continue();
  });
  await ana.page.getByRole('button', { name: 'Save' }).click();
  await ben.page.getByTestId('timer-line').filter({ hasText: 'Ana Timer set messages to disappear after 1 hour' }).waitFor();
  await ben.page.getByTestId('timer-button').filter({ hasText: 'Disappearing: 1 hour' }).waitFor();
  await composerOf(ana.page).fill('this will disappear');
  answer();
  await ana.page.getByRole('heading', { name: 'Disappearing messages' }).waitFor({ state: 'detached' });
  assert.equal(await ana.page.evaluate(() => document.activeElement?.id), 'composer', 'the keyboard stays where Ana writes');
  await ana.page.keyboard.press('Enter');
  await bubble(ben.page, 'this will disappear').waitFor();

  for (const page of [ana.page, ben.page]) {
    await page.clock.fastForward('01:00:05');
    await waitFor(async () => (await bubble(page, 'this will disappear').count()) === 0, { what: 'the message to disappear' });
    await bubble(page, 'this stays').waitFor();
  }
  await Promise.all([ana.context.close(), ben.context.close()]);
});

test('after the messaging tests, neither the database nor any stored R2 object holds a text or file sent', async () => {
  assert.ok(sentPlaintexts.length >= 5 && sentFiles.length >= 1);
  await assertNoPlaintext(stack.pool, sentPlaintexts);
  const objects = stack.r2Files().map((path: string) => readFileSync(path));
  assert.ok(objects.length > 0, 'the photo is stored (as ciphertext)');
  for (const bytes of sentFiles) {
    // Any 64 bytes of the file's middle (a PNG's start is the same for every PNG).
    const sample = bytes.subarray(bytes.length >> 1, (bytes.length >> 1) + 64);
    assert.ok(!objects.some((o) => o.includes(sample)), 'no R2 object holds the file');
  }
  for (const text of sentPlaintexts) assert.ok(!objects.some((o) => o.includes(Buffer.from(text))), `no R2 object holds ${JSON.stringify(text)}`);
});

/** Width and height from a PNG's header. */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Waits until the page is controlled by an active service worker, which has cached everything. */
async function waitForServiceWorker(page: Page) {
  await waitFor(async () => page.evaluate(async () => Boolean(navigator.serviceWorker.controller)
    && (await navigator.serviceWorker.ready).active?.state === 'activated'), { what: 'an active service worker controlling the page' });
}

/** The service worker's cache for this page: its name and how many files it holds. */
async function appCache(page: Page) {
  return page.evaluate(async () => {
    const names = (await caches.keys()).filter((name) => name.startsWith('e2e-chat-'));
    return Promise.all(names.map(async (name) => ({ name, files: (await (await caches.open(name)).keys()).length })));
  });
}

test('the app installs: a valid manifest and icons, and a service worker that caches every page and asset', async () => {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto('/');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  assert.equal(href, '/manifest.webmanifest');
  const manifest = await (await page.request.get(href!)).json();
  assert.equal(manifest.name, 'E2E Chat');
  assert.equal(manifest.display, 'standalone');
  assert.equal(manifest.start_url, '/chat');
  for (const [size, purpose] of [[192, 'any'], [512, 'any'], [512, 'maskable']] as const) {
    const icon = manifest.icons.find((i: { sizes: string; purpose: string }) => i.sizes === `${size}x${size}` && i.purpose === purpose);
    assert.ok(icon, `a ${size} px ${purpose} icon`);
    const res = await page.request.get(icon.src);
    assert.equal(res.headers()['content-type'], 'image/png');
    assert.deepEqual(pngSize(await res.body()), { width: size, height: size });
  }
  // Active, controlling the page, with every page and asset of the build cached.
  await waitForServiceWorker(page);
  const sw = await (await page.request.get('/sw.js')).text();
  const precache: string[] = JSON.parse(sw.match(/^const PRECACHE = (.*);$/m)![1]);
  assert.ok(precache.includes('/chat') && precache.includes('/manifest.webmanifest') && precache.some((u) => u.startsWith('/_next/static/')));
  assert.deepEqual((await appCache(page)).map((c) => c.files), [precache.length]);
  // And Chromium's own verdict: nothing about the app stands in the way of installing it (the
  // test's browser profile is incognito-like, which Chromium also names).
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors.filter((e) => e.errorId !== 'in-incognito'), []);
  await context.close();
});

test('with the network off, a reload opens the chat with its history, and a panel opens from the cache', async () => {
  const vera = await newUser('Vera Tunnel');
  const walt = await newUser('Walt Tunnel');
  await openChatWith(vera.page, 'Walt Tunnel');
  await send(vera.page, 'see you after the tunnel');
  await walt.page.getByRole('button', { name: /Vera Tunnel/ }).click();
  await bubble(walt.page, 'see you after the tunnel').waitFor();
  await send(walt.page, 'the train is in');
  await bubble(vera.page, 'the train is in').waitFor();
  await waitForServiceWorker(vera.page);

  // No server at all (the browser's offline mode might not reach the service worker's own fetches,
  // which would hide a file it failed to cache).
  await stack.down();
  await vera.page.reload();
  await vera.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Walt Tunnel/ }).click();
  await bubble(vera.page, 'see you after the tunnel').waitFor();
  await bubble(vera.page, 'the train is in').waitFor();
  // Code loaded on demand comes from the cache too.
  await vera.page.getByRole('button', { name: 'New group' }).click();
  await vera.page.getByLabel('Group name').waitFor({ timeout: 10_000 });
  await stack.up();
  await Promise.all([vera.context.close(), walt.context.close()]);
});

test('unread messages are counted in the title', async () => {
  const xena = await newUser('Xena Title');
  const yuri = await newUser('Yuri Title');
  await openChatWith(yuri.page, 'Xena Title');
  await send(yuri.page, 'one');
  await send(yuri.page, 'two');
  let title = '';
  await waitFor(async () => (title = await xena.page.title()) === '(2) Chats · E2E Chat', { what: () => `the title to count 2 unread (it is "${title}")`, timeoutMs: 15_000 });
  await xena.page.getByRole('button', { name: /Yuri Title/ }).click();
  await bubble(xena.page, 'two').waitFor();
  await waitFor(async () => (await xena.page.title()) === 'Chats · E2E Chat', { what: 'no count with the conversation open' });
  // Read, not just open: with no conversation open the count stays at nothing.
  await xena.page.goto('/chat');
  await xena.page.getByRole('list', { name: 'Your conversations' }).getByRole('button', { name: /Yuri Title/ }).waitFor();
  await xena.page.waitForTimeout(500);
  assert.equal(await xena.page.title(), 'Chats · E2E Chat');
  await Promise.all([xena.context.close(), yuri.context.close()]);
});

test('a deploy of a new version is offered, not forced, and Reload brings it in', async () => {
  const zoe = await newUser('Zoe Update');
  const { page } = zoe;
  await waitForServiceWorker(page);
  const [before] = await appCache(page);
  // A deploy: the worker's script changes (its version with it), and the server restarts with it.
  const swPath = fileURLToPath(new URL('../out/sw.js', import.meta.url));
  const original = readFileSync(swPath, 'utf8');
  writeFileSync(swPath, original.replace(/^const VERSION = "([0-9a-f]+)(?:next)*";/m, 'const VERSION = "$1next";'));
  try {
    await stack.down();
    await stack.up();
    assert.match(await (await page.request.get('/sw.js')).text(), /^const VERSION = "[0-9a-f]+next";/m, 'the new version served');
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    const offer = page.getByRole('status').filter({ hasText: 'A new version of E2E Chat is ready.' });
    await offer.waitFor({ timeout: 15_000 });
    assert.deepEqual(await checkAccessibility(page, 'the update banner'), []);
    assert.deepEqual((await appCache(page)).map((c) => c.name).sort(), [before.name, `${before.name}next`].sort(), 'the new version cached beside the old, waiting');
    const reloaded = page.waitForEvent('load');
    await page.getByRole('button', { name: 'Reload' }).click();
    await reloaded;
    await page.getByRole('list', { name: 'Your conversations' }).or(page.getByText('Pick a conversation')).first().waitFor();
    assert.deepEqual((await appCache(page)).map((c) => c.name), [`${before.name}next`], 'only the new version is left');
  } finally {
    writeFileSync(swPath, original);
    await stack.down();
    await stack.up();
  }
  await zoe.context.close();
});

/**
 * Stands in for the browser's push service, which is out of reach here: `pushManager.subscribe`
 * answers with a subscription at the test's own push service, with keys the test holds (the test
 * decrypts what the Worker sends there, as the browser would, and hands it to the service worker
 * through the DevTools protocol, as the browser's push service would).
 */
function fakePushSubscription(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }) {
  {
    const key = 'e2e-chat:test-push-subscription';
    const make = (applicationServerKey: ArrayBuffer | null) => ({
      endpoint: subscription.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey },
      getKey: () => null,
      toJSON: () => ({ endpoint: subscription.endpoint, expirationTime: null, keys: subscription.keys }),
      unsubscribe: async () => { localStorage.removeItem(key); return true; },
    });
    const stored = () => {
      const saved = localStorage.getItem(key);
      return saved ? make(Uint8Array.from(atob(saved), (c) => c.charCodeAt(0)).buffer) : null;
    };
    PushManager.prototype.subscribe = async function (options?: PushSubscriptionOptionsInit) {
      const applicationServerKey = new Uint8Array(options!.applicationServerKey as ArrayBuffer);
      localStorage.setItem(key, btoa(String.fromCharCode(...applicationServerKey)));
      return stored() as unknown as PushSubscription;
    };
    PushManager.prototype.getSubscription = async function () {
      return stored() as unknown as PushSubscription;
    };
  }
}

/** The notifications the app's service worker shows now. */
async function shownNotifications(page: Page) {
  return page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())
    .map((n) => ({ title: n.title, body: n.body, tag: n.tag, icon: n.icon })));
}

test('a push to a closed app is decrypted on the device and shown as who wrote what; a click opens the conversation; a muted one sends none', async () => {
  const service = await new PushService().start();
  const sub = service.subscription('ben-browser');
  const ana = await newUser('Ana Notify');
  const ben = await newUser('Ben Notify');
  await ben.context.grantPermissions(['notifications'], { origin: stack.baseUrl });
  await ben.context.addInitScript(fakePushSubscription, sub.json);
  await ben.page.reload();

  await openChatWith(ana.page, 'Ben Notify');
  await send(ana.page, 'first hello');
  await ben.page.getByRole('button', { name: /Ana Notify/ }).click();
  await bubble(ben.page, 'first hello').waitFor();
  const conversationId = new URL(ben.page.url()).searchParams.get('c')!;
  await waitForServiceWorker(ben.page);

  // Ben turns notifications on, from the account menu.
  await ben.page.getByLabel('Account menu').click();
  await ben.page.getByRole('button', { name: 'Notifications' }).click();
  await ben.page.getByRole('button', { name: 'Turn on notifications' }).click();
  await ben.page.getByTestId('push-state').getByText(/^On for this browser/).waitFor();
  assert.deepEqual(await checkAccessibility(ben.page, 'the notifications panel'), []);
  const endpoints = await stack.pool.query('SELECT endpoint FROM push_subscriptions');
  assert.ok(endpoints.rows.some((r: { endpoint: string }) => r.endpoint === sub.json.endpoint), 'the server has the subscription');

  // Ben leaves the app (its home page stays open in the tab: no socket); Ana writes.
  await ben.page.goto('/');
  const text = 'are you coming tonight?';
  sentPlaintexts.push(text);
  await send(ana.page, text);
  const push = await waitFor(() => service.pushesTo(sub)[0], { timeoutMs: 15_000, what: 'a push to Ben' });
  const { plaintext, payload } = service.read(push, sub, { serverKey: stack.vapidPublicKey, subject: DEFAULT_VARS.VAPID_SUBJECT });
  assert.ok(!plaintext.includes('tonight') && !plaintext.includes('Ana'), 'the push carries neither text nor name');
  assert.equal(payload.conversationId, conversationId);

  // The browser's push service hands it to the service worker.
  const cdp = await ben.context.newCDPSession(ben.page);
  const registrations = new Promise<{ registrationId: string; scopeURL: string }[]>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: r }) => { if (r.length) resolve(r); });
  });
  await cdp.send('ServiceWorker.enable');
  const [registration] = (await registrations).filter((r) => r.scopeURL === `${stack.baseUrl}/`);
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: stack.baseUrl, registrationId: registration.registrationId, data: plaintext });
  let shown: Awaited<ReturnType<typeof shownNotifications>> = [];
  await waitFor(async () => (shown = await shownNotifications(ben.page)).length > 0, { what: 'a notification', timeoutMs: 15_000 });
  assert.deepEqual(shown.map(({ icon, ...rest }) => rest), [{ title: 'Ana Notify', body: text, tag: conversationId }]);
  // With the app's icon, which the server serves (a notification naming a person with no
  // recognisable icon looks like phishing).
  assert.equal((await ben.page.request.get(shown[0].icon)).status(), 200);

  // A click on it opens the conversation in the app's tab. (Chromium offers no way to click a
  // notification from a test: the service worker gets the event the browser would send it.)
  const worker = ben.context.serviceWorkers().find((w) => w.url().endsWith('/sw.js'))!;
  await worker.evaluate(async () => {
    const scope = self as unknown as { registration: ServiceWorkerRegistration; dispatchEvent(e: Event): boolean };
    const [notification] = await scope.registration.getNotifications();
    const NotificationEventClass = (self as unknown as { NotificationEvent: new (type: string, init: { notification: Notification }) => Event }).NotificationEvent;
    try {
      scope.dispatchEvent(new NotificationEventClass('notificationclick', { notification }));
    } catch { /* waitUntil refuses an event the test made; the handler runs regardless */ }
  });
  await ben.page.waitForURL(`**/chat?c=${conversationId}`);
  await bubble(ben.page, text).waitFor();
  await waitFor(async () => (await shownNotifications(ben.page)).length === 0, { what: 'the notification closed once opened' });

  // Ben mutes the conversation: Ana's next message sends no push at all.
  await ben.page.getByTestId('mute-button').click();
  const mutePanel = ben.page.getByRole('region', { name: 'Mute notifications' });
  await mutePanel.getByRole('radio', { name: 'Always' }).check();
  await mutePanel.getByRole('button', { name: 'Mute', exact: true }).click();
  await ben.page.getByTestId('mute-button').getByText('Muted').waitFor();
  await ben.page.goto('/');
  await send(ana.page, 'while you are muted');
  sentPlaintexts.push('while you are muted');
  await ana.page.waitForTimeout(3000);
  assert.equal(service.pushesTo(sub).length, 1, 'no push for a muted conversation');
  assert.deepEqual(await shownNotifications(ben.page), []);
  await cdp.detach();
  await Promise.all([ana.context.close(), ben.context.close()]);
  await service.stop();
});

test('every page and state passes axe (WCAG 2.2 A and AA, one h1, one main) in light, dark and on a phone', async () => {
  const looks: [string, Parameters<Browser['newContext']>[0]][] = [
    ['light', { colorScheme: 'light' }],
    ['dark', { colorScheme: 'dark' }],
    ['phone', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }],
  ];
  const found: string[] = [];
  for (const [look, options] of looks) {
    const visitor = await newContext(options);
    const page = await visitor.newPage();
    for (const path of ['/', '/register', '/login']) {
      await page.goto(path);
      await page.getByRole('heading', { level: 1 }).waitFor();
      found.push(...await checkAccessibility(page, `${path} (${look})`));
    }
    // Sign-up's errors shown, all at once.
    await page.goto('/register');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('alert').first().waitFor();
    found.push(...await checkAccessibility(page, `/register with errors (${look})`));
    await visitor.close();

    const ana = await newUser(`Ana Axe ${look}`, options);
    const ben = await newUser(`Ben Axe ${look}`, options);
    found.push(...await checkAccessibility(ana.page, `the empty chat page (${look})`));
    await openChatWith(ana.page, `Ben Axe ${look}`);
    found.push(...await checkAccessibility(ana.page, `a new conversation (${look})`));
    await send(ana.page, 'hello there');
    await ben.page.getByRole('button', { name: new RegExp(`Ana Axe ${look}`) }).click();
    await bubble(ben.page, 'hello there').waitFor();
    await send(ben.page, 'hi back');
    await bubble(ana.page, 'hi back').waitFor();
    found.push(...await checkAccessibility(ana.page, `a conversation (${look})`));
    await ana.page.getByRole('button', { name: 'Safety number' }).click();
    await ana.page.getByRole('region', { name: 'Safety number' }).getByText(/^Safety number: /).waitFor({ timeout: 15_000 });
    found.push(...await checkAccessibility(ana.page, `a contact's safety number (${look})`));
    // Whoever registered first in this database is its admin; the other is refused.
    const { rows: [first] } = await stack.pool.query('SELECT is_admin FROM users WHERE phone = $1', [ana.phone]);
    const notAdmin = first.is_admin ? ben.page : ana.page;
    await notAdmin.goto('/admin');
    await notAdmin.getByRole('alert').filter({ hasText: 'Only administrators' }).waitFor();
    found.push(...await checkAccessibility(notAdmin, `the admin page, refused (${look})`));
    await Promise.all([ana.context.close(), ben.context.close()]);
  }
  assert.deepEqual(found, [], found.join('\n'));
});

// Last: every page a test above left, checked as its context closed (see newContext). A run of
// some tests only (--test-name-pattern) skips this one: the file's after() asserts it then.
let axeAsserted = false;
test('no page any test left breaks WCAG 2.2 A or AA (axe)', () => {
  axeAsserted = true;
  assert.deepEqual(axeViolations, [], axeViolations.join('\n'));
});
after(() => {
  if (!axeAsserted) assert.deepEqual(axeViolations, [], axeViolations.join('\n'));
});
