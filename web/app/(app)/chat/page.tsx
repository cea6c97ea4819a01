import { Chat } from '../../../components/chat/Chat.tsx';
import { CHATS_TITLE } from '../../../components/chat/titles.ts';

export const metadata = { title: CHATS_TITLE };

export default function ChatPage() {
  return <Chat />;
}
