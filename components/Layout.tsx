import Head from 'next/head';
import type { ReactNode } from 'react';
import { SiteHeader } from './SiteHeader';

export function Layout({ title, userName, children }: { title: string; userName?: string; children: ReactNode }) {
  const pageTitle = `${title} · next-bff-proxy`;
  return (
    <>
      <Head>
        <title>{pageTitle}</title>
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
      </Head>
      <SiteHeader userName={userName} />
      <main className="page">{children}</main>
    </>
  );
}
