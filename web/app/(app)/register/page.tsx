import { AuthForm } from '../../../components/AuthForm.tsx';

export const metadata = { title: 'Sign up · E2E Chat' };

export default function RegisterPage() {
  return <AuthForm mode="register" />;
}
