import { AuthForm } from '../../../components/AuthForm.tsx';

export const metadata = { title: 'Log in · E2E Chat' };

export default function LoginPage() {
  return <AuthForm mode="login" />;
}
