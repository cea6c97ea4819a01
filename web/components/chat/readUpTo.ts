// How far this device has read each conversation: the highest sequence number marked read, kept in
// localStorage so that unread counts survive a reload.

const READ_KEY = (id: string) => `e2e-chat:read:${id}`;

export function readUpTo(conversationId: string): number {
  return Number(localStorage.getItem(READ_KEY(conversationId)) ?? 0);
}

export function setReadUpTo(conversationId: string, seq: number): void {
  localStorage.setItem(READ_KEY(conversationId), String(seq));
}
