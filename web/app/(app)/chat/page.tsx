import { Chat } from '../../../components/Chat.tsx';

export const metadata = { title: 'Chats · E2E Chat' };

export default function ChatPage() {
  return <Chat />;
}
