/** The chat screen's title (its page's metadata), which the unread count is put in front of. */
export const CHATS_TITLE = 'Chats · E2E Chat';
