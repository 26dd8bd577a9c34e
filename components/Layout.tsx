import Head from 'next/head';
import Link from 'next/link';
import type { ReactNode } from 'react';

export function Layout({ title, children }: { title: string; children: ReactNode }) {
  const pageTitle = `${title} · next-bff-proxy`;
  return (
    <>
      <Head>
        <title>{pageTitle}</title>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
      </Head>
      <header className="site-header">
        <Link href="/" className="brand">
          next-bff-proxy
        </Link>
        <nav>
          <Link href="/profile">Profile</Link>
          <Link href="/login">Sign in</Link>
        </nav>
      </header>
      <main className="page">{children}</main>
    </>
  );
}
