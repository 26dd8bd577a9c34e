import Link from 'next/link';
import { Layout } from '../components/Layout';

export default function Home() {
  return (
    <Layout title="Home">
      <h1>A backend-for-frontend for Next.js</h1>
      <div className="card">
        <p>
          This app talks to its REST API through one catch-all route, <code>pages/api/[...path].ts</code>. The API token lives in an{' '}
          <strong>httpOnly cookie</strong>: JavaScript on this page cannot read it, and the proxy turns it back into the{' '}
          <code>auth-token</code> header the API expects.
        </p>
        <pre>{`browser ──/api/…──▶ catch-all route ──(streamed)──▶ API_URL
          cookie            cookie → auth-token header`}</pre>
      </div>
      <div className="card">
        <h2>Try it</h2>
        <ul>
          <li>
            <Link href="/login">Sign in</Link> as <code>ada@example.com</code> / <code>lovelace</code>
          </li>
          <li>
            <Link href="/profile">Your profile</Link>: rendered on the server, with items fetched through the proxy
          </li>
        </ul>
      </div>
    </Layout>
  );
}
