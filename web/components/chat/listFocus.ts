import type { KeyboardEvent } from 'react';

/**
 * Arrow keys, Home and End move focus between the buttons of a list's items, as in any list box.
 * Only one item at a time is in the Tab order (a roving tabindex: the one focused last, at first
 * the open or the first one), so Tab leaves the list in one step instead of visiting every item.
 */
export function moveFocusInList(e: KeyboardEvent<HTMLElement>) {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
  if (!keys.includes(e.key)) return;
  const items = [...e.currentTarget.querySelectorAll<HTMLButtonElement>(':scope > li > button')];
  if (items.length === 0) return;
  e.preventDefault();
  const at = items.indexOf(document.activeElement as HTMLButtonElement);
  const next = e.key === 'Home' ? 0 : e.key === 'End' ? items.length - 1
    : e.key === 'ArrowDown' ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
  items.forEach((item, i) => { item.tabIndex = i === next ? 0 : -1; });
  items[next].focus();
}
