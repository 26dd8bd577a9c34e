import { useRouter } from 'next/router';
import { useState, type FormEvent } from 'react';
import { Layout } from '../components/Layout';
import { apiFetch, readErrorMessage } from '../components/api-fetch';

/** Only a path on this site: never `//evil.example`, `https://…` or a backslash trick (no open redirect). */
function safeNextPath(value: string | string[] | undefined): string {
  return typeof value === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : '/profile';
}

export default function LoginPage() {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    try {
      const res = await apiFetch('/api/login', { method: 'POST', json: { email: form.get('email'), password: form.get('password') } });
      if (!res.ok) {
        setError(await readErrorMessage(res, 'Sign-in failed.'));
        return;
      }
      await router.push(safeNextPath(router.query.next));
    } catch {
      setError('The server could not be reached.');
    } finally {
      setPending(false);
    }
  }

  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      <form className="card" onSubmit={onSubmit}>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" defaultValue="ada@example.com" required />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <p className="muted">
          Demo account: <code>ada@example.com</code> / <code>lovelace</code>
        </p>
        <button type="submit" disabled={pending}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </Layout>
  );
}
