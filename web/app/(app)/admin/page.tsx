import { Admin } from '../../../components/Admin.tsx';

export const metadata = { title: 'Admin · E2E Chat' };

export default function AdminPage() {
  return <Admin />;
}
