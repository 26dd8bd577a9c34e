import type { Metadata } from 'next';
import { requireSession } from '../../app-router';
import { bffOptions } from '../../bff.config';
import { SiteHeader } from '../../components/SiteHeader';
import { addItem, signOut } from './actions';
import type { Item, User } from '../../components/demo-types';

export const metadata: Metadata = { title: 'Dashboard · next-bff-proxy' };

// A server component: the user and the items come from the API, called on the server with the
// session's token (refreshed in proxy.ts first when it was about to expire). The token never reaches
// this page's HTML or its RSC payload.
export default async function DashboardPage() {
  const api = await requireSession({ returnTo: '/dashboard', apiOptions: bffOptions });
  const [{ data: me }, { data: list }] = await Promise.all([api.get<{ user: User }>('/me'), api.get<{ items: Item[] }>('/items')]);
  return (
    <>
      <SiteHeader userName={me.user.name} />
      <main className="page">
        <h1>Dashboard</h1>
        <div className="card">
          <p>
            Rendered by a server component (App Router) for <strong data-testid="user-name">{me.user.name}</strong> ({me.user.email}).
          </p>
        </div>
        <div className="card">
          <h2>Items</h2>
          {list.items.length === 0 ? (
            <p>No items yet.</p>
          ) : (
            <ul data-testid="items">
              {list.items.map((item) => (
                <li key={item.id}>{item.title}</li>
              ))}
            </ul>
          )}
          <form action={addItem} className="inline-form">
            <label htmlFor="title">New item</label>
            <input id="title" name="title" maxLength={200} required />
            <button type="submit">Add with a server action</button>
          </form>
        </div>
        <form action={signOut}>
          <button type="submit" className="secondary">
            Sign out (server action)
          </button>
        </form>
      </main>
    </>
  );
}
