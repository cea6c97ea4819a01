import { Chat } from '../../../components/chat/Chat.tsx';

export const metadata = { title: 'Chats · E2E Chat' };

export default function ChatPage() {
  return <Chat />;
}
