import type { GetServerSideProps, InferGetServerSidePropsType } from 'next';
import { useRouter } from 'next/router';
import { useEffect, useState, type FormEvent } from 'react';
import { Layout } from '../components/Layout';
import { apiFetch, readErrorMessage } from '../components/api-fetch';
import { bffOptions } from '../bff.config';
import { withSession } from '../server-lib';
import type { Item, User } from '../components/demo-types';

export const getServerSideProps = withSession(
  async ({ api }) => {
    const { data } = await api.get<{ user: User }>('/me');
    return { props: { user: data.user } };
  },
  { apiOptions: bffOptions },
) satisfies GetServerSideProps<{ user: User }>;

export default function ProfilePage({ user }: InferGetServerSidePropsType<typeof getServerSideProps>) {
  const router = useRouter();
  const [items, setItems] = useState<Item[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [title, setTitle] = useState('');

  useEffect(() => {
    let active = true;
    apiFetch('/api/items')
      .then(async (res) => {
        if (!res.ok) throw new Error(await readErrorMessage(res, 'Items could not be loaded.'));
        return (await res.json()) as { items: Item[] };
      })
      .then((body) => active && setItems(body.items))
      .catch((err: unknown) => active && setError(err instanceof Error ? err.message : 'Items could not be loaded.'));
    return () => {
      active = false;
    };
  }, []);

  async function addItem(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setError(null);
    const res = await apiFetch('/api/items', { method: 'POST', json: { title } });
    if (!res.ok) {
      setError(await readErrorMessage(res, 'The item could not be added.'));
      return;
    }
    const body = (await res.json()) as { item: Item };
    setItems((current) => [...(current ?? []), body.item]);
    setTitle('');
  }

  async function logout() {
    await apiFetch('/api/logout', { method: 'POST' });
    await router.replace('/login');
  }

  return (
    <Layout title="Profile" userName={user.name}>
      <h1>Profile</h1>
      <section className="card" aria-label="Account">
        <dl>
          <dt>Name</dt>
          <dd data-testid="user-name">{user.name}</dd>
          <dt>Email</dt>
          <dd data-testid="user-email">{user.email}</dd>
        </dl>
        <p className="muted">Rendered on the server: getServerSideProps called the API directly with the cookie&apos;s token.</p>
      </section>
      <section className="card" aria-label="Items">
        <h2>Items</h2>
        {items === null ? (
          <p className="muted">Loading…</p>
        ) : items.length === 0 ? (
          <p className="muted">No items yet.</p>
        ) : (
          <ul className="items" data-testid="items">
            {items.map((item) => (
              <li key={item.id}>{item.title}</li>
            ))}
          </ul>
        )}
        <form className="row" onSubmit={addItem}>
          <div style={{ flex: 1 }}>
            <label htmlFor="title">New item</label>
            <input id="title" value={title} onChange={(event) => setTitle(event.target.value)} maxLength={200} required />
          </div>
          <button type="submit">Add</button>
        </form>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </section>
      <button type="button" className="secondary" onClick={logout}>
        Sign out
      </button>
    </Layout>
  );
}
